package servicemesh_test

// Conformance of the mesh to sections 2 and 3 of the design contract
// (shared/DESIGN.md), through the public API only.

import (
	"fmt"
	"log/slog"
	"slices"
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

func TestNewJoinsNamesWithASpace(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"no name", nil, "Service Mesh"},
		{"one part", []string{"app"}, "app"},
		{"two parts", []string{"my", "app"}, "my app"},
		{"three parts", []string{"a", "b c", "d"}, "a b c d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t, tc.parts...)
			self := meshAsService(t, m)
			assert.Equal(t, tc.want, self.Name())

			services := m.Services()
			require.NotEmpty(t, services, "the mesh lists itself")
			assert.Same(t, self, services[0], "the mesh is first in Services()")
			assert.Equal(t, tc.want, services[0].Name())
		})
	}
}

func TestEventNamesErrorsAndAliases(t *testing.T) {
	tests := []struct{ got, want string }{
		{servicemesh.EventServiceAdded, "service added"},
		{servicemesh.EventServiceRemoved, "service removed"},
		{servicemesh.EventServiceInitialized, "service initialized"},
		{servicemesh.EventServiceEventsBound, "service events bound"},
		{servicemesh.EventServiceLoggerBound, "service logger bound"},
		{servicemesh.EventRuntimeRunLoopInitiated, "runtime begin"},
		{servicemesh.EventRuntimeShutdownInitiated, "runtime shutdown"},
		{servicemesh.EventDependencyResolutionStarted, "runtime dependency resolution start"},
		{servicemesh.EventDependencyResolutionEnded, "runtime dependency resolution end"},
		{servicemesh.EventDependencyResolutionFailed, "runtime dependency resolution failed"},
		{servicemesh.EventServiceMeshRunLoopInitiated, servicemesh.EventRuntimeRunLoopInitiated},
		{servicemesh.EventServiceMeshShutdownInitiated, servicemesh.EventRuntimeShutdownInitiated},
		{servicemesh.ErrDependencyResolutionTimeout.Error(), "dependency resolution timed out"},
		{servicemesh.ErrDependencyResolutionCanceled.Error(), "dependency resolution canceled"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.got)
	}
}

func TestServicesInOrderAddedAndACopy(t *testing.T) {
	m := newTestMesh(t, "ordered")
	self := meshAsService(t, m)
	a, b, c := newBase("a"), &withDeps{base: newBase("b")}, &withLogger{base: newBase("c")}
	for _, s := range []servicemesh.Service{a, b, c} {
		require.True(t, waitTimeout(t, m.Add(s), bound))
	}

	got := m.Services()
	want := []servicemesh.Service{self, a, b, c}
	require.Equal(t, want, got)

	// Changing the returned slice must not change the mesh.
	got[1] = nil
	got[2], got[3] = got[3], got[2]
	_ = append(got[:1], newBase("intruder"))
	assert.Equal(t, want, m.Services())

	// Each call returns a fresh copy.
	x, y := m.Services(), m.Services()
	x[0] = nil
	assert.Same(t, self, y[0])
}

// lifecycleCase builds a service that records its own lifecycle, as seen by
// its handler interfaces and Init, into rec.
type lifecycleCase struct {
	name  string
	build func(rec *recorder) servicemesh.Service
	// fail makes the service's dependencies unresolvable (with a short
	// resolution timeout).
	fail bool
	want []string
}

func TestLifecycleEventOrder(t *testing.T) {
	const (
		bound    = servicemesh.EventServiceEventsBound
		logger   = servicemesh.EventServiceLoggerBound
		added    = servicemesh.EventServiceAdded
		started  = servicemesh.EventDependencyResolutionStarted
		ended    = servicemesh.EventDependencyResolutionEnded
		failed   = servicemesh.EventDependencyResolutionFailed
		initd    = servicemesh.EventServiceInitialized
		initCall = "Init"
	)
	never := func() bool { return false }
	tests := []lifecycleCase{
		{
			name: "plain",
			build: func(rec *recorder) servicemesh.Service {
				return &probePlain{base: &base{name: "plain", rec: rec}, handlers: handlers{self: "plain", rec: rec}}
			},
			want: []string{bound, added, initCall, initd},
		},
		{
			name: "logger",
			build: func(rec *recorder) servicemesh.Service {
				return &probeLogger{base: &base{name: "logger", rec: rec}, handlers: handlers{self: "logger", rec: rec}}
			},
			want: []string{bound, logger, added, initCall, initd},
		},
		{
			name: "dependencies",
			build: func(rec *recorder) servicemesh.Service {
				return &probeDeps{base: &base{name: "dependencies", rec: rec}, handlers: handlers{self: "dependencies", rec: rec}}
			},
			want: []string{bound, added, started, ended, initCall, initd},
		},
		{
			name: "logger and dependencies",
			build: func(rec *recorder) servicemesh.Service {
				return &probeFull{base: &base{name: "logger and dependencies", rec: rec}, handlers: handlers{self: "logger and dependencies", rec: rec}}
			},
			want: []string{bound, logger, added, started, ended, initCall, initd},
		},
		{
			name: "unresolvable dependencies",
			build: func(rec *recorder) servicemesh.Service {
				return &probeDeps{
					base:     &base{name: "unresolvable dependencies", rec: rec},
					handlers: handlers{self: "unresolvable dependencies", rec: rec},
					deps:     deps{resolvedFn: never},
				}
			},
			fail: true,
			want: []string{bound, added, started, failed},
		},
		{
			name: "logger and unresolvable dependencies",
			build: func(rec *recorder) servicemesh.Service {
				return &probeFull{
					base:     &base{name: "logger and unresolvable dependencies", rec: rec},
					handlers: handlers{self: "logger and unresolvable dependencies", rec: rec},
					deps:     deps{resolvedFn: never},
				}
			},
			fail: true,
			want: []string{bound, logger, added, started, failed},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newTestMesh(t)
				if tc.fail {
					m.SetDependencyResolutionTimeout(100 * time.Millisecond)
				}
				bus := listen(m, allServiceEvents...)
				rec := &recorder{}
				svc := tc.build(rec)

				require.True(t, waitTimeout(t, m.Add(svc), time.Minute), "Add's WaitGroup")
				// Once shutdown has completed no mesh goroutine remains, so
				// every event about the service has been delivered.
				require.True(t, waitTimeout(t, m.Shutdown(), time.Minute), "Shutdown's WaitGroup")

				// As observed by the service itself.
				got := without(rec.list(), servicemesh.EventRuntimeRunLoopInitiated, servicemesh.EventRuntimeShutdownInitiated)
				assert.Equal(t, tc.want, got, "events seen by the service's handler interfaces, and Init")

				// As observed by a listener on the bus.
				seen := bus.about(svc.Name())
				assert.Equal(t, without(tc.want, initCall), events(seen), "events seen by a bus listener")
				for _, e := range seen {
					require.NotEmpty(t, e.args, e.event)
					assert.Same(t, svc, e.args[0], "%q carries the service as first argument", e.event)
					if e.event == failed {
						require.Len(t, e.args, 2, "the failed event carries (service, error)")
						err, ok := e.args[1].(error)
						require.True(t, ok, "second argument of the failed event is an error: %#v", e.args[1])
						assert.ErrorIs(t, err, servicemesh.ErrDependencyResolutionTimeout)
					}
				}
			})
		})
	}
}

func TestSetLoggerCalledBeforeAddReturns(t *testing.T) {
	m := newTestMesh(t)
	gate := make(chan struct{})
	s := &withLogger{base: newBase("logged")}
	s.initFn = func(servicemesh.Mesh) { <-gate }

	wg := m.Add(s)
	assert.Equal(t, int32(1), s.sets.Load(), "SetLogger was called before Add returned")
	assert.NotNil(t, s.Logger())
	close(gate)
	require.True(t, waitTimeout(t, wg, bound))
	assert.Equal(t, int32(1), s.sets.Load(), "SetLogger is called once")
}

func TestServicesListsServiceAsSoonAsAddReturns(t *testing.T) {
	m := newTestMesh(t)
	f := listenFailures(m)

	// A service whose lifecycle is held up in its first event.
	gate := make(chan struct{})
	held := &withHandlers{base: newBase("held"), handlers: handlers{self: "held"}}
	held.hook = func(event string, subject servicemesh.Service) {
		if event == servicemesh.EventServiceEventsBound && subject != nil && subject.Name() == "held" {
			<-gate
		}
	}
	// A service still resolving its dependencies.
	resolving := &withDeps{base: newBase("resolving"), deps: deps{resolvedFn: func() bool { return false }}}

	heldWG := m.Add(held)
	assert.True(t, listed(m, "held"), "listed right after Add, before its lifecycle ran")
	assert.Zero(t, held.inits.Load())

	resolvingWG := m.Add(resolving)
	assert.True(t, listed(m, "resolving"), "listed right after Add")
	assert.Equal(t, []string{"Service Mesh", "held", "resolving"}, names(m.Services()))

	close(gate)
	require.True(t, waitTimeout(t, heldWG, bound))
	assert.Equal(t, []string{"Service Mesh", "held", "resolving"}, names(m.Services()),
		"a service still resolving its dependencies is listed")

	require.True(t, waitTimeout(t, m.Shutdown(), bound))
	require.True(t, waitTimeout(t, resolvingWG, bound))
	assert.Zero(t, resolving.inits.Load())
	assert.Len(t, f.of("resolving"), 1)
}

func TestAddWaitGroupDoneAfterInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		entered, gate := make(chan struct{}), make(chan struct{})
		var returned atomic.Bool
		s := newBase("slow init")
		s.initFn = func(servicemesh.Mesh) {
			close(entered)
			<-gate
			returned.Store(true)
		}

		done := doneChan(m.Add(s))
		require.True(t, waitChan(t, entered, time.Minute, "Init called"))
		synctest.Wait() // everything that can run has run
		assert.False(t, isDone(done), "Add's WaitGroup is done while Init is still running")

		close(gate)
		require.True(t, waitChan(t, done, time.Minute, "Add's WaitGroup"))
		assert.True(t, returned.Load(), "Add's WaitGroup done before Init returned")
	})
}

func TestReadinessNeverBlocksInit(t *testing.T) {
	m := newTestMesh(t)
	s := &notReady{base: newBase("not ready")}
	require.True(t, waitTimeout(t, m.Add(s), bound))
	assert.Equal(t, int32(1), s.inits.Load())
}

type notReady struct{ *base }

func (*notReady) Ready() bool { return false }

var _ servicemesh.HasReadiness = (*notReady)(nil)

// Services found by interface during dependency resolution.

type clock interface{ Tick() int }

type clockService struct{ *base }

func (*clockService) Tick() int { return 42 }

// needsClock depends on any service implementing clock.
type needsClock struct {
	*base
	mu    sync.Mutex
	clock clock
	seen  clock // what Init saw
}

func (n *needsClock) DependenciesResolved() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.clock != nil
}

func (n *needsClock) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if c, ok := s.(clock); ok {
			n.mu.Lock()
			n.clock = c
			n.mu.Unlock()
			return
		}
	}
}

func (n *needsClock) Init(m servicemesh.Mesh) {
	n.mu.Lock()
	n.seen = n.clock
	n.mu.Unlock()
	n.base.Init(m)
}

func TestDependencyResolvedByInterface(t *testing.T) {
	m := newTestMesh(t)
	user := &needsClock{base: newBase("user")}
	provider := &clockService{base: newBase("clock")}

	userWG := m.Add(user) // before what it needs
	require.True(t, waitTimeout(t, m.Add(newBase("unrelated")), bound))
	require.True(t, waitTimeout(t, m.Add(provider), bound))
	require.True(t, waitTimeout(t, userWG, bound), "the user is initialized once its dependency is added")

	assert.Equal(t, int32(1), user.inits.Load())
	user.mu.Lock()
	defer user.mu.Unlock()
	assert.Same(t, provider, user.seen, "Init ran with the dependency resolved")
}

type pinger interface{ Ping() }
type ponger interface{ Pong() }

// cyclic depends on a service implementing the interface its peer has.
type cyclic struct {
	*base
	want func(servicemesh.Service) bool
	mu   sync.Mutex
	peer servicemesh.Service
}

type pingService struct{ cyclic }
type pongService struct{ cyclic }

func (*pingService) Ping() {}
func (*pongService) Pong() {}

func (c *cyclic) DependenciesResolved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer != nil
}

func (c *cyclic) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if c.want(s) {
			c.mu.Lock()
			c.peer = s
			c.mu.Unlock()
		}
	}
}

func TestDependencyCycleResolves(t *testing.T) {
	m := newTestMesh(t)
	ping := &pingService{cyclic{base: newBase("ping"), want: func(s servicemesh.Service) bool { _, ok := s.(ponger); return ok }}}
	pong := &pongService{cyclic{base: newBase("pong"), want: func(s servicemesh.Service) bool { _, ok := s.(pinger); return ok }}}

	pingWG, pongWG := m.Add(ping), m.Add(pong)
	require.True(t, waitTimeout(t, pingWG, bound), "ping initialized")
	require.True(t, waitTimeout(t, pongWG, bound), "pong initialized")
	assert.Equal(t, int32(1), ping.inits.Load())
	assert.Equal(t, int32(1), pong.inits.Load())
	ping.mu.Lock()
	assert.Same(t, pong, ping.peer)
	ping.mu.Unlock()
	pong.mu.Lock()
	assert.Same(t, ping, pong.peer)
	pong.mu.Unlock()
}

// outside is a service whose dependency is outside the mesh: a flag.
func outside(name string, flag *atomic.Bool) *withDeps {
	return &withDeps{base: newBase(name), deps: deps{resolvedFn: flag.Load}}
}

func TestOutsideDependencyNoticedWithin50ms(t *testing.T) {
	offsets := []time.Duration{
		0, time.Millisecond, 3 * time.Millisecond, 30 * time.Millisecond,
		200 * time.Millisecond, time.Second, 29 * time.Second,
	}
	// Sweep 100 ms, wider than any polling period, once polling is at its
	// slowest, so that some flip lands just after an attempt.
	for i := range 20 {
		offsets = append(offsets, 10*time.Second+time.Duration(i)*5*time.Millisecond)
	}
	for _, after := range offsets {
		t.Run(after.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newTestMesh(t)
				var flag atomic.Bool
				s := outside("outsider", &flag)
				wg := m.Add(s)

				time.Sleep(after) // fake time: the resolver polls meanwhile
				flipped := time.Now()
				flag.Store(true)

				require.True(t, waitTimeout(t, wg, time.Minute), "resolved once the flag is set")
				require.Equal(t, int32(1), s.inits.Load())
				assert.LessOrEqual(t, s.initTime().Sub(flipped), 50*time.Millisecond,
					"an outside dependency is noticed within 50 ms")
			})
		})
	}
}

func TestResolutionPollingBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		m.SetDependencyResolutionTimeout(0)
		var flag atomic.Bool
		s := outside("patient", &flag)
		wg := m.Add(s)

		const window = 10 * time.Second
		time.Sleep(time.Second) // let the back-off reach its ceiling
		before := s.resolveCalls.Load()
		time.Sleep(window)
		calls := s.resolveCalls.Load() - before

		// At most 50 ms between attempts: at least window/50ms of them.
		// Backing off: far fewer than one per millisecond.
		assert.GreaterOrEqual(t, calls, int32(window/(50*time.Millisecond))-1, "polls at least every 50 ms")
		assert.LessOrEqual(t, calls, int32(window/(20*time.Millisecond)), "backs off instead of spinning")

		flag.Store(true)
		require.True(t, waitTimeout(t, wg, time.Minute))
	})
}

func TestResolutionRetriesAtOnceWhenTheMeshChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		user := &needsClock{base: newBase("user")}
		wg := m.Add(user)
		time.Sleep(10*time.Second + 17*time.Millisecond) // polling at its slowest, between two polls

		// The provider's Init is held, so only its being added can wake
		// the user: the snapshot includes services not yet initialized.
		gate := make(chan struct{})
		provider := &clockService{base: newBase("clock")}
		provider.initFn = func(servicemesh.Mesh) { <-gate }
		added := time.Now()
		providerWG := m.Add(provider)
		require.True(t, waitTimeout(t, wg, time.Minute))
		assert.Less(t, user.initTime().Sub(added), time.Millisecond,
			"resolution is retried at once when a service is added")
		close(gate)
		require.True(t, waitTimeout(t, providerWG, time.Minute))
	})
}

func TestResolutionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		const timeout = 200 * time.Millisecond
		m.SetDependencyResolutionTimeout(timeout)
		f := listenFailures(m)
		s := &withDeps{base: newBase("stranded"), deps: deps{resolvedFn: func() bool { return false }}}

		start := time.Now()
		require.True(t, waitTimeout(t, m.Add(s), time.Minute), "Add's WaitGroup is done when resolution fails")
		waited := time.Since(start)

		errs := f.of("stranded")
		require.Len(t, errs, 1, "one failed event")
		err := errs[0]
		require.Error(t, err)
		assert.ErrorIs(t, err, servicemesh.ErrDependencyResolutionTimeout)
		assert.NotErrorIs(t, err, servicemesh.ErrDependencyResolutionCanceled)
		assert.Contains(t, err.Error(), "stranded", "the error names the service")
		assert.GreaterOrEqual(t, waited, timeout)
		assert.LessOrEqual(t, waited, timeout+50*time.Millisecond)
		assert.Zero(t, s.inits.Load(), "a service whose resolution timed out is never initialized")
		assert.True(t, listed(m, "stranded"), "a failed service stays in the mesh")
	})
}

func TestNonPositiveTimeoutDisablesIt(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newTestMesh(t)
				m.SetDependencyResolutionTimeout(timeout)
				f := listenFailures(m)
				var flag atomic.Bool
				s := outside("patient", &flag)
				wg := m.Add(s)

				time.Sleep(45 * time.Second) // past the 30 s default
				assert.Empty(t, f.of("patient"), "no timeout")
				assert.Zero(t, s.inits.Load())

				flag.Store(true)
				require.True(t, waitTimeout(t, wg, time.Minute))
				assert.Equal(t, int32(1), s.inits.Load())
				assert.Empty(t, f.of("patient"))
			})
		})
	}
}

func TestShutdownCancelsPendingResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		f := listenFailures(m)
		bus := listen(m, servicemesh.EventDependencyResolutionStarted)
		s := &withDepsStop{base: newBase("pending"), deps: deps{resolvedFn: func() bool { return false }}}

		wg := m.Add(s)
		synctest.Wait() // the lifecycle runs until it waits for its dependencies
		require.Len(t, bus.of(servicemesh.EventDependencyResolutionStarted), 1, "resolution started")

		require.True(t, waitTimeout(t, m.Shutdown(), time.Minute))
		require.True(t, waitTimeout(t, wg, time.Minute))
		errs := f.of("pending")
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], servicemesh.ErrDependencyResolutionCanceled)
		assert.NotErrorIs(t, errs[0], servicemesh.ErrDependencyResolutionTimeout)
		assert.Contains(t, errs[0].Error(), "pending")
		assert.Zero(t, s.inits.Load(), "never initialized")
		assert.Zero(t, s.shutdowns.Load(), "no OnShutdown for a service never initialized")
	})
}

func TestOnShutdownOncePerInitializedServiceNewestFirst(t *testing.T) {
	for _, how := range []string{"each holds the one before", "SetSequentialStop"} {
		t.Run(how, func(t *testing.T) {
			m := newTestMesh(t)
			if how == "SetSequentialStop" {
				require.True(t, servicemesh.SetSequentialStop(m, true))
			}
			rec := &recorder{}
			var all []*withDepsStop
			var prev servicemesh.Service
			for i := range 5 {
				s := &withDepsStop{base: newBase(fmt.Sprintf("svc-%d", i))}
				s.onShutdown = func() { rec.add(s.name) }
				if how != "SetSequentialStop" {
					s.holds = prev
				}
				prev = s
				require.True(t, waitTimeout(t, m.Add(s), bound))
				all = append(all, s)
			}
			stranded := &withDepsStop{base: newBase("stranded"), deps: deps{resolvedFn: func() bool { return false }}}
			strandedWG := m.Add(stranded)
			plain := newBase("no OnShutdown") // must simply be skipped
			require.True(t, waitTimeout(t, m.Add(plain), bound))

			wg := m.Shutdown()
			assert.Same(t, wg, m.Shutdown())
			require.True(t, waitTimeout(t, wg, bound))
			m.Shutdown()
			m.Run() // after shutdown: returns at once, stops nothing again

			assert.Equal(t, []string{"svc-4", "svc-3", "svc-2", "svc-1", "svc-0"}, rec.list(),
				"reverse initialization order")
			for _, s := range all {
				assert.Equal(t, int32(1), s.shutdowns.Load(), "%s: OnShutdown exactly once", s.name)
			}
			require.True(t, waitTimeout(t, strandedWG, bound))
			assert.Zero(t, stranded.shutdowns.Load(), "no OnShutdown for a service never initialized")
		})
	}
}

// The stop follows the dependency graph: a service stops only after every
// service that holds it has stopped; services with no such relation stop
// concurrently, whatever the order of their Inits.
func TestStopFollowsTheDependencyGraph(t *testing.T) {
	m := newTestMesh(t)
	rec := &recorder{}
	track := func(name string) func() {
		return func() {
			rec.add("start " + name)
			rec.add("end " + name)
		}
	}
	// Initialization order: n1 n2 d n3 n4; d holds n2, and n4 holds d.
	n2 := &withStop{base: newBase("n2"), stops: stops{onShutdown: track("n2")}}
	d := &withDepsStop{base: newBase("d"), stops: stops{onShutdown: track("d"), holds: n2}}
	for _, s := range []servicemesh.Service{
		&withStop{base: newBase("n1"), stops: stops{onShutdown: track("n1")}},
		n2,
		d,
		&withStop{base: newBase("n3"), stops: stops{onShutdown: track("n3")}},
		&withStop{base: newBase("n4"), stops: stops{onShutdown: track("n4"), holds: d}},
	} {
		require.True(t, waitTimeout(t, m.Add(s), bound))
	}
	require.True(t, waitTimeout(t, m.Shutdown(), bound))

	got := rec.list()
	require.Len(t, got, 10, "every OnShutdown ran once: %v", got)
	at := func(s string) int {
		i := slices.Index(got, s)
		require.GreaterOrEqual(t, i, 0, "%q missing from %v", s, got)
		return i
	}
	assert.Greater(t, at("start d"), at("end n4"), "d stops after n4, which holds it: %v", got)
	assert.Greater(t, at("start n2"), at("end d"), "n2 stops after d, which holds it: %v", got)
}

func TestConsecutiveServicesWithoutDependenciesMayStopConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		aStarted, bStarted := make(chan struct{}), make(chan struct{})
		var aSawB, bSawA atomic.Bool
		// Each OnShutdown waits (in fake time) for the other to have started:
		// only concurrent calls let both see each other.
		meet := func(mine, other chan struct{}, saw *atomic.Bool) func() {
			return func() {
				close(mine)
				select {
				case <-other:
					saw.Store(true)
				case <-time.After(time.Minute):
				}
			}
		}
		a := &withStop{base: newBase("a"), stops: stops{onShutdown: meet(aStarted, bStarted, &aSawB)}}
		b := &withStop{base: newBase("b"), stops: stops{onShutdown: meet(bStarted, aStarted, &bSawA)}}
		require.True(t, waitTimeout(t, m.Add(a), time.Minute))
		require.True(t, waitTimeout(t, m.Add(b), time.Minute))

		require.True(t, waitTimeout(t, m.Shutdown(), 10*time.Minute))
		assert.True(t, aSawB.Load(), "a's OnShutdown ran while b's had started")
		assert.True(t, bSawA.Load(), "b's OnShutdown ran while a's had started")
	})
}

func TestRemove(t *testing.T) {
	m := newTestMesh(t)
	bus := listen(m, servicemesh.EventServiceRemoved)

	var afterRemoval atomic.Bool
	var late atomic.Int32 // events the removed service received after Remove
	target := &withHandlersStop{base: newBase("target")}
	target.hook = func(string, servicemesh.Service) {
		if afterRemoval.Load() {
			late.Add(1)
		}
	}
	observer := &withHandlers{base: newBase("observer"), handlers: handlers{self: "target", rec: &recorder{}}}
	require.True(t, waitTimeout(t, m.Add(observer), bound))
	require.True(t, waitTimeout(t, m.Add(target), bound))
	require.True(t, listed(m, "target"))

	require.True(t, waitTimeout(t, m.Remove(target), bound), "Remove's WaitGroup")
	afterRemoval.Store(true)

	removed := bus.of(servicemesh.EventServiceRemoved)
	require.Len(t, removed, 1)
	require.NotEmpty(t, removed[0].args)
	assert.Same(t, target, removed[0].args[0], "EventServiceRemoved carries the removed service")
	assert.Equal(t, 1, observer.handlers.rec.count(servicemesh.EventServiceRemoved), "other services' OnServiceRemoved got it")
	assert.False(t, listed(m, "target"), "dropped from Services()")
	assert.Zero(t, target.shutdowns.Load(), "Remove does not call OnShutdown")

	// Its handlers are unbound: nothing reaches it any more.
	require.True(t, waitTimeout(t, m.Add(newBase("newcomer")), bound))
	for _, ev := range allServiceEvents {
		require.True(t, waitTimeout(t, m.Events().Emit(ev, observer), bound))
	}
	require.True(t, waitTimeout(t, m.Shutdown(), bound))
	assert.Zero(t, late.Load(), "the removed service's handlers still receive events")
	// Assumption: shutdown stops the services in the mesh; a removed
	// service is no longer one of them.
	assert.Zero(t, target.shutdowns.Load(), "a removed service is not stopped by the mesh")
}

func TestRunReturnsAfterShutdownFromAnotherGoroutine(t *testing.T) {
	m := newTestMesh(t)
	running := make(chan struct{})
	var once sync.Once
	watcher := &withHandlers{base: newBase("watcher")}
	watcher.hook = func(event string, _ servicemesh.Service) {
		if event == servicemesh.EventRuntimeRunLoopInitiated {
			once.Do(func() { close(running) })
		}
	}
	require.True(t, waitTimeout(t, m.Add(watcher), bound))

	var stoppers []*withStop
	for i := range 3 {
		s := &withStop{base: newBase(fmt.Sprintf("stopper-%d", i))}
		stoppers = append(stoppers, s)
		require.True(t, waitTimeout(t, m.Add(s), bound))
	}

	var atReturn []int32
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		m.Run()
		for _, s := range stoppers {
			atReturn = append(atReturn, s.shutdowns.Load())
		}
	}()
	require.True(t, waitChan(t, running, bound, "run loop initiated"))
	assert.False(t, isDone(runDone), "Run returned before Shutdown")

	var callers sync.WaitGroup
	callers.Go(func() { m.Shutdown() })
	require.True(t, waitChan(t, runDone, bound, "Run returns after Shutdown()"))
	require.True(t, waitTimeout(t, &callers, bound))
	assert.Equal(t, []int32{1, 1, 1}, atReturn, "every OnShutdown ran before Run returned")
}

func TestRunLoopAndShutdownEventsReachHandlers(t *testing.T) {
	m := newTestMesh(t)
	bus := listen(m, servicemesh.EventServiceMeshRunLoopInitiated, servicemesh.EventServiceMeshShutdownInitiated)
	running := make(chan struct{})
	var once sync.Once
	rec := &recorder{}
	watcher := &withHandlers{base: newBase("watcher"), handlers: handlers{self: "nobody", rec: rec}}
	watcher.hook = func(event string, _ servicemesh.Service) {
		if event == servicemesh.EventRuntimeRunLoopInitiated {
			once.Do(func() { close(running) })
		}
	}
	require.True(t, waitTimeout(t, m.Add(watcher), bound))

	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		m.Run()
	}()
	require.True(t, waitChan(t, running, bound, "OnServiceMeshRunLoopInitiated called"))
	m.Shutdown()
	require.True(t, waitChan(t, runDone, bound, "Run returned"))

	assert.Equal(t, []string{servicemesh.EventRuntimeRunLoopInitiated, servicemesh.EventRuntimeShutdownInitiated},
		rec.list(), "OnServiceMeshRunLoopInitiated then OnServiceMeshShutdownInitiated, once each")
	assert.Len(t, bus.of(servicemesh.EventServiceMeshRunLoopInitiated), 1)
	assert.Len(t, bus.of(servicemesh.EventServiceMeshShutdownInitiated), 1)
}

// Logging.

// loggedService adds a HasLogger service and returns it with its logger.
func loggedService(t *testing.T, m servicemesh.Mesh, name string) (*withLogger, *slog.Logger) {
	t.Helper()
	s := &withLogger{base: newBase(name)}
	require.True(t, waitTimeout(t, m.Add(s), bound))
	l := s.Logger()
	require.NotNil(t, l, "SetLogger was called")
	return s, l
}

func TestSetLogLevelReachesExistingLoggers(t *testing.T) {
	m := newTestMesh(t)
	var out syncBuffer
	m.SetLogDestination(&out)
	s, l := loggedService(t, m, "leveled")

	l.Debug("debug before")
	l.Info("info before")
	assert.NotContains(t, out.String(), "debug before", "Info is the default level")
	assert.Contains(t, out.String(), "info before")

	m.SetLogLevel(slog.LevelDebug)
	l.Debug("debug after")
	assert.Contains(t, out.String(), "debug after", "a logger handed out earlier follows the new level")

	m.SetLogLevel(slog.LevelError)
	l.Warn("warn gated")
	assert.NotContains(t, out.String(), "warn gated")
	assert.Equal(t, int32(1), s.sets.Load(), "SetLogger is not called again")
}

func TestSetLogHandlerReachesExistingLoggers(t *testing.T) {
	m := newTestMesh(t)
	s, l := loggedService(t, m, "handled")
	h := newCaptureHandler(slog.LevelDebug)
	m.SetLogHandler(h)

	l.Info("hello", "k", "v")
	var recs []captured // the service's own records: the mesh may log its summary meanwhile
	for _, r := range h.sink.all() {
		if r.attrs["service"] == "handled" {
			recs = append(recs, r)
		}
	}
	require.Len(t, recs, 1)
	assert.Equal(t, "hello", recs[0].msg)
	assert.Equal(t, "handled", recs[0].attrs["service"])
	assert.Equal(t, "v", recs[0].attrs["k"])
	assert.Equal(t, int32(1), s.sets.Load(), "SetLogger is not called again")

	// Loggers handed out later write through it too.
	_, l2 := loggedService(t, m, "later")
	l2.Info("from later")
	assert.Contains(t, h.sink.msgs(), "from later")
}

func TestServiceLoggerCarriesServiceName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"plain", `service=plain`},
		{"two words", `service="two words"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMesh(t)
			var out syncBuffer
			m.SetLogDestination(&out)
			_, l := loggedService(t, m, tc.name)
			l.Info("who am i")
			line := lineWith(out.String(), "who am i")
			assert.Contains(t, line, tc.want)
		})
	}
}

// lineWith returns the first line of text containing s.
func lineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

func TestSetLogDestinationSwitchesOutput(t *testing.T) {
	m := newTestMesh(t)
	var first, second syncBuffer
	m.SetLogDestination(&first)
	_, l := loggedService(t, m, "switcher")

	l.Info("to first")
	m.SetLogDestination(&second)
	l.Info("to second")

	assert.Contains(t, first.String(), "to first")
	assert.NotContains(t, first.String(), "to second")
	assert.Contains(t, second.String(), "to second")
	assert.NotContains(t, second.String(), "to first")
	assert.Contains(t, lineWith(second.String(), "to second"), "level=INFO", "the default text handler")

	// SetLogDestination replaces a custom handler.
	h := newCaptureHandler(slog.LevelDebug)
	m.SetLogHandler(h)
	m.SetLogDestination(&first)
	l.Info("back to first")
	assert.Contains(t, first.String(), "back to first")
	assert.NotContains(t, h.sink.msgs(), "back to first", "the custom handler was replaced")
}

func TestSetLogHandlerNilFallsBackToDefaultText(t *testing.T) {
	m := newTestMesh(t)
	var out syncBuffer
	m.SetLogDestination(&out)
	_, l := loggedService(t, m, "fallback")
	h := newCaptureHandler(slog.LevelDebug)

	m.SetLogHandler(h)
	l.Info("to custom")
	m.SetLogHandler(nil)
	l.Info("to default")

	assert.Equal(t, []string{"to custom"}, h.sink.msgs())
	assert.NotContains(t, out.String(), "to custom")
	line := lineWith(out.String(), "to default")
	assert.Contains(t, line, "level=INFO", "text handler on the current destination")
	assert.Contains(t, line, `msg="to default"`)
	assert.Contains(t, line, "service=fallback")
}

func TestMeshLevelGatesBeforeCustomHandler(t *testing.T) {
	m := newTestMesh(t)
	_, l := loggedService(t, m, "gated")
	everything := newCaptureHandler(slog.Level(-1000))
	m.SetLogHandler(everything)

	l.Debug("debug at info")
	m.SetLogLevel(slog.LevelWarn)
	l.Info("info at warn")
	l.Warn("warn at warn")
	m.SetLogLevel(slog.LevelDebug)
	l.Debug("debug at debug")
	assert.Equal(t, []string{"warn at warn", "debug at debug"}, everything.sink.msgs(),
		"the mesh's level gates records before a custom handler that accepts everything")

	// A custom handler's own stricter level still applies.
	strict := newCaptureHandler(slog.LevelError)
	m.SetLogHandler(strict)
	l.Warn("warn to strict")
	l.Error("error to strict")
	assert.Equal(t, []string{"error to strict"}, strict.sink.msgs())
}

func TestLifecycleChatterIsDebugOnly(t *testing.T) {
	run := func(level slog.Level) string {
		m := newTestMesh(t)
		var out syncBuffer
		m.SetLogDestination(&out)
		m.SetLogLevel(level)
		require.True(t, waitTimeout(t, m.Add(&withDepsStop{base: newBase("chatty")}), bound))
		require.True(t, waitTimeout(t, m.Shutdown(), bound))
		return out.String()
	}
	// At Info, a normal lifecycle logs only the two summaries: when the mesh
	// is first ready and when its shutdown has completed.
	for line := range strings.Lines(run(slog.LevelInfo)) {
		assert.True(t, strings.Contains(line, `msg="mesh ready"`) || strings.Contains(line, `msg="shutdown complete"`),
			"only the summaries at Info, not %q", line)
	}
	assert.NotEmpty(t, run(slog.LevelDebug), "the mesh logs its lifecycle at Debug")
}
