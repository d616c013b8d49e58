package servicemesh_test

// What a service costs while it waits and while it runs (DESIGN §7): a
// service waiting on its dependencies costs at most 1 KB of heap and no
// goroutine of its own (10,000 waiting: at most 100 goroutines in the
// whole mesh); a running service costs at most 512 B beyond the service
// itself.

import (
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bounds of DESIGN §7.
const (
	fpWaitingBytes    = 1024 // per waiting service
	fpRunningBytes    = 512  // per running service, beyond the service
	fpGoroutinesBound = 100  // in the whole mesh, however many wait
	fpServices        = 10_000
	// fpBatch services are added between two waits for the mesh to
	// settle: the lifecycle of a service with dependencies begins on a
	// goroutine of its own, and the race detector allows at most 8128 at
	// once.
	fpBatch = 1000
)

// fpWaiter is a legacy resolver that never resolves: it waits for
// something no service provides.
type fpWaiter struct{ name string }

func (s *fpWaiter) Name() string                              { return s.name }
func (s *fpWaiter) Init(servicemesh.Mesh)                     {}
func (s *fpWaiter) DependenciesResolved() bool                { return false }
func (s *fpWaiter) ResolveDependencies([]servicemesh.Service) {}

// fpPlain is a service that only initializes.
type fpPlain struct{ name string }

func (s *fpPlain) Name() string          { return s.name }
func (s *fpPlain) Init(servicemesh.Mesh) {}

// fpCost is what n services cost once settled.
type fpCost struct {
	bytes      float64 // heap per service
	goroutines int     // goroutines more than before they were added
}

// fpMeasure adds the services mk makes to m, calling settle after each
// batch and before measuring, and returns what they cost beyond
// themselves. The services are made before the first reading.
func fpMeasure(m servicemesh.Mesh, n int, mk func(name string) servicemesh.Service, settle func()) fpCost {
	svcs := make([]servicemesh.Service, n)
	for i := range svcs {
		svcs[i] = mk("s" + strconv.Itoa(i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	for i, s := range svcs {
		m.Add(s)
		if (i+1)%fpBatch == 0 {
			settle()
		}
	}
	settle()
	runtime.GC()
	runtime.ReadMemStats(&after)
	cost := fpCost{
		bytes:      (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n),
		goroutines: runtime.NumGoroutine() - g0,
	}
	runtime.KeepAlive(svcs)
	return cost
}

func fpWaiting(name string) servicemesh.Service { return &fpWaiter{name: name} }
func fpRunning(name string) servicemesh.Service { return &fpPlain{name: name} }

// Ten thousand services waiting on a dependency that never comes are
// records: no goroutine each, at most 1 KB each.
func TestFootprintOfWaitingServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		cost := fpMeasure(m, fpServices, fpWaiting, synctest.Wait)
		st := servicemesh.Status(m)
		require.Len(t, st.Services, fpServices)
		for _, s := range st.Services {
			if !assert.Equal(t, servicemesh.StateResolving, s.State, s.Name) {
				break
			}
		}
		assert.LessOrEqual(t, runtime.NumGoroutine(), fpGoroutinesBound, "waiting services hold no goroutine")
		assert.LessOrEqual(t, cost.bytes, float64(fpWaitingBytes), "heap per waiting service")
		t.Logf("%d waiting services: %.0f B each, %d goroutines more", fpServices, cost.bytes, cost.goroutines)
		m.Shutdown().Wait()
		for _, s := range servicemesh.Status(m).Services {
			if !assert.Equal(t, servicemesh.StateStopped, s.State, "a canceled wait leaves %s stopped", s.Name) {
				break
			}
		}
	})
}

// A running service costs at most 512 B beyond itself.
func TestFootprintOfRunningServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		cost := fpMeasure(m, fpServices, fpRunning, synctest.Wait)
		require.True(t, servicemesh.Ready(m), "every service is running")
		assert.LessOrEqual(t, cost.bytes, float64(fpRunningBytes), "heap per running service")
		t.Logf("%d running services: %.0f B each", fpServices, cost.bytes)
		m.Shutdown().Wait()
	})
}

// fpLogged is a service with a logger from the mesh.
type fpLogged struct {
	fpPlain
	logger *slog.Logger
}

func (s *fpLogged) SetLogger(l *slog.Logger) { s.logger = l }
func (s *fpLogged) Logger() *slog.Logger     { return s.logger }

// fpStartAllocs bounds the allocations of one service's whole cycle with a
// logger (added, initialized, stopped; S1 of the benchmarks) when nobody
// listens to its events: its entry and its logger, and a share of the
// mesh's own.
const fpStartAllocs = 3

// The whole cycle of a service with a logger costs at most fpStartAllocs
// allocations beyond the service itself.
func TestFootprintAllocationsPerService(t *testing.T) {
	const n = 1000
	svcs := make([]*fpLogged, n)
	for i := range svcs {
		svcs[i] = &fpLogged{fpPlain: fpPlain{name: "s" + strconv.Itoa(i)}}
	}
	wgs := make([]*sync.WaitGroup, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := servicemesh.New(t.Name())
	m.SetLogDestination(io.Discard)
	for i, s := range svcs {
		wgs[i] = m.Add(s)
	}
	for _, wg := range wgs {
		wg.Wait()
	}
	m.Shutdown().Wait()
	runtime.ReadMemStats(&after)
	perService := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%.2f allocations per service", perService)
	assert.LessOrEqual(t, perService, float64(fpStartAllocs)+0.5, "allocations per service, the mesh's own spread over %d", n)
}

// BenchmarkFootprint reports the heap per service (B/service) and the
// goroutines more than before (goroutines) of fpServices services waiting
// on a dependency that never comes, and of as many running ones. The
// ns/op means nothing.
func BenchmarkFootprint(b *testing.B) {
	for _, c := range []struct {
		name string
		mk   func(string) servicemesh.Service
		want servicemesh.State
	}{
		{"waiting", fpWaiting, servicemesh.StateResolving},
		{"running", fpRunning, servicemesh.StateRunning},
	} {
		b.Run(c.name, func(b *testing.B) {
			var bytes float64
			goroutines := 0
			for range b.N {
				m := servicemesh.New(b.Name())
				m.SetLogDestination(nil)
				cost := fpMeasure(m, fpServices, c.mk, func() { fpSettle(b, m, c.want) })
				bytes += cost.bytes
				goroutines = max(goroutines, cost.goroutines)
				m.Shutdown().Wait()
			}
			b.ReportMetric(bytes/float64(b.N), "B/service")
			b.ReportMetric(float64(goroutines), "goroutines")
		})
	}
}

// fpSettle waits, at most a minute, until every service of m is in the
// state want and the number of goroutines stays put for a millisecond.
func fpSettle(b *testing.B, m servicemesh.Mesh, want servicemesh.State) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		settled := true
		for _, s := range servicemesh.Status(m).Services {
			if s.State != want {
				settled = false
				break
			}
		}
		g := runtime.NumGoroutine()
		time.Sleep(time.Millisecond) // a benchmark's settling, not a test's synchronization
		if settled && runtime.NumGoroutine() == g {
			return
		}
	}
	b.Fatalf("the services did not settle in %v", want)
}
