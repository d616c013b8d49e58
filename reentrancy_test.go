package servicemesh_test

// Every Mesh method may be called from inside any callback without deadlock
// (design §3, Concurrency; Shutdown). Table-driven over where the call is
// made × what is called.

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reentrant calls action once, from the callback named where: "Init",
// "OnServiceAdded" or "OnServiceInitialized" (for its own events), or
// "OnShutdown"; reentrantDeps adds "ResolveDependencies".
type reentrant struct {
	name   string
	where  string
	action func()
	once   sync.Once
	done   chan struct{} // closed once action has returned
	inits  atomic.Int32
}

func (r *reentrant) Name() string { return r.name }

func (r *reentrant) Init(servicemesh.Mesh) {
	r.inits.Add(1)
	r.fire("Init")
}

func (r *reentrant) OnServiceAdded(s servicemesh.Service) {
	if s.Name() == r.name {
		r.fire("OnServiceAdded")
	}
}

func (r *reentrant) OnServiceInitialized(s servicemesh.Service) {
	if s.Name() == r.name {
		r.fire("OnServiceInitialized")
	}
}

func (r *reentrant) OnShutdown() { r.fire("OnShutdown") }

func (r *reentrant) fire(where string) {
	if where != r.where {
		return
	}
	r.once.Do(func() {
		defer close(r.done)
		r.action()
	})
}

type reentrantDeps struct {
	*reentrant
	resolved atomic.Bool
}

func (r *reentrantDeps) DependenciesResolved() bool { return r.resolved.Load() }

func (r *reentrantDeps) ResolveDependencies([]servicemesh.Service) {
	r.fire("ResolveDependencies")
	r.resolved.Store(true)
}

func TestReentrantCalls(t *testing.T) {
	wheres := []string{"Init", "OnServiceAdded", "OnServiceInitialized", "ResolveDependencies", "OnShutdown"}

	// Each action runs inside a callback of svc and checks what it can.
	type env struct {
		t      *testing.T
		m      servicemesh.Mesh
		svc    *reentrant
		victim *base // added and initialized before svc
		inner  *base // what Add adds
		custom *atomic.Int32
	}
	const customEvent = "reentrancy test event"
	whats := []struct {
		name   string
		action func(e *env)
	}{
		{"Add.Wait", func(e *env) {
			assert.True(e.t, waitTimeout(e.t, e.m.Add(e.inner), bound), "Add(...).Wait()")
		}},
		{"Remove.Wait", func(e *env) {
			assert.True(e.t, waitTimeout(e.t, e.m.Remove(e.victim), bound), "Remove(...).Wait()")
			assert.False(e.t, listed(e.m, e.victim.name))
		}},
		{"Services", func(e *env) {
			services := e.m.Services()
			assert.Contains(e.t, names(services), e.svc.name, "the caller is listed")
		}},
		{"Events.Emit.Wait", func(e *env) {
			assert.True(e.t, waitTimeout(e.t, e.m.Events().Emit(customEvent, e.svc), bound), "Emit(...).Wait()")
			assert.Equal(e.t, int32(1), e.custom.Load(), "the listener ran before Wait returned")
		}},
		{"Shutdown", func(e *env) {
			assert.NotNil(e.t, e.m.Shutdown())
		}},
	}

	for _, where := range wheres {
		t.Run(where, func(t *testing.T) {
			for _, what := range whats {
				t.Run(what.name, func(t *testing.T) {
					m := newTestMesh(t)
					e := &env{
						t:      t,
						m:      m,
						victim: newBase("victim"),
						inner:  newBase("inner"),
						custom: new(atomic.Int32),
					}
					m.Events().On(customEvent, func(...any) { e.custom.Add(1) })
					require.True(t, waitTimeout(t, m.Add(e.victim), bound))
					e.svc = &reentrant{name: "reentrant", where: where, done: make(chan struct{})}
					e.svc.action = func() { what.action(e) }

					var svc servicemesh.Service = e.svc
					if where == "ResolveDependencies" {
						svc = &reentrantDeps{reentrant: e.svc}
					}
					addWG := m.Add(svc)
					if where != "OnShutdown" {
						require.True(t, waitChan(t, e.svc.done, bound, "the call from %s returned", where))
						require.True(t, waitTimeout(t, addWG, bound), "Add's WaitGroup")
					} else {
						require.True(t, waitTimeout(t, addWG, bound), "Add's WaitGroup")
					}
					swg := m.Shutdown()
					if where == "OnShutdown" {
						require.True(t, waitChan(t, e.svc.done, bound, "the call from OnShutdown returned"))
					}
					require.True(t, waitTimeout(t, swg, bound), "Shutdown completes")

					// Whether a service whose lifecycle has not reached Init
					// when shutdown begins is still initialized is not
					// specified.
					if what.name != "Shutdown" || where == "Init" || where == "OnServiceInitialized" {
						assert.Equal(t, int32(1), e.svc.inits.Load())
					}
					if what.name == "Add.Wait" {
						if where == "OnShutdown" {
							assert.Zero(t, e.inner.inits.Load(), "an Add during shutdown is ignored")
						} else {
							assert.Equal(t, int32(1), e.inner.inits.Load(), "the inner service was initialized")
						}
					}
				})
			}
		})
	}
}
