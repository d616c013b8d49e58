// Command failures shows what the mesh does when a service fails for good,
// one kind of failure per run (see docs/failures.md).
//
// Every permanent failure follows one rule: the service becomes failed
// (servicemesh.StateFailed, and stays so), EventServiceFailed is told once,
// the mesh logs "service failed" at level ERROR with the step that failed
// (op=resolve, init, serve or stop) and shuts down at once, and RunContext
// returns the failure, so that main exits with status 1 and whatever runs
// the program (Kubernetes, systemd) starts it again. A mesh whose restart
// policy says KeepRunning runs on instead, and its /livez probe fails.
//
// Besides the failing service, the mesh runs a healthy one, "worker", that
// is stopped gracefully whatever happens, and a "watcher" that prints every
// EventServiceFailed. main prints each service's state once the run is over.
//
// Run it from the repository root, choosing a kind:
//
//	go run ./examples/failures -kind init-error
//
// The kinds, and how the program ends:
//
//	none             nothing fails: runs until Ctrl+C or SIGTERM, status 0
//	init-error       store's InitContext returns an error: status 1 at once
//	init-panic       store's Init panics: status 1 at once
//	start-timeout    store's Init (one without a context) outlasts the
//	                 start timeout (200 ms) and is left running: status 1
//	start-timeout-ctx
//	                 as start-timeout, with an InitContext that returns
//	                 as soon as its context ends: status 1
//	resolve-timeout  newsletter's dependency never comes (timeout 200 ms): status 1
//	serve-giveup     consumer's Serve fails every time; the mesh gives up
//	                 after 2 restarts: status 1
//	do-not-restart   consumer's Serve returns an error wrapping
//	                 servicemesh.ErrDoNotRestart: status 1 at once
//	shutdown-mesh    consumer's Serve returns an error wrapping
//	                 servicemesh.ErrShutdownMesh: no failure, but the mesh
//	                 shuts down and RunContext returns the error: status 1
//	stop-timeout     runs until Ctrl+C or SIGTERM; then cache's OnShutdown
//	                 hangs past the shutdown budget (300 ms): status 1
//	stop-error       runs until Ctrl+C or SIGTERM; then cache's
//	                 OnShutdownContext returns an error: status 1
//	slow-start       store's InitContext takes until Ctrl+C or SIGTERM: a
//	                 start cut short by the shutdown is no failure: status 0
//	keep             as init-error, with RestartPolicy{KeepRunning: true}:
//	                 the mesh runs on, /livez fails, and after Ctrl+C or
//	                 SIGTERM RunContext returns the failure: status 1
//
// With -run, main calls Run instead of RunContext: the mesh behaves the
// same and logs the failure, but Run returns nothing, so the program exits
// with status 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
)

// kinds are the values -kind accepts.
var kinds = []string{
	"none", "init-error", "init-panic", "start-timeout", "start-timeout-ctx",
	"resolve-timeout", "serve-giveup", "do-not-restart", "shutdown-mesh",
	"stop-timeout", "stop-error", "slow-start", "keep",
}

// worker is a healthy long-running service.
type worker struct{}

func (*worker) Name() string          { return "worker" }
func (*worker) Init(servicemesh.Mesh) {}
func (*worker) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil // what Serve returns once its context ended is no failure
}
func (*worker) OnShutdown() { fmt.Println("worker: stopped") }

// OnMeshReady is told once every service runs, from Run on.
func (*worker) OnMeshReady() { fmt.Println("ready: press Ctrl+C or send SIGTERM to stop") }

// watcher prints every failure the mesh tells.
type watcher struct{ failed chan<- string }

func (*watcher) Name() string          { return "watcher" }
func (*watcher) Init(servicemesh.Mesh) {}
func (w *watcher) OnServiceFailed(s servicemesh.Service, err error) {
	fmt.Printf("watcher: %s failed: %v\n", s.Name(), err)
	select {
	case w.failed <- s.Name():
	default:
	}
}

// store fails to start: its Init panics. The stores below embed it for its
// Name, and start in their own way: their own Init, or an InitContext,
// which the mesh calls instead of Init.
type store struct{}

func (*store) Name() string { return "store" }
func (*store) Init(servicemesh.Mesh) {
	panic("the store's files are corrupt")
}

// hangingStore is a store whose Init, one without a context, never
// returns: past the start timeout the mesh leaves it running.
type hangingStore struct{ store }

func (*hangingStore) Init(servicemesh.Mesh) {
	fmt.Println("store: connecting")
	select {} // a server that never answers
}

// slowStore is a store whose InitContext waits until its context ends.
type slowStore struct{ store }

func (*slowStore) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	fmt.Println("store: connecting")
	<-ctx.Done()
	return fmt.Errorf("connect: %w", context.Cause(ctx))
}

// failingStore is a store whose InitContext returns an error.
type failingStore struct{ store }

func (*failingStore) InitContext(context.Context, servicemesh.Mesh) error {
	return errors.New("open: connection refused")
}

// Mailer is what the newsletter needs; nothing provides one.
type Mailer interface{ Send(to, body string) error }

// newsletter waits for a Mailer that never comes.
type newsletter struct{ mailer Mailer }

func (*newsletter) Name() string          { return "newsletter" }
func (*newsletter) Init(servicemesh.Mesh) {}
func (n *newsletter) ResolveDependencies(services []servicemesh.Service) {
	n.mailer, _ = servicemesh.Find[Mailer](services)
}
func (n *newsletter) DependenciesResolved() bool { return n.mailer != nil }

// consumer's Serve returns err every time.
type consumer struct{ err error }

func (*consumer) Name() string                  { return "consumer" }
func (*consumer) Init(servicemesh.Mesh)         {}
func (c *consumer) Serve(context.Context) error { return c.err }

// hungCache's OnShutdown never returns.
type hungCache struct{}

func (*hungCache) Name() string          { return "cache" }
func (*hungCache) Init(servicemesh.Mesh) {}
func (*hungCache) OnShutdown() {
	fmt.Println("cache: flushing, forever")
	select {} // left behind when the shutdown's budget runs out
}

// failingCache's OnShutdownContext returns an error.
type failingCache struct{}

func (*failingCache) Name() string          { return "cache" }
func (*failingCache) Init(servicemesh.Mesh) {}
func (*failingCache) OnShutdownContext(context.Context) error {
	return errors.New("flush: disk full")
}

func main() {
	kind := flag.String("kind", "none", "what fails: "+strings.Join(kinds, ", "))
	useRun := flag.Bool("run", false, "call Run instead of RunContext (exit status 0 whatever failed)")
	flag.Parse()
	if !slices.Contains(kinds, *kind) {
		fmt.Fprintf(os.Stderr, "failures: unknown -kind %q; one of %s\n", *kind, strings.Join(kinds, ", "))
		os.Exit(2)
	}

	app := servicemesh.New("failures example")
	failed := make(chan string, 1)
	app.Add(&watcher{failed: failed})
	app.Add(&worker{})

	switch *kind {
	case "init-error":
		app.Add(&failingStore{})
	case "init-panic":
		app.Add(&store{})
	case "start-timeout":
		servicemesh.SetStartTimeout(app, 200*time.Millisecond)
		app.Add(&hangingStore{})
	case "start-timeout-ctx":
		servicemesh.SetStartTimeout(app, 200*time.Millisecond)
		app.Add(&slowStore{})
	case "slow-start":
		app.Add(&slowStore{})
	case "resolve-timeout":
		app.SetDependencyResolutionTimeout(200 * time.Millisecond)
		app.Add(&newsletter{})
	case "serve-giveup":
		servicemesh.SetRestartPolicy(app, servicemesh.RestartPolicy{
			MaxRestarts: 2, Backoff: 10 * time.Millisecond, Window: time.Minute,
		})
		app.Add(&consumer{err: errors.New("the queue went away")})
	case "do-not-restart":
		app.Add(&consumer{err: fmt.Errorf("bad credentials: %w", servicemesh.ErrDoNotRestart)})
	case "shutdown-mesh":
		app.Add(&consumer{err: fmt.Errorf("the migration is done: %w", servicemesh.ErrShutdownMesh)})
	case "stop-timeout":
		servicemesh.SetShutdownTimeout(app, 300*time.Millisecond)
		app.Add(&hungCache{})
	case "stop-error":
		app.Add(&failingCache{})
	case "keep":
		// For every kind of failure, not only a Serve given up on.
		servicemesh.SetRestartPolicy(app, servicemesh.RestartPolicy{KeepRunning: true})
		go func() {
			name := <-failed
			// What a liveness probe sees now.
			rec := httptest.NewRecorder()
			health.Handler(app).ServeHTTP(rec, httptest.NewRequest("GET", "/livez", nil))
			fmt.Printf("running: the mesh keeps running without %s; /livez answers %d; press Ctrl+C or send SIGTERM to stop\n",
				name, rec.Code)
		}()
		app.Add(&failingStore{})
	}

	if *useRun {
		app.Run() // logs each failure at level ERROR, and returns nothing
		printStates(app)
		fmt.Println("main: Run returned")
		return
	}
	err := servicemesh.RunContext(context.Background(), app)
	printStates(app)
	if err != nil {
		fmt.Fprintf(os.Stderr, "main: the run failed:\n%v\n", err)
		os.Exit(1)
	}
	fmt.Println("main: stopped cleanly")
}

// printStates prints the state each service ended in: a failure stays
// StateFailed after the shutdown.
func printStates(app servicemesh.Mesh) {
	for _, s := range servicemesh.Status(app).Services {
		fmt.Printf("main: %s is %s\n", s.Name, s.State)
	}
}
