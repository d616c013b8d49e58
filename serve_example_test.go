package servicemesh_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/stretchr/testify/assert"
)

// flaky serves until its context ends, except that its first two runs fail
// at once; serving is closed when its third run serves.
type flaky struct {
	runs    atomic.Int32
	serving chan struct{}
}

func (f *flaky) Name() string          { return "flaky" }
func (f *flaky) Init(servicemesh.Mesh) {}
func (f *flaky) Serve(ctx context.Context) error {
	if f.runs.Add(1) <= 2 {
		return errors.New("lost the connection")
	}
	close(f.serving)
	<-ctx.Done()
	return nil
}
func (f *flaky) RestartPolicy() servicemesh.RestartPolicy {
	return servicemesh.RestartPolicy{Backoff: time.Millisecond}
}

// A Serve that fails is restarted after a backoff, told through
// EventServiceRestarting, counted in Status, and stopped at shutdown.
func TestFlakyServeIsRestarted(t *testing.T) {
	m := meshtest.New(t)
	rec := meshtest.Record(m, servicemesh.EventServiceRestarting)
	f := &flaky{serving: make(chan struct{})}
	m.Add(f)
	meshtest.RequireReady(t, m, 5*time.Second)
	waitChan(t, f.serving, bound, "the third run serves")
	assert.Equal(t, 2, servicemesh.Status(m).Services[0].Restarts)
	assert.Len(t, rec.Names("flaky"), 2)
}

// worker fails once, then works until told to stop; serving is closed when
// it serves.
type worker struct {
	runs    atomic.Int32
	serving chan struct{}
}

func (w *worker) Name() string          { return "worker" }
func (w *worker) Init(servicemesh.Mesh) {}
func (w *worker) Serve(ctx context.Context) error {
	if w.runs.Add(1) == 1 {
		return errors.New("crashed")
	}
	fmt.Println("worker: serving")
	close(w.serving)
	<-ctx.Done()
	fmt.Println("worker: stopped")
	return nil
}

// A service implementing HasServe is supervised: the mesh runs Serve after
// Init, restarts it after a backoff when it fails, and ends it at shutdown.
func ExampleHasServe() {
	app := servicemesh.New("example")
	app.SetLogDestination(nil)
	servicemesh.SetRestartPolicy(app, servicemesh.RestartPolicy{Backoff: time.Millisecond})
	w := &worker{serving: make(chan struct{})}
	app.Add(w).Wait()
	<-w.serving // its second run, after a restart
	app.Shutdown().Wait()
	fmt.Println("restarts:", servicemesh.Status(app).Services[0].Restarts)
	// Output:
	// worker: serving
	// worker: stopped
	// restarts: 1
}
