// Command worker shows a long-running service supervised by the mesh.
//
// The worker implements servicemesh.HasServe: after its Init, the mesh runs
// its Serve on a goroutine of the mesh's, and restarts it after a backoff
// when it returns an error or panics. This worker's first three runs crash
// (an error, a panic, an error again); the fourth works until the program
// is stopped with Ctrl+C or SIGTERM. The mesh then ends Serve's context,
// waits for Serve to return, and only then calls the worker's OnShutdown.
//
// A second service, the watcher, implements
// servicemesh.EventHandlerServiceRestarting and prints every restart with
// the error that caused it. The mesh also logs each failure, the panic with
// its stack, on stderr.
//
// The restart policy here waits 150 ms before the first restart, doubling
// each time (±10% jitter), so the worker is at work after about a second.
// The defaults are 100 ms doubling up to 15 s, and at most 5 restarts
// within 30 s; one more failure and the mesh gives up on the service and
// shuts down, so that main exits with status 1 and whatever runs the
// program can start it again.
//
// Run it from the repository root, then press Ctrl+C:
//
//	go run ./examples/worker
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gravestench/servicemesh"
)

// worker crashes in its first three runs, then works.
type worker struct {
	// runs counts Serve's runs. Only Serve uses it, and the mesh never runs
	// two Serves of one service at once, so it needs no lock.
	runs int
}

func (w *worker) Name() string          { return "worker" }
func (w *worker) Init(servicemesh.Mesh) { fmt.Println("worker: initialized") }

// Serve is run by the mesh after Init, and again after each crash.
func (w *worker) Serve(ctx context.Context) error {
	w.runs++
	fmt.Printf("worker: run %d\n", w.runs)
	switch w.runs {
	case 1:
		return errors.New("lost the connection to the queue")
	case 2:
		panic("job 7 has no payload") // recovered by the mesh, and restarted like an error
	case 3:
		return errors.New("the queue is not there yet")
	}

	fmt.Println("worker: working")
	fmt.Println("ready: press Ctrl+C or send SIGTERM to stop")
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for jobs := 0; ; {
		select {
		case <-ticker.C:
			jobs++
			fmt.Printf("worker: job %d done\n", jobs)
		case <-ctx.Done():
			// Its turn to stop: what Serve returns now is not a failure.
			fmt.Printf("worker: Serve returned after %d jobs\n", jobs)
			return nil
		}
	}
}

// OnShutdown is called once Serve has returned.
func (w *worker) OnShutdown() { fmt.Println("worker: OnShutdown") }

// watcher prints every restart of every service.
type watcher struct{}

func (*watcher) Name() string          { return "watcher" }
func (*watcher) Init(servicemesh.Mesh) {}

// OnServiceRestarting is told, before the backoff, that s's Serve failed
// with err and is about to be restarted.
func (*watcher) OnServiceRestarting(s servicemesh.Service, err error) {
	fmt.Printf("watcher: %s restarting after: %v\n", s.Name(), err)
}

func main() {
	app := servicemesh.New("worker example")

	// The mesh's policy, for services without one of their own
	// (servicemesh.HasRestartPolicy). Zero fields take the defaults: here
	// at most 5 restarts within 30 s, and 10% jitter.
	servicemesh.SetRestartPolicy(app, servicemesh.RestartPolicy{
		Backoff:    150 * time.Millisecond, // then 300 ms, 600 ms, ...
		MaxBackoff: 2 * time.Second,
	})

	app.Add(&watcher{}) // its handler is bound when Add returns, before the worker can fail
	app.Add(&worker{})

	err := servicemesh.RunContext(context.Background(), app)
	for _, s := range servicemesh.Status(app).Services {
		if s.Name == "worker" {
			fmt.Printf("main: the worker was restarted %d times; its last error: %s\n", s.Restarts, s.Error)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "main: the run failed:\n%v\n", err)
		os.Exit(1)
	}
	fmt.Println("main: stopped cleanly")
}
