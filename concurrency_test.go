package servicemesh_test

// Every Mesh method is safe for concurrent use (design §3, Concurrency):
// many goroutines hammer the mesh at once, shutdown included, and the
// invariants hold. Meant to be run with -race.

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hammered is a service of the concurrency test: it has a logger (and logs
// from Init), may have dependencies, and looks at the mesh from a handler.
type hammered struct {
	*base
	logs
	stops
	handlers
	removed atomic.Bool // Remove was called for it
}

type hammeredWithDeps struct {
	*hammered
	deps
}

func TestConcurrentUse(t *testing.T) {
	const (
		workers   = 8
		perWorker = 100
		meshName  = "hammered mesh"
	)
	m := newTestMesh(t, meshName)
	self := meshAsService(t, m)
	capture := newCaptureHandler(slog.LevelDebug)
	var logOut syncBuffer

	var customs atomic.Int32
	const customEvent = "concurrency test event"
	m.Events().On(customEvent, func(...any) { customs.Add(1) })

	// checkServices asserts the invariants of one Services() snapshot.
	checkServices := func(services []servicemesh.Service) {
		if !assert.NotEmpty(t, services) {
			return
		}
		assert.Same(t, self, services[0], "the mesh comes first")
		seen := make(map[servicemesh.Service]bool, len(services))
		for _, s := range services {
			if !assert.NotNil(t, s) {
				continue
			}
			assert.False(t, seen[s], "%q listed twice", s.Name())
			seen[s] = true
		}
	}

	newService := func(name string, rng *rand.Rand) (*hammered, servicemesh.Service) {
		h := &hammered{base: newBase(name)}
		h.initFn = func(servicemesh.Mesh) {
			if l := h.Logger(); assert.NotNil(t, l, "%s: SetLogger before Init", name) {
				l.Info("init", "n", 1)
				l.Debug("init details")
			}
		}
		h.handlers.hook = func(event string, _ servicemesh.Service) {
			if event == servicemesh.EventServiceAdded {
				checkServices(m.Services())
			}
		}
		if rng.IntN(3) == 0 {
			d := &hammeredWithDeps{hammered: h}
			// Depends on any other service of its kind.
			var found atomic.Bool
			d.resolvedFn = found.Load
			d.resolveFn = func(services []servicemesh.Service) {
				for _, s := range services {
					if o, ok := s.(*hammered); ok && o != h {
						found.Store(true)
					}
				}
			}
			return h, d
		}
		return h, h
	}

	type workerResult struct {
		services []*hammered
		wgs      []*sync.WaitGroup
	}
	results := make([]workerResult, workers)
	var ops atomic.Int32
	const shutdownAt = workers * perWorker * 3 / 4

	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		m.Run()
	}()

	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			res := &results[w]
			<-start
			for i := range perWorker {
				if ops.Add(1) == shutdownAt {
					res.wgs = append(res.wgs, m.Shutdown())
				}
				switch op := rng.IntN(11); op {
				case 0, 1, 2:
					h, s := newService(fmt.Sprintf("w%d-%d", w, i), rng)
					res.services = append(res.services, h)
					res.wgs = append(res.wgs, m.Add(s))
				case 3:
					if len(res.services) > 0 {
						h := res.services[rng.IntN(len(res.services))]
						h.removed.Store(true)
						// Remove what was added: the wrapper, if any.
						var target servicemesh.Service = h
						for _, s := range m.Services() {
							if d, ok := s.(*hammeredWithDeps); ok && d.hammered == h {
								target = d
							}
						}
						res.wgs = append(res.wgs, m.Remove(target))
					}
				case 4:
					checkServices(m.Services())
				case 5:
					m.SetLogLevel([]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn}[rng.IntN(3)])
				case 6:
					if rng.IntN(2) == 0 {
						m.SetLogHandler(capture)
					} else {
						m.SetLogHandler(nil)
					}
				case 7:
					if rng.IntN(2) == 0 {
						m.SetLogDestination(io.Discard)
					} else {
						m.SetLogDestination(&logOut)
					}
				case 8:
					res.wgs = append(res.wgs, m.Events().Emit(customEvent, i))
				case 9:
					if len(res.services) > 0 {
						s := res.services[rng.IntN(len(res.services))]
						res.wgs = append(res.wgs, m.Events().Emit(servicemesh.EventServiceAdded, s))
					}
				case 10:
					m.SetDependencyResolutionTimeout([]time.Duration{0, 10 * time.Second}[rng.IntN(2)])
				}
			}
		})
	}
	close(start)
	require.True(t, waitTimeout(t, &wg, 30*time.Second), "workers finished")

	// Finally, several concurrent callers of Shutdown.
	swgs := make([]*sync.WaitGroup, 4)
	var callers sync.WaitGroup
	for i := range swgs {
		callers.Go(func() { swgs[i] = m.Shutdown() })
	}
	require.True(t, waitTimeout(t, &callers, bound))
	swg := m.Shutdown()
	for _, w := range swgs {
		assert.Same(t, swg, w, "every Shutdown call returns the same WaitGroup")
	}
	require.True(t, waitTimeout(t, swg, bound), "shutdown completed")
	require.True(t, waitChan(t, runDone, bound, "Run returned"))

	var all sync.WaitGroup
	total := 0
	for _, r := range results {
		for _, w := range r.wgs {
			total++
			all.Go(w.Wait)
		}
	}
	require.True(t, waitTimeout(t, &all, bound), "all %d WaitGroups (Add, Remove, Emit, Shutdown) completed", total)

	checkServices(m.Services())
	added, initialized := 0, 0
	for _, r := range results {
		for _, h := range r.services {
			added++
			inits, stops := h.inits.Load(), h.shutdowns.Load()
			initialized += int(inits)
			assert.LessOrEqual(t, inits, int32(1), "%s: Init at most once", h.name)
			assert.LessOrEqual(t, stops, inits, "%s: OnShutdown only after Init, at most once", h.name)
			assert.LessOrEqual(t, h.sets.Load(), int32(1), "%s: SetLogger at most once", h.name)
			if inits == 1 {
				assert.Equal(t, int32(1), h.sets.Load(), "%s: SetLogger exactly once", h.name)
			}
			if inits == 1 && !h.removed.Load() {
				assert.Equal(t, int32(1), stops, "%s: an initialized service is shut down", h.name)
			}
		}
	}
	t.Logf("%d services added, %d initialized, %d WaitGroups, %d custom events",
		added, initialized, total, customs.Load())
}
