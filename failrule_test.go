package servicemesh_test

// The failure rule (DESIGN §8), through the public API: every permanent
// failure makes its service StateFailed for good, is told once, and fails
// the mesh fast unless it is kept running; what is not a failure is never
// reported as one.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frSvc is a service whose hooks the test chooses; nil hooks do nothing.
type frSvc struct {
	name    string
	initCtx func(ctx context.Context) error
	serve   func(ctx context.Context) error
	stop    func(ctx context.Context) error
	serves  atomic.Int32
}

func (s *frSvc) Name() string          { return s.name }
func (s *frSvc) Init(servicemesh.Mesh) {}
func (s *frSvc) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	if s.initCtx == nil {
		return nil
	}
	return s.initCtx(ctx)
}
func (s *frSvc) OnShutdownContext(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	return s.stop(ctx)
}

// frServer is an frSvc with a Serve.
type frServer struct{ *frSvc }

func (s frServer) Serve(ctx context.Context) error {
	s.serves.Add(1)
	if s.serve == nil {
		<-ctx.Done()
		return nil
	}
	return s.serve(ctx)
}

// frPolicied is an frServer with a restart policy of its own, counting how
// often the mesh asks for it.
type frPolicied struct {
	frServer
	policy servicemesh.RestartPolicy
	asked  atomic.Int32
}

func (s *frPolicied) RestartPolicy() servicemesh.RestartPolicy {
	s.asked.Add(1)
	return s.policy
}

// frResolver never finds its dependency; it panics when told to.
type frResolver struct {
	name   string
	panics bool
}

func (r *frResolver) Name() string               { return r.name }
func (r *frResolver) Init(servicemesh.Mesh)      {}
func (r *frResolver) DependenciesResolved() bool { return false }
func (r *frResolver) ResolveDependencies(services []servicemesh.Service) {
	if r.panics {
		panic("resolver boom")
	}
}

// frPanicInit panics in its legacy Init; frGoexitInit ends it with
// runtime.Goexit, as t.FailNow does.
type frPanicInit struct{}

func (frPanicInit) Name() string          { return "panics" }
func (frPanicInit) Init(servicemesh.Mesh) { panic("init boom") }

type frGoexitInit struct{}

func (frGoexitInit) Name() string          { return "goexit" }
func (frGoexitInit) Init(servicemesh.Mesh) { runtime.Goexit() }

// frGoexitResolver ends its resolver with runtime.Goexit, as t.FailNow
// does: at its call number exitAt (the first runs on its lifecycle's
// goroutine, later ones on the scheduler's), or, when exitAt is 0, once
// the provider it holds is initialized (on the goroutine of the hand-off).
type frGoexitResolver struct {
	name     string
	exitAt   int32
	calls    atomic.Int32
	provider frProvider
	held     frProvider // what the mesh sees it hold
	inited   atomic.Bool
}

func (r *frGoexitResolver) Name() string               { return r.name }
func (r *frGoexitResolver) Init(servicemesh.Mesh)      { r.inited.Store(true) }
func (r *frGoexitResolver) DependenciesResolved() bool { return false }
func (r *frGoexitResolver) ResolveDependencies(services []servicemesh.Service) {
	if n := r.calls.Add(1); r.exitAt > 0 {
		if n == r.exitAt {
			runtime.Goexit()
		}
		return
	}
	for _, s := range services {
		if s == servicemesh.Service(r.provider) {
			r.held = r.provider
		}
	}
	if r.held != nil && r.held.initialized() {
		runtime.Goexit()
	}
}

// frProvider is a service whose Init waits for release.
type frProvider interface {
	servicemesh.Service
	initialized() bool
}

// frLaneProvider has no dependencies: it starts on the lane.
type frLaneProvider struct {
	name    string
	release chan struct{}
	inited  atomic.Bool
}

func (p *frLaneProvider) Name() string          { return p.name }
func (p *frLaneProvider) Init(servicemesh.Mesh) { <-p.release; p.inited.Store(true) }
func (p *frLaneProvider) initialized() bool     { return p.inited.Load() }

// frDepProvider has dependencies, resolved at once: it starts on a
// goroutine of its own, which goes on with the hand-off.
type frDepProvider struct{ frLaneProvider }

func (p *frDepProvider) DependenciesResolved() bool                { return true }
func (p *frDepProvider) ResolveDependencies([]servicemesh.Service) {}

// frWaiter waits until ready says so; it holds nothing the mesh sees, so
// only a broadcast or a poll wakes it.
type frWaiter struct {
	name   string
	ready  func() bool
	inited atomic.Bool
}

func (w *frWaiter) Name() string                              { return w.name }
func (w *frWaiter) Init(servicemesh.Mesh)                     { w.inited.Store(true) }
func (w *frWaiter) DependenciesResolved() bool                { return w.ready() }
func (w *frWaiter) ResolveDependencies([]servicemesh.Service) {}

// A resolver that ends its goroutine with runtime.Goexit fails its
// service for good (DESIGN §8), wherever its attempt runs: on its
// lifecycle's goroutine, on the scheduler's, or on a hand-off's, from a
// provider's own goroutine or from the lane. The service is never
// initialized, EventServiceFailed is told once, the other waiters are
// resolved as before, and the shutdown completes.
func TestResolverGoexitFailsItsService(t *testing.T) {
	tests := []struct {
		name     string
		exitAt   int32
		provider func(release chan struct{}) frProvider
	}{
		{name: "first attempt", exitAt: 1},
		{name: "scheduler", exitAt: 2},
		{name: "hand-off", provider: func(release chan struct{}) frProvider {
			return &frDepProvider{frLaneProvider{name: "provider", release: release}}
		}},
		{name: "hand-off from the lane", provider: func(release chan struct{}) frProvider {
			return &frLaneProvider{name: "provider", release: release}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := frMesh(t)
				require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
				failures := watchFailures(m)
				release := make(chan struct{})
				bad := &frGoexitResolver{name: "bad", exitAt: tc.exitAt}
				if tc.provider != nil {
					bad.provider = tc.provider(release)
				} else {
					bad.provider = &frLaneProvider{name: "provider", release: release}
				}
				other := &frWaiter{name: "other", ready: bad.provider.initialized}
				added := m.Add(bad)
				m.Add(other)
				m.Add(bad.provider)
				time.Sleep(time.Millisecond) // past the broadcast: bad holds the provider
				synctest.Wait()
				close(release)
				require.True(t, waitTimeout(t, added, time.Minute), "the Add of the failed service is done")
				time.Sleep(time.Second) // past the broadcast that finds the other waiter ready
				synctest.Wait()

				assert.Equal(t, servicemesh.StateFailed, frState(t, m, "bad"))
				assert.False(t, bad.inited.Load(), "never initialized")
				assert.Equal(t, 1, failures.count("bad"), "EventServiceFailed told once")
				assert.Equal(t, 1, failures.total())
				assert.Equal(t, servicemesh.StateRunning, frState(t, m, "provider"))
				assert.Equal(t, servicemesh.StateRunning, frState(t, m, "other"), "the other waiter was resolved")
				assert.True(t, other.inited.Load())

				shut := m.Shutdown()
				require.True(t, waitTimeout(t, shut, time.Minute), "the shutdown completes")
				assert.Equal(t, servicemesh.StateFailed, frState(t, m, "bad"))
			})
		})
	}
}

// frFailed counts what EventServiceFailed told, by service.
type frFailed struct {
	mu   sync.Mutex
	told map[string][]error
}

func watchFailures(m servicemesh.Mesh) *frFailed {
	f := &frFailed{told: map[string][]error{}}
	m.Events().On(servicemesh.EventServiceFailed, func(args ...any) {
		s, _ := args[0].(servicemesh.Service)
		err, _ := args[1].(error)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.told[s.Name()] = append(f.told[s.Name()], err)
	})
	return f
}

func (f *frFailed) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.told[name])
}

func (f *frFailed) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, errs := range f.told {
		n += len(errs)
	}
	return n
}

// frState returns the state of the service named name in m's Status.
func frState(t *testing.T, m servicemesh.Mesh, name string) servicemesh.State {
	t.Helper()
	for _, s := range servicemesh.Status(m).Services {
		if s.Name == name {
			return s.State
		}
	}
	require.Failf(t, "not in Status", "%q", name)
	return 0
}

// frMesh returns a quiet mesh made inside the test's bubble.
func frMesh(t *testing.T) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New(t.Name())
	m.SetLogDestination(nil)
	return m
}

var errFR = errors.New("it broke")

// Every kind of permanent failure: the service is StateFailed during and
// after the shutdown, EventServiceFailed is told once, the mesh shuts down
// by itself (fail fast), and RunContext returns a *ServiceError with the
// op and the cause.
func TestEveryPermanentFailureFailsTheMeshFast(t *testing.T) {
	tests := []struct {
		name, op string
		is       error // the cause, for errors.Is; nil: only the text
		text     string
		svc      func() servicemesh.Service
		setup    func(m servicemesh.Mesh)
	}{
		{name: "init-error", op: "init", is: errFR, svc: func() servicemesh.Service {
			return &frSvc{name: "init-error", initCtx: func(context.Context) error { return errFR }}
		}},
		{name: "panics", op: "init", is: servicemesh.ErrServicePanicked, svc: func() servicemesh.Service { return frPanicInit{} }},
		{name: "goexit", op: "init", text: "runtime.Goexit", svc: func() servicemesh.Service { return frGoexitInit{} }},
		{name: "start-timeout", op: "init", is: servicemesh.ErrStartTimeout, svc: func() servicemesh.Service {
			return &frSvc{name: "start-timeout", initCtx: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
		}, setup: func(m servicemesh.Mesh) { servicemesh.SetStartTimeout(m, time.Second) }},
		{name: "orphan", op: "resolve", is: servicemesh.ErrDependencyResolutionTimeout, svc: func() servicemesh.Service {
			return &frResolver{name: "orphan"}
		}, setup: func(m servicemesh.Mesh) { m.SetDependencyResolutionTimeout(time.Second) }},
		{name: "resolver-panics", op: "resolve", is: servicemesh.ErrServicePanicked, svc: func() servicemesh.Service {
			return &frResolver{name: "resolver-panics", panics: true}
		}},
		{name: "resolver-goexit", op: "resolve", text: "runtime.Goexit", svc: func() servicemesh.Service {
			return &frGoexitResolver{name: "resolver-goexit", exitAt: 1}
		}},
		{name: "gives-up", op: "serve", is: errFR, svc: func() servicemesh.Service {
			return frServer{&frSvc{name: "gives-up", serve: func(context.Context) error { return errFR }}}
		}, setup: func(m servicemesh.Mesh) {
			servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{MaxRestarts: 2, Backoff: time.Millisecond, Jitter: -1})
		}},
		{name: "do-not-restart", op: "serve", is: servicemesh.ErrDoNotRestart, svc: func() servicemesh.Service {
			return frServer{&frSvc{name: "do-not-restart", serve: func(context.Context) error {
				return fmt.Errorf("bad config: %w", servicemesh.ErrDoNotRestart)
			}}}
		}},
		{name: "serve-goexit", op: "serve", text: "runtime.Goexit", svc: func() servicemesh.Service {
			return frServer{&frSvc{name: "serve-goexit", serve: func(context.Context) error { runtime.Goexit(); return nil }}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := frMesh(t)
				if tc.setup != nil {
					tc.setup(m)
				}
				failures := watchFailures(m)
				m.Add(&frSvc{name: "bystander"})
				m.Add(tc.svc())
				ran := make(chan error)
				go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
				err := <-ran // no signal, no Shutdown: the failure ends the run

				var se *servicemesh.ServiceError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.name, se.Service)
				assert.Equal(t, tc.op, se.Op)
				if tc.is != nil {
					assert.ErrorIs(t, err, tc.is)
				}
				assert.Contains(t, err.Error(), tc.text)
				assert.Equal(t, servicemesh.StateFailed, frState(t, m, tc.name), "failed for good, also after the shutdown")
				assert.Equal(t, servicemesh.StateStopped, frState(t, m, "bystander"))
				assert.Equal(t, 1, failures.count(tc.name), "EventServiceFailed told once")
				assert.Equal(t, 1, failures.total())
				assert.True(t, servicemesh.Status(m).Stopped)
				assert.ErrorIs(t, servicemesh.WaitReady(context.Background(), m), servicemesh.ErrShuttingDown)
			})
		})
	}
}

// KeepRunning, the mesh's or the service's own, keeps the mesh running
// after any kind of failure of that service: it stays failed, /livez says
// so, and the failure still reaches RunContext at the end.
func TestKeepRunningKeepsTheMeshUpAfterAFailure(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(map[bool]string{false: "the mesh's policy", true: "the service's own"}[own], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := frMesh(t)
				plain := &frSvc{name: "bad", initCtx: func(context.Context) error { return errFR }}
				bad := &frPolicied{frServer: frServer{plain}, policy: servicemesh.RestartPolicy{KeepRunning: true}}
				if own {
					m.Add(bad).Wait()
				} else {
					require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
					m.Add(plain).Wait()
				}
				ran := make(chan error)
				go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
				time.Sleep(time.Minute)
				synctest.Wait()
				select {
				case err := <-ran:
					require.Failf(t, "the mesh shut down", "%v", err)
				default:
				}
				assert.Equal(t, servicemesh.StateFailed, frState(t, m, "bad"))
				rec := httptest.NewRecorder()
				health.Handler(m).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/livez", nil))
				assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "/livez reports the failure")

				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				assert.ErrorIs(t, servicemesh.WaitReady(ctx, m), context.DeadlineExceeded,
					"kept running, the mesh may still become ready (the failed service may be removed)")

				m.Shutdown()
				err := <-ran
				assert.ErrorIs(t, err, errFR)
				assert.Equal(t, servicemesh.StateFailed, frState(t, m, "bad"))
				if own {
					assert.Equal(t, int32(1), bad.asked.Load(), "its own policy is read once, at Add")
				}
			})
		})
	}
}

// A failure before Run starts the shutdown at once; Run, called later,
// returns once it completed (and logs the failure).
func TestFailureBeforeRunEndsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		m.Add(frPanicInit{}).Wait()
		synctest.Wait()
		require.ErrorIs(t, servicemesh.WaitReady(context.Background(), m), servicemesh.ErrShuttingDown)
		m.Run()
		assert.Contains(t, logs.String(), `level=ERROR msg="run ended with errors"`)
		assert.Contains(t, logs.String(), `level=ERROR msg="shutting the mesh down: a service failed for good" service=TestFailureBeforeRunEndsTheRun subject=panics op=init`)
	})
}

// WaitReady returns at once, with the failure, once a service failed for
// good; with ErrShuttingDown alone when a shutdown, not a failure, began.
func TestWaitReadyReturnsTheFailureAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		release := make(chan struct{})
		m.Add(&frSvc{name: "db", initCtx: func(context.Context) error { <-release; return errFR }})
		got := make(chan error)
		go func() { got <- servicemesh.WaitReady(context.Background(), m) }()
		synctest.Wait()
		start := time.Now()
		close(release)
		err := <-got
		assert.Zero(t, time.Since(start), "at once")
		var se *servicemesh.ServiceError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "db", se.Service)
		assert.ErrorIs(t, err, errFR)
		assert.ErrorIs(t, err, servicemesh.ErrShuttingDown)
		m.Shutdown().Wait()
	})
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		m.Add(&frSvc{name: "db", initCtx: func(ctx context.Context) error { <-ctx.Done(); return nil }})
		got := make(chan error)
		go func() { got <- servicemesh.WaitReady(context.Background(), m) }()
		synctest.Wait()
		m.Shutdown()
		err := <-got
		assert.ErrorIs(t, err, servicemesh.ErrShuttingDown)
		var se *servicemesh.ServiceError
		assert.False(t, errors.As(err, &se), "no failure began it")
		m.Shutdown().Wait()
	})
}

// A start cut short by the shutdown — a resolution canceled, an
// InitContext whose context ended, whatever it returned — is no failure:
// the service is stopped, nothing is told, RunContext returns nil, and
// /livez stays 200 throughout.
func TestStartCutShortByTheShutdownIsNoFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		failures := watchFailures(m)
		m.SetDependencyResolutionTimeout(0)
		stopping := make(chan struct{})
		live := make(chan int, 1)
		h := health.Handler(m)
		m.Add(&frResolver{name: "waiting"})
		m.Add(&frSvc{name: "connecting", initCtx: func(ctx context.Context) error {
			<-ctx.Done()
			return fmt.Errorf("connect: %w", ctx.Err())
		}})
		m.Add(&frSvc{name: "opaque", initCtx: func(ctx context.Context) error {
			<-ctx.Done()
			return errors.New("gave up connecting") // does not wrap ctx.Err()
		}})
		m.Add(&frSvc{name: "probe", stop: func(context.Context) error {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/livez", nil))
			live <- rec.Code
			close(stopping)
			return nil
		}})
		time.Sleep(time.Second) // the lane goes past the Inits that wait
		synctest.Wait()
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		synctest.Wait()
		m.Shutdown()
		<-stopping
		assert.Equal(t, http.StatusOK, <-live, "/livez during the shutdown")
		assert.NoError(t, <-ran)
		assert.Zero(t, failures.total())
		for _, name := range []string{"waiting", "connecting", "opaque", "probe"} {
			assert.Equal(t, servicemesh.StateStopped, frState(t, m, name), name)
		}
	})
}

// An OnShutdownContext error is that service's own stop error, even one
// that is context.Canceled returned long before the budget: never
// ErrStopTimeout unless the budget ran out.
func TestStopErrorIsNeverMistakenForATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetShutdownTimeout(m, time.Minute))
		m.Add(&frSvc{name: "canceled", stop: func(context.Context) error { return context.Canceled }}).Wait()
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		synctest.Wait()
		start := time.Now()
		m.Shutdown().Wait()
		assert.Zero(t, time.Since(start))
		err := <-ran
		var se *servicemesh.ServiceError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "stop", se.Op)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, servicemesh.ErrStopTimeout)
	})
}

// A stop that ran out of budget is a failure: StateFailed, its
// EventServiceFailed delivered before Shutdown's WaitGroup is done, counted
// by the completion line, returned by RunContext.
func TestStopOverBudgetIsToldBeforeShutdownCompletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		require.True(t, servicemesh.SetShutdownTimeout(m, time.Second))
		release := make(chan struct{})
		var handled atomic.Bool
		m.Events().On(servicemesh.EventServiceFailed, func(...any) {
			time.Sleep(100 * time.Millisecond) // a handler that takes a while
			handled.Store(true)
		})
		m.Add(&frSvc{name: "hung", stop: func(context.Context) error { <-release; return nil }}).Wait()
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		synctest.Wait()
		m.Shutdown().Wait()
		assert.True(t, handled.Load(), "EventServiceFailed was delivered before Wait returned")
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "hung"))
		assert.Contains(t, logs.String(), `msg="shutdown complete"`)
		assert.Contains(t, logs.String(), "failures=1")
		assert.ErrorIs(t, <-ran, servicemesh.ErrStopTimeout)
		close(release)
		synctest.Wait()
	})
}

// SetShutdownTimeout during a shutdown moves the deadline of the stop
// contexts already handed out, both ways.
func TestShutdownTimeoutMovesHandedOutStopContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetShutdownTimeout(m, time.Hour))
		var deadlines []time.Time
		var mu sync.Mutex
		got := make(chan context.Context, 1)
		m.Add(&frSvc{name: "waits", stop: func(ctx context.Context) error {
			got <- ctx
			<-ctx.Done()
			d, _ := ctx.Deadline()
			mu.Lock()
			deadlines = append(deadlines, d)
			mu.Unlock()
			return ctx.Err()
		}}).Wait()
		start := time.Now()
		down := m.Shutdown()
		ctx := <-got
		d, ok := ctx.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(time.Hour), d)
		time.Sleep(time.Second)
		require.True(t, servicemesh.SetShutdownTimeout(m, 3*time.Second))
		d, _ = ctx.Deadline()
		assert.Equal(t, start.Add(3*time.Second), d, "the deadline moved")
		down.Wait()
		assert.Equal(t, start.Add(3*time.Second), time.Now(), "at the new budget: its stop returned as its context ended")
		assert.ErrorIs(t, context.Cause(ctx), context.DeadlineExceeded)
	})
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetShutdownTimeout(m, time.Second))
		got := make(chan context.Context, 1)
		m.Add(&frSvc{name: "waits", stop: func(ctx context.Context) error {
			got <- ctx
			child, cancel := context.WithCancel(ctx) // derived: no goroutine of its own
			defer cancel()
			<-child.Done()
			return nil
		}}).Wait()
		start := time.Now()
		down := m.Shutdown()
		ctx := <-got
		require.True(t, servicemesh.SetShutdownTimeout(m, 0)) // none
		_, ok := ctx.Deadline()
		assert.False(t, ok)
		time.Sleep(time.Minute)
		assert.NoError(t, ctx.Err(), "no budget: it never ends")
		require.True(t, servicemesh.SetShutdownTimeout(m, 2*time.Minute))
		down.Wait()
		assert.Equal(t, start.Add(2*time.Minute), time.Now(), "ended at the new budget, without the grace: the stop returned at once")
	})
}

// Drain only a mesh that was ready: a mesh that never became ready has
// nothing to drain and stops at once.
func TestDrainOnlyWhenReady(t *testing.T) {
	for _, ready := range []bool{true, false} {
		t.Run(map[bool]string{true: "ready", false: "never ready"}[ready], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := frMesh(t)
				require.True(t, servicemesh.SetDrainDelay(m, 5*time.Second))
				release := make(chan struct{})
				defer close(release)
				if ready {
					m.Add(&frSvc{name: "db"}).Wait()
				} else {
					m.Add(&frSvc{name: "db", initCtx: func(ctx context.Context) error {
						select {
						case <-ctx.Done():
						case <-release:
						}
						return nil
					}})
				}
				synctest.Wait()
				start := time.Now()
				m.Shutdown().Wait()
				want := time.Duration(0)
				if ready {
					want = 5 * time.Second
				}
				assert.Equal(t, want, time.Since(start))
			})
		})
	}
}

// Between a Serve failure and its restart the service is backing off: not
// ready, the mesh not ready, /livez 200, Status showing restarts and error.
func TestBackingOffBetweenFailureAndRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{Backoff: time.Second, Jitter: -1}))
		s := frServer{&frSvc{name: "flaky"}}
		s.serve = func(ctx context.Context) error {
			if s.serves.Load() == 1 {
				return errFR
			}
			<-ctx.Done()
			return nil
		}
		m.Add(s).Wait()
		synctest.Wait()
		st := servicemesh.Status(m).Services[0]
		assert.Equal(t, servicemesh.StateBackingOff, st.State)
		assert.Equal(t, "backing off", st.State.String())
		assert.Equal(t, 1, st.Restarts)
		assert.Contains(t, st.Error, "it broke")
		assert.False(t, servicemesh.Ready(m))
		rec := httptest.NewRecorder()
		health.Handler(m).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/livez", nil))
		assert.Equal(t, http.StatusOK, rec.Code)

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, servicemesh.StateRunning, frState(t, m, "flaky"))
		assert.True(t, servicemesh.Ready(m))
		m.Shutdown().Wait()
		assert.Equal(t, int32(2), s.serves.Load())
	})
}

// A service removed while it backs off is never restarted, nor given up
// on, nor does it shut the mesh down.
func TestRemovedServiceIsNeverActedOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{MaxRestarts: -1}))
		failures := watchFailures(m)
		release := make(chan struct{})
		s := frServer{&frSvc{name: "leaving", serve: func(context.Context) error {
			<-release // ignores its context: fails after its removal
			return errFR
		}}}
		m.Add(s).Wait()
		synctest.Wait()
		m.Remove(s).Wait()
		close(release)
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, int32(1), s.serves.Load(), "no restart")
		assert.Zero(t, failures.total(), "no give-up")
		assert.NoError(t, servicemesh.WaitReady(context.Background(), m), "the mesh runs on")
		m.Shutdown().Wait()
	})
}

// A Serve that ends with runtime.Goexit fails its service, and never holds
// back a later Remove and Add of the same service.
func TestServeGoexitDoesNotBlockReAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
		s := frServer{&frSvc{name: "exits"}}
		s.serve = func(ctx context.Context) error {
			if s.serves.Load() == 1 {
				runtime.Goexit()
			}
			<-ctx.Done()
			return nil
		}
		m.Add(s).Wait()
		synctest.Wait()
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "exits"))
		m.Remove(s).Wait()
		m.Add(s).Wait()
		synctest.Wait()
		assert.Equal(t, servicemesh.StateRunning, frState(t, m, "exits"))
		assert.Equal(t, int32(2), s.serves.Load())
		m.Shutdown().Wait()
	})
}

// An Init that ends with runtime.Goexit on the lane fails its service and
// the lane goes on: the services added after it start in order.
func TestInitGoexitLeavesTheLaneRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
		first, after := &frSvc{name: "first"}, &frSvc{name: "after"}
		m.Add(first).Wait()
		m.Add(frGoexitInit{}).Wait()
		m.Add(after).Wait()
		synctest.Wait()
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "goexit"))
		assert.Equal(t, servicemesh.StateRunning, frState(t, m, "after"))
		m.Shutdown().Wait()
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "goexit"))
	})
}

// An Init left behind by the shutdown that returns later gets no Serve and
// tells nothing: no event once the shutdown completed.
func TestInitLeftBehindGetsNoServeAndTellsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetShutdownTimeout(m, time.Second))
		release := make(chan struct{})
		s := frServer{&frSvc{name: "slow", initCtx: func(context.Context) error {
			<-release // ignores its context
			return nil
		}}}
		var after atomic.Int32
		var over atomic.Bool
		for _, ev := range []string{servicemesh.EventServiceInitialized, servicemesh.EventServiceFailed, servicemesh.EventMeshReady} {
			m.Events().On(ev, func(...any) {
				if over.Load() {
					after.Add(1)
				}
			})
		}
		added := m.Add(s)
		synctest.Wait()
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		synctest.Wait()
		m.Shutdown().Wait()
		over.Store(true)
		assert.NoError(t, <-ran)
		close(release)
		added.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Zero(t, s.serves.Load(), "no Serve once the shutdown began")
		assert.Zero(t, after.Load(), "no event once the shutdown completed")
		assert.NotEqual(t, servicemesh.StateRunning, frState(t, m, "slow"))
	})
}

// Backoff arithmetic saturates: a policy with a huge backoff waits, it
// never overflows into an immediate restart.
func TestHugeBackoffNeverRestartsAtOnce(t *testing.T) {
	for _, p := range []servicemesh.RestartPolicy{
		{Backoff: time.Duration(1<<62 + 1), MaxBackoff: time.Duration(1<<63 - 1), Jitter: 1},
		{Backoff: time.Duration(1<<63 - 1), Jitter: 1},
		{Backoff: time.Duration(1<<62 + 1), MaxBackoff: time.Duration(1<<63 - 1), Jitter: -1},
	} {
		synctest.Test(t, func(t *testing.T) {
			m := frMesh(t)
			require.True(t, servicemesh.SetRestartPolicy(m, p))
			s := frServer{&frSvc{name: "fails", serve: func(context.Context) error { return errFR }}}
			m.Add(s).Wait()
			time.Sleep(24 * time.Hour)
			synctest.Wait()
			assert.Equal(t, int32(1), s.serves.Load(), "%+v: still backing off", p)
			assert.Equal(t, servicemesh.StateBackingOff, frState(t, m, "fails"))
			m.Shutdown().Wait()
		})
	}
}

// A policy whose MaxRestarts can never be reached within its Window at its
// backoff is reported at Warn when it is set, or at Add for a service's own.
func TestUnreachableMaxRestartsIsReported(t *testing.T) {
	unreachable := servicemesh.RestartPolicy{MaxRestarts: 4, Backoff: 10 * time.Second, Window: 30 * time.Second}
	reachable := servicemesh.RestartPolicy{MaxRestarts: 4, Backoff: time.Second, Window: 30 * time.Second}
	for _, tc := range []struct {
		name string
		p    servicemesh.RestartPolicy
		own  bool
		warn bool
	}{
		{"mesh, unreachable", unreachable, false, true},
		{"mesh, reachable", reachable, false, false},
		{"own, unreachable", unreachable, true, true},
		{"own, reachable", reachable, true, false},
		{"never restarts", servicemesh.RestartPolicy{MaxRestarts: -1, Backoff: time.Hour}, false, false},
		{"the defaults", servicemesh.RestartPolicy{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := frMesh(t)
				var logs syncBuffer
				m.SetLogDestination(&logs)
				if tc.own {
					m.Add(&frPolicied{frServer: frServer{&frSvc{name: "own"}}, policy: tc.p}).Wait()
				} else {
					servicemesh.SetRestartPolicy(m, tc.p)
				}
				assert.Equal(t, tc.warn, strings.Contains(logs.String(), "level=WARN msg=\"restart policy never gives up"), logs.String())
				m.Shutdown().Wait()
			})
		})
	}
}

// ErrShutdownMesh is a request, not a failure: the service is stopped, no
// EventServiceFailed is told, and RunContext returns the error.
func TestShutdownMeshIsARequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		failures := watchFailures(m)
		m.Add(frServer{&frSvc{name: "done", serve: func(context.Context) error {
			return fmt.Errorf("migration finished: %w", servicemesh.ErrShutdownMesh)
		}}})
		err := servicemesh.RunContext(context.Background(), m)
		assert.ErrorIs(t, err, servicemesh.ErrShutdownMesh)
		assert.Equal(t, servicemesh.StateStopped, frState(t, m, "done"))
		assert.Zero(t, failures.total())
	})
}

// A service that failed for good, kept running, is still stopped in its
// turn (what its Init opened is released); if that stop fails too, the
// failure reaches RunContext, and nothing is told a second time.
func TestStopOfAFailedServiceIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{MaxRestarts: -1, KeepRunning: true}))
		failures := watchFailures(m)
		errFlush := errors.New("cannot flush")
		var stopped atomic.Bool
		m.Add(frServer{&frSvc{
			name:  "writer",
			serve: func(context.Context) error { return errFR },
			stop:  func(context.Context) error { stopped.Store(true); return errFlush },
		}}).Wait()
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		synctest.Wait()
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "writer"))
		m.Shutdown()
		err := <-ran
		assert.True(t, stopped.Load(), "stopped in its turn")
		assert.ErrorIs(t, err, errFR)
		assert.ErrorIs(t, err, errFlush)
		assert.Equal(t, 1, failures.count("writer"))
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "writer"))
	})
}

// A service whose Serve returned nil is stopped, which is no failure: the
// mesh stays ready with it (DESIGN §5).
func TestServeReturningNilKeepsTheMeshReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		m.Add(&frSvc{name: "db"})
		m.Add(frServer{&frSvc{name: "migration", serve: func(context.Context) error { return nil }}}).Wait()
		synctest.Wait()
		assert.Equal(t, servicemesh.StateStopped, frState(t, m, "migration"))
		assert.True(t, servicemesh.Ready(m))
		assert.NoError(t, servicemesh.WaitReady(context.Background(), m))
		m.Shutdown().Wait()
	})
}

// A start timeout of an InitContext that returns the moment its context
// ends is a failure, never a start cut short.
func TestStartTimeoutOfAnInitContextThatReturnsAtOnce(t *testing.T) {
	for range 20 {
		synctest.Test(t, func(t *testing.T) {
			m := frMesh(t)
			require.True(t, servicemesh.SetStartTimeout(m, time.Second))
			m.Add(&frSvc{name: "slow", initCtx: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
			err := servicemesh.RunContext(context.Background(), m)
			assert.ErrorIs(t, err, servicemesh.ErrStartTimeout)
			assert.Equal(t, servicemesh.StateFailed, frState(t, m, "slow"))
		})
	}
}
