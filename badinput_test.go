package servicemesh_test

// Bad input and misbehaving services: none may panic the caller, deadlock,
// or leave a WaitGroup that never completes (design §3, Add 1 and 5).

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addNoPanic calls m.Add(s), failing the test instead of panicking.
func addNoPanic(t *testing.T, m servicemesh.Mesh, s servicemesh.Service) *sync.WaitGroup {
	t.Helper()
	var wg *sync.WaitGroup
	if !assert.NotPanics(t, func() { wg = m.Add(s) }, "Add") {
		return new(sync.WaitGroup)
	}
	require.NotNil(t, wg, "Add returns a WaitGroup")
	return wg
}

// removeNoPanic calls m.Remove(s), failing the test instead of panicking.
func removeNoPanic(t *testing.T, m servicemesh.Mesh, s servicemesh.Service) *sync.WaitGroup {
	t.Helper()
	var wg *sync.WaitGroup
	if !assert.NotPanics(t, func() { wg = m.Remove(s) }, "Remove") {
		return new(sync.WaitGroup)
	}
	require.NotNil(t, wg, "Remove returns a WaitGroup")
	return wg
}

func TestAddNil(t *testing.T) {
	m := newTestMesh(t)
	before := m.Services()
	assert.True(t, waitTimeout(t, addNoPanic(t, m, nil), bound), "Add(nil)'s WaitGroup is done")
	assert.Equal(t, before, m.Services())
}

func TestAddTypedNilPointer(t *testing.T) {
	tests := []struct {
		name string
		svc  servicemesh.Service
	}{
		{"*base", (*base)(nil)},
		{"*withLogger", (*withLogger)(nil)},
		{"*withDepsStop", (*withDepsStop)(nil)},
		{"*probeFull", (*probeFull)(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t)
			other := newBase("other")
			assert.True(t, waitTimeout(t, addNoPanic(t, m, tc.svc), bound), "Add's WaitGroup completes")
			assert.True(t, waitTimeout(t, addNoPanic(t, m, other), bound), "the mesh goes on")
			assert.Equal(t, int32(1), other.inits.Load())
			assert.True(t, waitTimeout(t, m.Shutdown(), bound))
		})
	}
}

func TestAddSameServiceTwice(t *testing.T) {
	m := newTestMesh(t)
	entered, gate := make(chan struct{}), make(chan struct{})
	s := &withDepsStop{base: newBase("twice")}
	s.initFn = func(servicemesh.Mesh) {
		close(entered)
		<-gate
	}

	first := m.Add(s)
	require.True(t, waitChan(t, entered, bound, "Init called"))
	second := addNoPanic(t, m, s)
	assert.True(t, waitTimeout(t, second, bound), "the second WaitGroup is already done while Init runs")
	close(gate)
	require.True(t, waitTimeout(t, first, bound))

	third := addNoPanic(t, m, s)
	assert.True(t, waitTimeout(t, third, bound), "adding it again once initialized")
	assert.Equal(t, []string{"Service Mesh", "twice"}, names(m.Services()), "listed once")

	require.True(t, waitTimeout(t, m.Shutdown(), bound))
	assert.Equal(t, int32(1), s.inits.Load(), "Init runs once")
	assert.Equal(t, int32(1), s.shutdowns.Load(), "OnShutdown runs once")
}

// Services whose dynamic types are not comparable: == on them panics.

type sliceService []*atomic.Int32

func (s sliceService) Name() string                       { return "slice service" }
func (s sliceService) Init(servicemesh.Mesh)              { s[0].Add(1) }
func (s sliceService) inits() int32                       { return s[0].Load() }
func (s sliceService) OnServiceAdded(servicemesh.Service) {}

type mapStructService struct {
	name  string
	calls map[string]*atomic.Int32
}

func (s mapStructService) Name() string                       { return s.name }
func (s mapStructService) Init(servicemesh.Mesh)              { s.calls["init"].Add(1) }
func (s mapStructService) inits() int32                       { return s.calls["init"].Load() }
func (s mapStructService) OnServiceAdded(servicemesh.Service) {}

type funcService func()

func (f funcService) Name() string          { return "func service" }
func (f funcService) Init(servicemesh.Mesh) { f() }

// counterFunc is a service that is a func: Init calls it with "init", and
// inits with "get".
type counterFunc func(op string) int32

func (f counterFunc) Name() string          { return "counter func" }
func (f counterFunc) Init(servicemesh.Mesh) { f("init") }
func (f counterFunc) inits() int32          { return f("get") }

type countingService interface {
	servicemesh.Service
	inits() int32
}

type funcCounter struct {
	funcService
	n *atomic.Int32
}

func (f funcCounter) inits() int32 { return f.n.Load() }

func TestAddNonComparableServiceTwice(t *testing.T) {
	tests := []struct {
		name string
		make func() countingService
	}{
		{"slice", func() countingService { return sliceService{new(atomic.Int32)} }},
		{"struct with a map", func() countingService {
			return mapStructService{name: "map service", calls: map[string]*atomic.Int32{"init": new(atomic.Int32)}}
		}},
		{"func", func() countingService {
			var n atomic.Int32
			return counterFunc(func(op string) int32 {
				if op == "init" {
					n.Add(1)
				}
				return n.Load()
			})
		}},
		{"struct with a func", func() countingService {
			n := new(atomic.Int32)
			return funcCounter{funcService: func() { n.Add(1) }, n: n}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t)
			bus := listen(m, allServiceEvents...)
			s := tc.make()
			other := newBase("other")

			assert.True(t, waitTimeout(t, addNoPanic(t, m, s), bound), "first Add")
			assert.True(t, waitTimeout(t, addNoPanic(t, m, s), bound), "second Add")
			assert.True(t, waitTimeout(t, addNoPanic(t, m, other), bound), "the mesh goes on")
			assert.NotPanics(t, func() { m.Services() })
			// Assumption: the very same value added twice is the same
			// service, so the second Add is a duplicate.
			assert.Equal(t, int32(1), s.inits(), "Init runs once")
			assert.Equal(t, 1, strings.Count(strings.Join(names(m.Services()), "\n"), s.Name()), "listed once")
			assert.NotEmpty(t, bus.about(s.Name()))

			assert.True(t, waitTimeout(t, removeNoPanic(t, m, s), bound), "Remove")
			assert.False(t, listed(m, s.Name()), "removed")
			assert.True(t, waitTimeout(t, removeNoPanic(t, m, s), bound), "Remove again")
			assert.True(t, waitTimeout(t, m.Shutdown(), bound))
		})
	}
}

func TestRemoveUnknownOrNil(t *testing.T) {
	tests := []struct {
		name string
		svc  servicemesh.Service
	}{
		{"nil", nil},
		{"typed nil pointer", (*base)(nil)},
		{"never added", newBase("stranger")},
		{"never added, not comparable", sliceService{new(atomic.Int32)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t)
			bus := listen(m, servicemesh.EventServiceRemoved)
			require.True(t, waitTimeout(t, m.Add(newBase("member")), bound))
			before := m.Services()

			assert.True(t, waitTimeout(t, removeNoPanic(t, m, tc.svc), bound), "Remove's WaitGroup is done")
			assert.Equal(t, before, m.Services())
			require.True(t, waitTimeout(t, m.Shutdown(), bound))
			assert.Empty(t, bus.of(servicemesh.EventServiceRemoved), "nothing was removed")
		})
	}
}

func TestAddAfterShutdown(t *testing.T) {
	tests := []struct {
		name string
		wait bool
	}{
		{"shutdown begun", false},
		{"shutdown completed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t)
			bus := listen(m, allServiceEvents...)
			swg := m.Shutdown()
			if tc.wait {
				require.True(t, waitTimeout(t, swg, bound))
			}
			late := &withDepsStop{base: newBase("late")}
			assert.True(t, waitTimeout(t, addNoPanic(t, m, late), bound), "Add's WaitGroup is done")
			require.True(t, waitTimeout(t, swg, bound))

			assert.Zero(t, late.inits.Load(), "Init never called")
			assert.Zero(t, late.shutdowns.Load())
			assert.False(t, listed(m, "late"), "nothing happens")
			assert.Empty(t, bus.about("late"), "no event about it")
		})
	}
}

func TestRemoveWhileResolving(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		f := listenFailures(m)
		var hold atomic.Bool
		entered, gate := make(chan struct{}), make(chan struct{})
		s := &withDepsStop{base: newBase("resolving"), deps: deps{resolvedFn: func() bool { return false }}}
		s.resolveFn = func([]servicemesh.Service) {
			if hold.CompareAndSwap(true, false) {
				close(entered)
				<-gate
			}
		}
		addWG := m.Add(s)
		synctest.Wait() // the lifecycle now waits for dependencies
		require.NotZero(t, s.resolvedCalls.Load(), "resolution started")

		// Remove while the resolver is inside ResolveDependencies: Remove's
		// WaitGroup is done only once the resolution has ended.
		hold.Store(true)
		require.True(t, waitChan(t, entered, time.Minute, "ResolveDependencies called again"))
		removeDone := doneChan(removeNoPanic(t, m, s))
		synctest.Wait()
		assert.False(t, isDone(removeDone), "Remove's WaitGroup is done while the resolution goes on")
		assert.False(t, listed(m, "resolving"), "dropped from Services() at once")
		close(gate)

		assert.True(t, waitChan(t, removeDone, time.Minute), "Remove's WaitGroup completes")
		calls := s.resolvedCalls.Load() + s.resolveCalls.Load()
		assert.True(t, waitTimeout(t, addWG, time.Minute), "Add's WaitGroup completes")
		assert.False(t, listed(m, "resolving"))

		time.Sleep(time.Minute) // past the default resolution timeout
		assert.Equal(t, calls, s.resolvedCalls.Load()+s.resolveCalls.Load(), "no resolver call after Remove completed")
		assert.Zero(t, s.inits.Load(), "Init never runs")
		errs := f.of("resolving")
		require.Len(t, errs, 1, "one failed event")
		assert.ErrorIs(t, errs[0], servicemesh.ErrDependencyResolutionCanceled)

		require.True(t, waitTimeout(t, m.Shutdown(), time.Minute))
		assert.Zero(t, s.shutdowns.Load())
	})
}

func TestShutdownBeforeRun(t *testing.T) {
	tests := []struct {
		name string
		wait bool
	}{
		{"Run while shutdown runs", false},
		{"Run after shutdown completed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t)
			s := &withStop{base: newBase("stopper")}
			require.True(t, waitTimeout(t, m.Add(s), bound))
			swg := m.Shutdown()
			if tc.wait {
				require.True(t, waitTimeout(t, swg, bound))
			}
			runDone := make(chan struct{})
			go func() {
				defer close(runDone)
				m.Run()
			}()
			assert.True(t, waitChan(t, runDone, bound, "Run returns"))
			assert.True(t, waitTimeout(t, swg, bound))
			assert.Equal(t, int32(1), s.shutdowns.Load())
		})
	}
}

func TestConcurrentShutdownReturnsOneWaitGroup(t *testing.T) {
	m := newTestMesh(t)
	s := &withStop{base: newBase("stopper")}
	require.True(t, waitTimeout(t, m.Add(s), bound))

	const callers = 32
	got := make([]*sync.WaitGroup, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			got[i] = m.Shutdown()
		})
	}
	close(start)
	require.True(t, waitTimeout(t, &wg, bound))
	for i := range got {
		assert.Same(t, got[0], got[i], "caller %d", i)
	}
	assert.Same(t, got[0], m.Shutdown())
	assert.True(t, waitTimeout(t, got[0], bound))
	assert.Equal(t, int32(1), s.shutdowns.Load())
}

func TestPanickingInit(t *testing.T) {
	m := newTestMesh(t)
	// Kept running: a panicking Init fails the run otherwise (DESIGN §8).
	require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
	var out syncBuffer
	m.SetLogDestination(&out)
	bus := listen(m, servicemesh.EventServiceInitialized)

	bad := &withStop{base: newBase("bad init")}
	bad.initFn = func(servicemesh.Mesh) { panic("init boom") }
	good := &withStop{base: newBase("good")}

	assert.True(t, waitTimeout(t, addNoPanic(t, m, bad), bound), "Add's WaitGroup completes after a panic in Init")
	assert.True(t, waitTimeout(t, addNoPanic(t, m, good), bound), "the mesh goes on")
	require.True(t, waitTimeout(t, m.Shutdown(), bound))

	assert.Equal(t, int32(1), bad.inits.Load())
	assert.Zero(t, bad.shutdowns.Load(), "a service whose Init panicked is not shut down")
	assert.Equal(t, int32(1), good.inits.Load())
	assert.Equal(t, int32(1), good.shutdowns.Load())
	assert.Empty(t, bus.about("bad init"), "a service whose Init panicked is not initialized")
	assert.Len(t, bus.about("good"), 1)

	logged := out.String()
	assert.Contains(t, logged, "init boom", "the panic is logged")
	assert.Contains(t, logged, "TestPanickingInit", "with its stack")
}

func TestPanickingOnShutdown(t *testing.T) {
	m := newTestMesh(t)
	rec := &recorder{}
	var all []*withDepsStop
	var prev servicemesh.Service
	for _, name := range []string{"first", "panics", "last"} {
		s := &withDepsStop{base: newBase(name)}
		s.holds, prev = prev, s // each holds the one before: stopped in turn
		s.onShutdown = func() {
			rec.add(name)
			if name == "panics" {
				panic("shutdown boom")
			}
		}
		all = append(all, s)
		require.True(t, waitTimeout(t, m.Add(s), bound))
	}
	plain := &withStop{base: newBase("plain")}
	plain.onShutdown = func() { panic(errors.New("plain boom")) }
	require.True(t, waitTimeout(t, m.Add(plain), bound))

	assert.True(t, waitTimeout(t, m.Shutdown(), bound), "shutdown completes")
	assert.Equal(t, []string{"last", "panics", "first"}, rec.list(), "the others are still stopped")
	for _, s := range all {
		assert.Equal(t, int32(1), s.shutdowns.Load(), s.name)
	}
	assert.Equal(t, int32(1), plain.shutdowns.Load())
}

var errResolverBoom = errors.New("resolver boom")

func TestPanickingResolver(t *testing.T) {
	tests := []struct {
		name  string
		value any
		// resolve panics in ResolveDependencies, otherwise in
		// DependenciesResolved.
		resolve bool
	}{
		{"ResolveDependencies", "resolve boom", true},
		{"ResolveDependencies with an error", errResolverBoom, true},
		{"DependenciesResolved", "resolved boom", false},
		{"DependenciesResolved with an error", errResolverBoom, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newTestMesh(t)
				f := listenFailures(m)
				s := &withDepsStop{base: newBase("panicky")}
				if tc.resolve {
					s.resolvedFn = func() bool { return false }
					s.resolveFn = func([]servicemesh.Service) { panic(tc.value) }
				} else {
					s.resolvedFn = func() bool { panic(tc.value) }
				}

				start := time.Now()
				assert.True(t, waitTimeout(t, addNoPanic(t, m, s), time.Minute), "Add's WaitGroup completes")
				assert.Less(t, time.Since(start), 50*time.Millisecond, "the failure is immediate, not a timeout")

				errs := f.of("panicky")
				require.Len(t, errs, 1, "one failed event")
				require.Error(t, errs[0], "the failed event carries an error")
				assert.Contains(t, errs[0].Error(), fmt.Sprint(tc.value), "the error carries the panic value")
				assert.NotErrorIs(t, errs[0], servicemesh.ErrDependencyResolutionTimeout)
				if err, ok := tc.value.(error); ok {
					// Assumption: "carries" includes errors.Is for an error value.
					assert.ErrorIs(t, errs[0], err)
				}

				// Not retried: neither later nor when the mesh changes.
				resolved, resolve := s.resolvedCalls.Load(), s.resolveCalls.Load()
				require.True(t, waitTimeout(t, m.Add(newBase("change")), time.Minute))
				time.Sleep(time.Minute)
				assert.Equal(t, resolved, s.resolvedCalls.Load(), "DependenciesResolved is not called again")
				assert.Equal(t, resolve, s.resolveCalls.Load(), "ResolveDependencies is not called again")
				if tc.resolve {
					assert.Equal(t, int32(1), resolve, "ResolveDependencies called once")
				} else {
					assert.Equal(t, int32(1), resolved, "DependenciesResolved called once")
				}

				require.True(t, waitTimeout(t, m.Shutdown(), time.Minute))
				assert.Zero(t, s.inits.Load(), "never initialized")
				assert.Zero(t, s.shutdowns.Load())
			})
		})
	}
}

func TestPanickingEventHandler(t *testing.T) {
	m := newTestMesh(t)
	var out syncBuffer
	m.SetLogDestination(&out)
	rude := &withHandlersStop{base: newBase("rude")}
	rude.hook = func(event string, _ servicemesh.Service) { panic("handler boom: " + event) }
	polite := &withStop{base: newBase("polite")}
	victim := newBase("victim")

	assert.True(t, waitTimeout(t, addNoPanic(t, m, rude), bound), "its own lifecycle goes on")
	assert.True(t, waitTimeout(t, addNoPanic(t, m, polite), bound), "others' lifecycles go on")
	assert.True(t, waitTimeout(t, addNoPanic(t, m, victim), bound))
	assert.True(t, waitTimeout(t, m.Events().Emit(servicemesh.EventServiceAdded, polite), bound), "a hand-made event")
	assert.True(t, waitTimeout(t, m.Remove(victim), bound), "Remove completes")

	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		m.Run()
	}()
	m.Shutdown()
	assert.True(t, waitChan(t, runDone, bound, "Run returns"))
	assert.True(t, waitTimeout(t, m.Shutdown(), bound))

	assert.Equal(t, int32(1), rude.inits.Load())
	assert.Equal(t, int32(1), rude.shutdowns.Load())
	assert.Equal(t, int32(1), polite.inits.Load())
	assert.Equal(t, int32(1), polite.shutdowns.Load())
	assert.Contains(t, out.String(), "handler boom", "the panic is logged")
}

func TestSetLogDestinationNil(t *testing.T) {
	m := newTestMesh(t)
	s := &withLogger{base: newBase("quiet")}
	require.True(t, waitTimeout(t, m.Add(s), bound))
	assert.NotPanics(t, func() {
		m.SetLogDestination(nil)
		m.SetLogLevel(slog.LevelDebug)
		s.Logger().Info("into the void")
		m.SetLogHandler(nil) // default text handler, still on the discarding destination
		s.Logger().Error("still nowhere")
		assert.True(t, waitTimeout(t, m.Add(newBase("chatter")), bound))
	})
}

func TestSetLogHandlerNil(t *testing.T) {
	m := newTestMesh(t)
	var out syncBuffer
	s := &withLogger{base: newBase("defaulted")}
	require.True(t, waitTimeout(t, m.Add(s), bound))
	assert.NotPanics(t, func() {
		m.SetLogHandler(nil) // on a mesh that never had a custom handler
		m.SetLogDestination(&out)
		m.SetLogHandler(nil)
		s.Logger().Info("after nil")
	})
	assert.Contains(t, out.String(), "after nil")
	m.SetLogDestination(io.Discard)
}
