package servicemesh_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// changeLog keeps what a subscriber was told.
type changeLog struct {
	mu  sync.Mutex
	all []servicemesh.Change
}

func (l *changeLog) add(c servicemesh.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, c)
}

// steps returns the steps of the service named name, as "from→to".
func (l *changeLog) steps(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.all {
		if c.Service == name {
			out = append(out, c.From.String()+"→"+c.To.String())
		}
	}
	return out
}

// mesh returns the states told of the mesh itself.
func (l *changeLog) mesh() []servicemesh.MeshState {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []servicemesh.MeshState
	for _, c := range l.all {
		if c.Service == "" && c.Err == nil {
			out = append(out, c.Mesh)
		}
	}
	return out
}

func (l *changeLog) errOf(name string, to servicemesh.State) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.all {
		if c.Service == name && c.To == to {
			return c.Err
		}
	}
	return nil
}

// A subscriber is told every step of every service, in order, with the
// error of a failure and of a Serve's failure before its restart, and the
// mesh's own states from not ready to stopped.
func TestSubscribeTellsEveryStepInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true, Backoff: time.Second, Jitter: -1}))
		var log changeLog
		cancel := servicemesh.Subscribe(m, log.add)
		defer cancel()
		synctest.Wait() // an empty mesh is ready
		flaky := frServer{&frSvc{name: "flaky"}}
		flaky.serve = func(ctx context.Context) error {
			if flaky.serves.Load() == 1 {
				return errFR
			}
			<-ctx.Done()
			return nil
		}
		m.Add(&frResolver{name: "waits"})
		m.Add(&frSvc{name: "db"})
		m.Add(&frSvc{name: "broken", initCtx: func(context.Context) error { return errFR }})
		m.Add(flaky)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		m.Shutdown().Wait()

		assert.Equal(t, []string{"added→starting", "starting→running", "running→stopping", "stopping→stopped"}, log.steps("db"))
		assert.Equal(t, []string{"added→resolving", "resolving→stopped"}, log.steps("waits"), "cut short by the shutdown")
		assert.Equal(t, []string{"added→starting", "starting→failed"}, log.steps("broken"))
		assert.ErrorIs(t, log.errOf("broken", servicemesh.StateFailed), errFR)
		var se *servicemesh.ServiceError
		assert.ErrorAs(t, log.errOf("broken", servicemesh.StateFailed), &se)
		assert.Equal(t, []string{"added→starting", "starting→running", "running→backing off", "backing off→running",
			"running→stopping", "stopping→stopped"}, log.steps("flaky"))
		assert.ErrorIs(t, log.errOf("flaky", servicemesh.StateBackingOff), errFR)
		assert.Equal(t, []servicemesh.MeshState{servicemesh.MeshReady, servicemesh.MeshNotReady, servicemesh.MeshShuttingDown, servicemesh.MeshStopped},
			log.mesh(), "ready while empty, then never again: a service failed (kept running)")
	})
}

// The mesh's readiness is told whenever it changes, before Run too, also
// when a HasReadiness service turns ready on its own.
func TestSubscribeTellsTheMeshsReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		var log changeLog
		servicemesh.Subscribe(m, log.add)
		synctest.Wait() // an empty mesh is ready
		r := &readyLater{name: "r"}
		m.Add(r).Wait()
		synctest.Wait()
		assert.Equal(t, []servicemesh.MeshState{servicemesh.MeshReady, servicemesh.MeshNotReady}, log.mesh())
		start := time.Now()
		r.ready.Store(true)
		for len(log.mesh()) < 3 && time.Since(start) < time.Minute {
			time.Sleep(10 * time.Millisecond)
		}
		assert.LessOrEqual(t, time.Since(start), time.Second+50*time.Millisecond, "noticed within the health-check cache period")
		m.Add(&frSvc{name: "late", initCtx: func(ctx context.Context) error { <-ctx.Done(); return nil }})
		synctest.Wait()
		m.Shutdown().Wait()
		assert.Equal(t, []servicemesh.MeshState{servicemesh.MeshReady, servicemesh.MeshNotReady, servicemesh.MeshReady,
			servicemesh.MeshNotReady, servicemesh.MeshShuttingDown, servicemesh.MeshStopped}, log.mesh())
	})
}

// readyLater is ready once told.
type readyLater struct {
	name  string
	ready atomic.Bool
}

func (r *readyLater) Name() string          { return r.name }
func (r *readyLater) Init(servicemesh.Mesh) {}
func (r *readyLater) Ready() bool           { return r.ready.Load() }

// A subscriber that falls more than 10,000 changes behind is told how many
// it lost, and never holds the mesh up; one that panics gets the next
// change; cancel stops the calls, may be called twice and from fn.
func TestSubscribeBadSubscribers(t *testing.T) {
	t.Run("falls behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := frMesh(t)
			release := make(chan struct{})
			var log changeLog
			var first sync.Once
			servicemesh.Subscribe(m, func(c servicemesh.Change) {
				first.Do(func() { <-release })
				log.add(c)
			})
			for i := range 6000 { // 2 steps each before the release: 12,000, a few taken before it blocks
				m.Add(&frSvc{name: fmt.Sprint("s", i)}).Wait()
			}
			synctest.Wait()
			close(release)
			m.Shutdown().Wait()
			var lost error
			told := 0
			log.mu.Lock()
			for _, c := range log.all {
				if c.Err != nil && errors.Is(c.Err, servicemesh.ErrChangesLost) {
					lost = c.Err
				} else {
					told++
				}
			}
			log.mu.Unlock()
			require.Error(t, lost)
			assert.GreaterOrEqual(t, told, 10_000)
			assert.Regexp(t, `changes lost: \d+$`, lost.Error())
		})
	})
	t.Run("panics", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := frMesh(t)
			var calls atomic.Int32
			servicemesh.Subscribe(m, func(servicemesh.Change) {
				calls.Add(1)
				panic("subscriber boom")
			})
			m.Add(&frSvc{name: "a"}).Wait()
			synctest.Wait()
			assert.GreaterOrEqual(t, calls.Load(), int32(2), "called again after its panic")
			m.Shutdown().Wait()
		})
	})
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := frMesh(t)
			var calls atomic.Int32
			var cancel func()
			assigned := make(chan struct{}) // closed once cancel is set
			cancel = servicemesh.Subscribe(m, func(servicemesh.Change) {
				calls.Add(1)
				<-assigned
				cancel() // from fn
			})
			close(assigned)
			m.Add(&frSvc{name: "a"}).Wait()
			synctest.Wait()
			assert.Equal(t, int32(1), calls.Load())
			cancel()
			m.Add(&frSvc{name: "b"}).Wait()
			synctest.Wait()
			assert.Equal(t, int32(1), calls.Load())
			m.Shutdown().Wait()
		})
	})
	t.Run("foreign mesh, nil fn, stopped mesh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			servicemesh.Subscribe(nil, func(servicemesh.Change) {})()
			m := frMesh(t)
			servicemesh.Subscribe(m, nil)()
			m.Shutdown().Wait()
			called := false
			cancel := servicemesh.Subscribe(m, func(servicemesh.Change) { called = true })
			cancel()
			synctest.Wait()
			assert.False(t, called)
		})
	})
}

func TestMeshStateNames(t *testing.T) {
	for s, name := range map[servicemesh.MeshState]string{
		servicemesh.MeshNotReady: "not ready", servicemesh.MeshReady: "ready",
		servicemesh.MeshShuttingDown: "shutting down", servicemesh.MeshStopped: "stopped", 9: "MeshState(9)",
	} {
		assert.Equal(t, name, s.String())
		b, err := s.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, name, string(b))
	}
}
