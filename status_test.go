package servicemesh

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Services for the status tests. stSvc sleeps initFor in Init and stopFor
// in OnShutdown (fake time inside a synctest bubble); the others add one
// optional interface each.

type stSvc struct {
	name             string
	initFor, stopFor time.Duration
}

func (s *stSvc) Name() string { return s.name }
func (s *stSvc) Init(Mesh)    { time.Sleep(s.initFor) }
func (s *stSvc) OnShutdown()  { time.Sleep(s.stopFor) }

// stBlocked stays in Init until release is closed.
type stBlocked struct {
	name    string
	release chan struct{}
}

func (s *stBlocked) Name() string { return s.name }
func (s *stBlocked) Init(Mesh)    { <-s.release }

// stReady reports ready, or panics, as told.
type stReady struct {
	name          string
	ready, panics atomic.Bool
	asked         atomic.Int32
}

func (s *stReady) Name() string { return s.name }
func (s *stReady) Init(Mesh)    {}
func (s *stReady) Ready() bool {
	s.asked.Add(1)
	if s.panics.Load() {
		panic("Ready exploded")
	}
	return s.ready.Load()
}

// stChecked is a HasHealthCheck whose check takes took, or waits for block
// (ignoring its context), or for its context, or fails or panics, as told.
// It counts its calls and how many were in flight at most.
type stChecked struct {
	name     string
	took     time.Duration
	block    chan struct{}
	honorCtx bool

	failing, panics              atomic.Bool
	calls, inFlight, maxInFlight atomic.Int32
}

func (s *stChecked) Name() string { return s.name }
func (s *stChecked) Init(Mesh)    {}
func (s *stChecked) HealthCheck(ctx context.Context) error {
	s.calls.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	switch {
	case s.panics.Load():
		panic("check exploded")
	case s.block != nil:
		<-s.block
	case s.honorCtx:
		<-ctx.Done()
		return ctx.Err()
	}
	time.Sleep(s.took)
	if s.failing.Load() {
		return errors.New("disk full")
	}
	return nil
}

// stDependent waits for the stSvc named "db" and holds it.
type stDependent struct {
	name string
	db   *stSvc
}

func (d *stDependent) Name() string               { return d.name }
func (d *stDependent) Init(Mesh)                  {}
func (d *stDependent) DependenciesResolved() bool { return d.db != nil }
func (d *stDependent) ResolveDependencies(services []Service) {
	for _, s := range services {
		if x, ok := s.(*stSvc); ok && x.name == "db" {
			d.db = x
		}
	}
}

// stObserver counts EventMeshReady and notes when it came, and the order of
// it and EventServiceInitialized.
type stObserver struct {
	told atomic.Int32
	at   atomic.Int64 // UnixNano
	mu   sync.Mutex
	seq  []string
}

func (o *stObserver) Name() string { return "observer" }
func (o *stObserver) Init(Mesh)    {}
func (o *stObserver) OnMeshReady() {
	o.told.Add(1)
	o.at.Store(time.Now().UnixNano())
	o.note("mesh ready")
}
func (o *stObserver) OnServiceInitialized(s Service) { o.note(s.Name()) }
func (o *stObserver) note(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq = append(o.seq, s)
}
func (o *stObserver) events() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seq)
}

// statusMesh is a quiet mesh shut down, and waited for, at cleanup.
func statusMesh(t *testing.T) *mesh {
	t.Helper()
	m := quietMesh(t)
	t.Cleanup(func() { m.Shutdown().Wait() })
	return m
}

// runInBackground runs m as main does, Run on a goroutine of its own, so
// that its first readiness is latched (EventMeshReady, Report.Started);
// at cleanup it shuts m down and waits for Run to return.
func runInBackground(t *testing.T, m *mesh) {
	t.Helper()
	m.running.Store(true) // Run's first step, before the test goes on
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		m.Run()
	}()
	t.Cleanup(func() {
		m.Shutdown().Wait()
		<-ran
	})
}

// stateOf returns the state of the service named name in r.
func stateOf(t *testing.T, r Report, name string) State {
	t.Helper()
	for _, s := range r.Services {
		if s.Name == name {
			return s.State
		}
	}
	require.Failf(t, "not in the report", "%q in %+v", name, r.Services)
	return 0
}

// Status lists the services in the order added, the mesh excluded, with
// their states, since when, timings, last error and dependencies, during
// the run and after the shutdown.
func TestStatusReportsEveryServiceInTheOrderAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := statusMesh(t)
		require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true})) // broken fails
		start := time.Now()
		m.Add(&stDependent{name: "api"})
		time.Sleep(10 * time.Millisecond)
		m.Add(&stSvc{name: "db", initFor: 30 * time.Millisecond, stopFor: 5 * time.Millisecond})
		m.Add(&initErr{name: "broken", err: errors.New("no disk")})
		time.Sleep(time.Second) // every Init has returned

		r := Status(m)
		assert.Equal(t, t.Name(), r.Name)
		assert.False(t, r.Ready, "a service failed")
		assert.False(t, r.Started)
		assert.False(t, r.Stopped)
		require.Len(t, r.Services, 3, "the mesh itself is not listed")
		api, db, broken := r.Services[0], r.Services[1], r.Services[2]

		assert.Equal(t, "api", api.Name)
		assert.Equal(t, StateRunning, api.State)
		assert.Equal(t, []string{"db"}, api.DependsOn)
		assert.GreaterOrEqual(t, api.Resolve, 10*time.Millisecond, "it waited for db")
		assert.Less(t, api.Resolve, 10*time.Millisecond+timing.ReadyPollMax)

		assert.Equal(t, "db", db.Name)
		assert.Equal(t, StateRunning, db.State)
		assert.Equal(t, 30*time.Millisecond, db.Init)
		assert.Zero(t, db.Resolve, "no dependencies")
		assert.WithinDuration(t, start.Add(40*time.Millisecond), db.Since, 0, "running since its Init returned")
		assert.Empty(t, db.DependsOn)
		assert.Empty(t, db.Error)
		assert.Zero(t, db.Restarts)

		assert.Equal(t, StateFailed, broken.State)
		assert.Contains(t, broken.Error, "no disk")

		m.Shutdown().Wait()
		r = Status(m)
		assert.True(t, r.Stopped)
		assert.False(t, r.Ready)
		require.Len(t, r.Services, 3)
		assert.Equal(t, StateStopped, r.Services[0].State)
		assert.Equal(t, StateStopped, r.Services[1].State)
		assert.Equal(t, 5*time.Millisecond, r.Services[1].Stop)
		assert.Equal(t, StateFailed, r.Services[2].State, "a failed service is not stopped")
	})
}

// Status and Ready can be called from inside every callback without
// deadlock, and see the caller's own state.
func TestStatusFromInsideCallbacks(t *testing.T) {
	tests := []struct {
		at        string
		state     State
		ready     bool
		knowReady bool // whether Ready's verdict is asserted
	}{
		{at: "Init", state: StateStarting, knowReady: true},
		{at: "OnServiceAdded", state: StateAdded, knowReady: true},
		{at: "OnMeshReady", state: StateRunning, ready: true, knowReady: true},
		{at: "HealthCheck", state: StateRunning, knowReady: true}, // waits for itself: false
		{at: "OnShutdown", state: StateStopping, knowReady: true},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := statusMesh(t)
				s := &stCallbacks{at: tc.at, m: m}
				m.Add(s)
				// Run after the Add: a mesh run empty may be found ready,
				// and EventMeshReady told, before s is in it.
				runInBackground(t, m)
				synctest.Wait()
				Ready(m)        // runs the health check, and may tell EventMeshReady
				synctest.Wait() // its handlers run before the shutdown begins
				m.Shutdown().Wait()

				require.Equal(t, int32(1), s.calls.Load(), "recorded once, from %s", tc.at)
				assert.Equal(t, tc.state, stateOf(t, s.report, "callbacks"))
				if tc.knowReady {
					assert.Equal(t, tc.ready, s.ready)
				}
			})
		})
	}
}

// stCallbacks records Status and Ready from the callback named at, once,
// with the mesh it was given before it was added.
type stCallbacks struct {
	at     string
	m      Mesh
	calls  atomic.Int32
	report Report
	ready  bool
}

func (s *stCallbacks) Name() string { return "callbacks" }
func (s *stCallbacks) record(where string) {
	if where != s.at || s.calls.Add(1) != 1 {
		return
	}
	s.report, s.ready = Status(s.m), Ready(s.m)
}
func (s *stCallbacks) Init(Mesh)              { s.record("Init") }
func (s *stCallbacks) OnServiceAdded(Service) { s.record("OnServiceAdded") }
func (s *stCallbacks) OnMeshReady()           { s.record("OnMeshReady") }
func (s *stCallbacks) OnShutdown()            { s.record("OnShutdown") }
func (s *stCallbacks) HealthCheck(context.Context) error {
	s.record("HealthCheck")
	return nil
}

// Status and Ready go on answering while the shutdown runs, from any
// goroutine; once Shutdown has been called, nobody sees the mesh ready.
func TestStatusDuringShutdown(t *testing.T) {
	m := statusMesh(t)
	runInBackground(t, m)
	release := make(chan struct{})
	slow := &stStopHook{name: "slow", hook: func() { <-release }, stopping: make(chan struct{})}
	m.Add(slow).Wait()
	m.Add(&stSvc{name: "quick"}).Wait()
	require.NoError(t, WaitReady(t.Context(), m))

	var called atomic.Bool
	var wrong atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := called.Load()
				if (Ready(m) || Status(m).Ready) && after {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		<-slow.stopping
		assert.Equal(t, StateStopping, stateOf(t, Status(m), "slow"))
		close(release)
	})
	m.Shutdown()
	called.Store(true)
	assert.False(t, Ready(m))
	m.Shutdown().Wait()
	close(stop)
	wg.Wait()

	assert.Zero(t, wrong.Load(), "ready after Shutdown was called")
	r := Status(m)
	assert.True(t, r.Stopped)
	assert.True(t, r.Started)
	assert.Equal(t, StateStopped, stateOf(t, r, "slow"))
	assert.Equal(t, StateStopped, stateOf(t, r, "quick"))
}

// stStopHook closes stopping when its OnShutdown begins, then calls hook.
type stStopHook struct {
	name     string
	hook     func()
	stopping chan struct{}
}

func (s *stStopHook) Name() string { return s.name }
func (s *stStopHook) Init(Mesh)    {}
func (s *stStopHook) OnShutdown() {
	close(s.stopping)
	s.hook()
}

// The mesh is not ready the moment Shutdown is called, though its services
// still run (here while the shutdown drains).
func TestReadyFalseTheMomentShutdownIsCalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := statusMesh(t)
		require.True(t, SetDrainDelay(m, time.Second))
		r := &stReady{name: "r"}
		r.ready.Store(true)
		m.Add(r)
		m.Add(&stChecked{name: "c"})
		synctest.Wait()
		require.True(t, Ready(m))
		require.True(t, Status(m).Ready)

		m.Shutdown()
		assert.False(t, Ready(m))
		assert.False(t, Status(m).Ready)
		assert.Equal(t, StateRunning, stateOf(t, Status(m), "r"), "still serving while it drains")
		assert.ErrorIs(t, WaitReady(t.Context(), m), ErrShuttingDown)
		m.Shutdown().Wait()
	})
}

// Ready requires every service running, ready and healthy.
func TestReadyRequiresEveryService(t *testing.T) {
	tests := []struct {
		name  string
		setup func(m *mesh) (cleanup func())
		want  bool
	}{
		{"an empty mesh", func(*mesh) func() { return nil }, true},
		{"every service running", func(m *mesh) func() {
			m.Add(&stSvc{name: "a"})
			m.Add(&stDependent{name: "b"})
			m.Add(&stSvc{name: "db"})
			return nil
		}, true},
		{"a service still in Init", func(m *mesh) func() {
			s := &stBlocked{name: "blocked", release: make(chan struct{})}
			m.Add(s)
			return func() { close(s.release) }
		}, false},
		{"a service still resolving", func(m *mesh) func() {
			m.SetDependencyResolutionTimeout(0)
			m.Add(&stDependent{name: "orphan"})
			return nil
		}, false},
		{"a service failed", func(m *mesh) func() {
			m.Add(&initErr{name: "broken", err: errors.New("no")})
			return nil
		}, false},
		{"a failed service removed", func(m *mesh) func() {
			s := &initErr{name: "broken", err: errors.New("no")}
			m.Add(s).Wait()
			m.Remove(s).Wait()
			return nil
		}, true},
		{"a service not ready", func(m *mesh) func() {
			m.Add(&stReady{name: "r"})
			return nil
		}, false},
		{"a service whose Ready panics", func(m *mesh) func() {
			r := &stReady{name: "r"}
			r.ready.Store(true)
			r.panics.Store(true)
			m.Add(r)
			return nil
		}, false},
		{"a service ready", func(m *mesh) func() {
			r := &stReady{name: "r"}
			r.ready.Store(true)
			m.Add(r)
			return nil
		}, true},
		{"a health check failing", func(m *mesh) func() {
			c := &stChecked{name: "c"}
			c.failing.Store(true)
			m.Add(c)
			return nil
		}, false},
		{"a health check passing", func(m *mesh) func() {
			m.Add(&stChecked{name: "c"})
			return nil
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := statusMesh(t)
				require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true}))
				if cleanup := tc.setup(m); cleanup != nil {
					defer cleanup()
				}
				runInBackground(t, m) // as main does, once it added its services
				// Fake time: a resolver that ran before the service it
				// waits for was added finds it at its next poll.
				time.Sleep(100 * time.Millisecond)
				synctest.Wait()
				assert.Equal(t, tc.want, Ready(m), "Ready")
				assert.Equal(t, tc.want, Status(m).Ready, "Status")
				assert.Equal(t, tc.want, Status(m).Started, "Started")
			})
		})
	}
}

// A mesh that is not ready asks the service that kept it from being ready
// first, and only that one while it still is not: probes and the watcher do
// not scan every service again and again.
func TestNotReadyAsksTheBlockerFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := statusMesh(t)
		other, blocker := &stReady{name: "other"}, &stReady{name: "blocker"}
		other.ready.Store(true)
		m.Add(other)
		m.Add(blocker)
		m.Add(&stSvc{name: "plain"})
		synctest.Wait()
		time.Sleep(time.Second) // the watcher polls meanwhile
		// The watcher's last look may have found another service not yet
		// running: one call makes the blocker the one that blocks.
		assert.False(t, Ready(m))
		asked := other.asked.Load()
		for range 100 {
			assert.False(t, Ready(m))
			assert.False(t, Status(m).Ready)
		}
		assert.Equal(t, asked, other.asked.Load(), "only the blocker was asked")
		assert.GreaterOrEqual(t, blocker.asked.Load(), int32(200))

		blocker.ready.Store(true)
		assert.True(t, Ready(m))
		assert.Greater(t, other.asked.Load(), asked, "every service once the blocker is ready")
	})
}

// WaitReady returns once the mesh is ready, soon after; or ctx's error; or
// ErrShuttingDown.
func TestWaitReady(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the context to wait with; the service r is ready
		// at 3 s unless never.
		ctx      func(t *testing.T, m *mesh) context.Context
		never    bool
		want     error
		tookFrom time.Duration
		tookTo   time.Duration
	}{
		{
			name: "a service ready later",
			ctx:  func(t *testing.T, _ *mesh) context.Context { return t.Context() },
			// A poll that overlaps the watcher's call of Ready gets its last
			// answer: one more step at most.
			tookFrom: 3 * time.Second, tookTo: 3*time.Second + 2*timing.ReadyPollMax,
		},
		{
			name: "ctx ends first",
			ctx: func(t *testing.T, _ *mesh) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded, tookFrom: time.Second, tookTo: time.Second,
		},
		{
			name: "shutdown begins first",
			ctx: func(t *testing.T, m *mesh) context.Context {
				time.AfterFunc(time.Second, func() { m.Shutdown() })
				return t.Context()
			},
			never: true, want: ErrShuttingDown, tookFrom: time.Second, tookTo: time.Second,
		},
		{
			name: "shutdown already begun",
			ctx: func(t *testing.T, m *mesh) context.Context {
				m.Shutdown().Wait()
				return t.Context()
			},
			want: ErrShuttingDown,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := statusMesh(t)
				r := &stReady{name: "r"}
				m.Add(r)
				if !tc.never {
					time.AfterFunc(3*time.Second, func() { r.ready.Store(true) })
				}
				synctest.Wait()
				ctx := tc.ctx(t, m)
				start := time.Now()
				err := WaitReady(ctx, m)
				took := time.Since(start)
				if tc.want == nil {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, tc.want)
				}
				assert.GreaterOrEqual(t, took, tc.tookFrom)
				assert.LessOrEqual(t, took, tc.tookTo)
			})
		})
	}
}

// stDetailed says of itself what detail holds (HasStatusDetail); it panics
// when detail is "panic", and counts its calls.
type stDetailed struct {
	name   string
	detail atomic.Value // string
	calls  atomic.Int32
	m      Mesh // when set, StatusDetail asks for the mesh's Services itself
}

func (s *stDetailed) Name() string { return s.name }
func (s *stDetailed) Init(Mesh)    {}
func (s *stDetailed) StatusDetail() string {
	s.calls.Add(1)
	if s.m != nil {
		_ = s.m.Services() // no lock of the mesh is held: this must not deadlock
	}
	d, _ := s.detail.Load().(string)
	if d == "panic" {
		panic("detail exploded")
	}
	return d
}

// Status asks each HasStatusDetail service for its detail, outside the
// mesh's locks (a StatusDetail that lists the services returns), every
// time: the detail follows what the service says now. A panicking
// StatusDetail is recovered, counted and leaves the detail empty; the
// services without the interface have none.
func TestStatusDetail(t *testing.T) {
	m := statusMesh(t)
	leader := &stDetailed{name: "cron", m: m}
	leader.detail.Store("standby")
	broken := &stDetailed{name: "broken"}
	broken.detail.Store("panic")
	plain := &stSvc{name: "plain"}
	m.Add(leader).Wait()
	m.Add(broken).Wait()
	m.Add(plain).Wait()

	details := func() map[string]string {
		got := map[string]string{}
		for _, s := range Status(m).Services {
			got[s.Name] = s.Detail
		}
		return got
	}
	assert.Equal(t, map[string]string{"cron": "standby", "broken": "", "plain": ""}, details())
	leader.detail.Store("leader (token 7)")
	assert.Equal(t, "leader (token 7)", details()["cron"])
	assert.Equal(t, int32(2), broken.calls.Load())
	assert.Equal(t, int64(2), m.RecoveredPanics(), "each panic of StatusDetail is recovered and counted")

	b, err := json.Marshal(Status(m).Services[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"detail":"leader (token 7)"`)
}

// A Mesh not made by New, nil included: zero Report, never ready.
func TestStatusOfAForeignMesh(t *testing.T) {
	type foreign struct{ Mesh }
	for _, m := range []Mesh{nil, foreign{}} {
		assert.Equal(t, Report{}, Status(m))
		assert.False(t, Ready(m))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, WaitReady(ctx, m), context.Canceled)
	}
	m := statusMesh(t)
	//lint:ignore SA1012 a nil ctx is the bad input under test: WaitReady documents that it takes nil as Background
	assert.NoError(t, WaitReady(nil, m), "a nil ctx is Background")
}

// Health checks run in parallel, at most one in flight per service, and
// their results are used for timing.HealthCacheTTL however often Ready is called.
func TestHealthChecksAreParallelCachedAndBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := statusMesh(t)
		a := &stChecked{name: "a", took: time.Second}
		b := &stChecked{name: "b", took: time.Second}
		m.Add(a)
		m.Add(b)
		synctest.Wait()

		hammer := func() (ready int) {
			var n atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					if Ready(m) {
						n.Add(1)
					}
					Status(m)
				})
			}
			wg.Wait()
			return int(n.Load())
		}

		start := time.Now()
		assert.True(t, Ready(m))
		assert.Equal(t, time.Second, time.Since(start), "in parallel: one check's time, not two")
		callsNow := a.calls.Load() // the watcher may have run the first ones

		start = time.Now()
		assert.Equal(t, 50, hammer())
		assert.Zero(t, time.Since(start), "from the cache")
		assert.Equal(t, callsNow, a.calls.Load(), "no call within the cache period")

		time.Sleep(timing.HealthCacheTTL)
		assert.Equal(t, 50, hammer())
		for _, s := range []*stChecked{a, b} {
			assert.Equal(t, callsNow+1, s.calls.Load(), "%s: one call for fifty probes", s.name)
			assert.Equal(t, int32(1), s.maxInFlight.Load(), "%s: one call in flight at most", s.name)
		}
	})
}

// A hung HealthCheck fails after the timeout, then at once, without another
// call, until it returns; one that panics fails and is logged once.
func TestHungAndPanickingHealthChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := statusMesh(t)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		hung := &stChecked{name: "hung", block: make(chan struct{})}
		m.Add(hung)
		synctest.Wait()

		start := time.Now()
		assert.False(t, Ready(m))
		assert.LessOrEqual(t, time.Since(start), timing.HealthCheckTimeout)
		for range 10 {
			start = time.Now()
			assert.False(t, Ready(m))
			assert.False(t, Status(m).Ready)
			assert.Zero(t, time.Since(start), "a check past its timeout fails at once")
		}
		assert.Equal(t, int32(1), hung.calls.Load(), "no pile-up")

		close(hung.block)
		synctest.Wait()
		assert.False(t, Ready(m), "it returned too late: failing for the cache period")
		time.Sleep(timing.HealthCacheTTL)
		assert.True(t, Ready(m))
		assert.Equal(t, int32(2), hung.calls.Load())

		hung.panics.Store(true)
		for range 3 {
			time.Sleep(timing.HealthCacheTTL)
			assert.False(t, Ready(m))
		}
		assert.Equal(t, 1, strings.Count(logs.String(), `call=HealthCheck`), "a repeated panic is logged once:\n%s", logs.String())
		hung.panics.Store(false)
		time.Sleep(timing.HealthCacheTTL)
		assert.True(t, Ready(m))
		assert.Contains(t, logs.String(), "health check passing again")
	})
}

// A check's context ends when the shutdown begins, and Ready waiting for it
// returns.
func TestHealthCheckContextEndsAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := statusMesh(t)
		c := &stChecked{name: "c", honorCtx: true}
		m.Add(c)
		synctest.Wait()
		got := make(chan bool)
		go func() { got <- Ready(m) }()
		synctest.Wait()
		start := time.Now()
		m.Shutdown().Wait()
		assert.False(t, <-got)
		assert.Zero(t, time.Since(start), "nothing waited for the check's timeout")
	})
}

// EventMeshReady is told once, when the mesh is first ready, with one Info
// line; not at all if it never is, and the watcher never holds the shutdown.
func TestEventMeshReadyIsToldOnce(t *testing.T) {
	t.Run("when the last service starts", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := statusMesh(t)
			var logs syncBuffer
			m.SetLogDestination(&logs)
			time.Sleep(5 * time.Millisecond) // since New
			// The observer is added last: added first, its lifecycle could
			// end, and the mesh be ready with it alone, before the next
			// Add. The lane keeps quick's Init behind slow's, so the
			// observer hears every Init.
			obs := &stObserver{}
			m.Add(&stSvc{name: "slow", initFor: 20 * time.Millisecond})
			m.Add(&stSvc{name: "slower", initFor: 30 * time.Millisecond})
			m.Add(&stSvc{name: "quick"})
			m.Add(obs)
			start := time.Now()
			runInBackground(t, m)   // as main does, once it added its services
			time.Sleep(time.Second) // every Init has returned
			assert.Equal(t, int32(1), obs.told.Load())
			assert.WithinRange(t, time.Unix(0, obs.at.Load()), start.Add(30*time.Millisecond), start.Add(50*time.Millisecond),
				"at once after the last Init")
			seq := obs.events()
			assert.ElementsMatch(t, []string{"observer", "slow", "slower", "quick", "mesh ready"}, seq)
			assert.Equal(t, "mesh ready", seq[len(seq)-1], "after every EventServiceInitialized")

			for range 5 {
				assert.True(t, Ready(m))
			}
			extra := &stSvc{name: "extra"}
			m.Add(extra).Wait()
			m.Remove(extra).Wait()
			synctest.Wait()
			assert.Equal(t, int32(1), obs.told.Load())
			assert.True(t, Status(m).Started)

			out := logs.String()
			assert.Equal(t, 1, strings.Count(out, `msg="mesh ready"`), out)
			assert.Contains(t, out, "services=4")
			assert.Contains(t, out, "took=")
			assert.Contains(t, out, `slowest="[slower=30ms slow=20ms quick=0s]"`)
			m.Shutdown().Wait()
			assert.Equal(t, int32(1), obs.told.Load())
		})
	})
	t.Run("when readiness comes later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := statusMesh(t)
			obs := &stObserver{}
			r := &stReady{name: "r"}
			m.Add(r) // first: the mesh is never ready before r is
			m.Add(obs)
			start := time.Now()
			runInBackground(t, m)
			time.AfterFunc(time.Second, func() { r.ready.Store(true) })
			time.Sleep(2 * time.Second)
			assert.Equal(t, int32(1), obs.told.Load())
			assert.WithinRange(t, time.Unix(0, obs.at.Load()), start.Add(time.Second), start.Add(time.Second+timing.ReadyPollMax))
		})
	})
	t.Run("never ready", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := statusMesh(t)
			obs := &stObserver{}
			require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true}))
			m.Add(&initErr{name: "broken", err: errors.New("no")}) // first, as above
			m.Add(obs)
			runInBackground(t, m)
			time.Sleep(time.Minute)
			start := time.Now()
			m.Shutdown().Wait()
			assert.Zero(t, time.Since(start), "the watcher does not hold the shutdown")
			assert.Zero(t, obs.told.Load())
			assert.False(t, Status(m).Started)
		})
	})
}

// The JSON shape of a Report.
func TestReportJSON(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := Report{
		Name: "shop", Ready: false, Started: true,
		Services: []ServiceStatus{
			{Name: "db", State: StateRunning, Since: since, Init: 1500 * time.Millisecond},
			{
				Name: "api", State: StateFailed, Since: since, Resolve: time.Millisecond,
				Error: "no disk", DependsOn: []string{"db"},
			},
			{Name: "new", State: StateAdded, Detail: "standby"},
		},
	}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Equal(t, `{"name":"shop","ready":false,"started":true,"stopped":false,"services":[`+
		`{"name":"db","state":"running","since":"2026-01-02T03:04:05Z","init":1500000000},`+
		`{"name":"api","state":"failed","since":"2026-01-02T03:04:05Z","resolve":1000000,"error":"no disk","dependsOn":["db"]},`+
		`{"name":"new","state":"added","detail":"standby"}]}`, string(b))

	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r, back)
}
