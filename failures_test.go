package servicemesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// initErr returns err from InitContext, or waits for its context to end
// when wait is set, and notes what it was told.
type initErr struct {
	name     string
	err      error
	wait     bool
	stopped  atomic.Bool
	ctxEnded atomic.Bool
}

func (s *initErr) Name() string { return s.name }
func (s *initErr) Init(Mesh)    { panic("InitContext is called instead") }
func (s *initErr) InitContext(ctx context.Context, _ Mesh) error {
	if s.wait {
		<-ctx.Done()
		s.ctxEnded.Store(true)
		return ctx.Err()
	}
	return s.err
}
func (s *initErr) OnShutdown() { s.stopped.Store(true) }

// stopErr returns err from OnShutdownContext, or waits for its context when
// wait is set.
type stopErr struct {
	name     string
	err      error
	wait     bool
	deadline time.Time
}

func (s *stopErr) Name() string { return s.name }
func (s *stopErr) Init(Mesh)    {}
func (s *stopErr) OnShutdown()  { panic("OnShutdownContext is called instead") }
func (s *stopErr) OnShutdownContext(ctx context.Context) error {
	s.deadline, _ = ctx.Deadline()
	if s.wait {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.err
}

type panicsInInit struct{}

func (panicsInInit) Name() string { return "panics" }
func (panicsInInit) Init(Mesh)    { panic("boom") }

// failedObserver records the failures it is told about.
type failedObserver struct {
	mu   sync.Mutex
	seen []error
}

func (f *failedObserver) Name() string { return "observer" }
func (f *failedObserver) Init(Mesh)    {}
func (f *failedObserver) OnServiceFailed(_ Service, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, err)
}

// RunContext returns every failure of the run joined, each a *ServiceError
// naming the service and what failed, matched with errors.Is.
func TestRunContextReturnsEveryFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		// Kept running, so that every kind of failure happens in one run.
		require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true}))
		require.True(t, SetShutdownTimeout(m, time.Second))
		m.SetDependencyResolutionTimeout(time.Second)
		obs := &failedObserver{}
		m.Add(obs).Wait()
		errOpen := errors.New("cannot open the store")
		errFlush := errors.New("cannot flush")
		m.Add(&initErr{name: "store", err: errOpen}).Wait()
		m.Add(panicsInInit{}).Wait()
		m.Add(&neverSatisfied{name: "orphan"}).Wait() // times out after 1 s
		m.Add(&stopErr{name: "flusher", err: errFlush}).Wait()
		m.Add(&stopErr{name: "hung", wait: true}).Wait()

		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error)
		go func() { ran <- RunContext(ctx, m) }()
		synctest.Wait()
		cancel()
		err := <-ran

		require.Error(t, err)
		want := []struct {
			service, op string
			is          error
		}{
			{"store", "init", errOpen},
			{"panics", "init", ErrServicePanicked},
			{"orphan", "resolve", ErrDependencyResolutionTimeout},
			{"flusher", "stop", errFlush},
			{"hung", "stop", ErrStopTimeout},
		}
		var got []*ServiceError
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var se *ServiceError
			require.True(t, errors.As(e, &se), "%v is a *ServiceError", e)
			got = append(got, se)
		}
		require.Len(t, got, len(want), "%v", err)
		for _, w := range want {
			found := false
			for _, se := range got {
				if se.Service == w.service && se.Op == w.op && errors.Is(se, w.is) {
					found = true
				}
			}
			assert.True(t, found, "a %s failure of %s wrapping %v in %v", w.op, w.service, w.is, err)
		}
		assert.ErrorIs(t, err, ErrStopTimeout)
		obs.mu.Lock()
		assert.Len(t, obs.seen, len(want), "EventServiceFailed told each one")
		obs.mu.Unlock()
	})
}

// neverSatisfied waits for a dependency that never comes.
type neverSatisfied struct{ name string }

func (n *neverSatisfied) Name() string                  { return n.name }
func (n *neverSatisfied) Init(Mesh)                     {}
func (n *neverSatisfied) DependenciesResolved() bool    { return false }
func (n *neverSatisfied) ResolveDependencies([]Service) {}

func TestRunContextCleanRunAndForeignMesh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.Add(&plainSvc{name: "fine"}).Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.NoError(t, RunContext(ctx, m), "a run ended by its context is clean")
	})
	var foreign Mesh
	assert.NoError(t, RunContext(context.Background(), foreign))
}

// An InitContext that fails makes its service failed: not stopped, and no
// longer handed to resolvers; one that waits sees its context end when
// shutdown begins.
func TestInitContextFailureAndCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true}))
		bad := &initErr{name: "bad", err: errors.New("no")}
		m.Add(bad).Wait()
		assert.Equal(t, StateFailed, lookup(m, bad).lc.State())
		assert.NotContains(t, m.reg.Snapshot(), Service(bad), "resolvers no longer see it")
		assert.Contains(t, m.Services(), Service(bad), "Services still lists it")

		slow := &initErr{name: "slow", wait: true}
		added := m.Add(slow)
		synctest.Wait()
		m.Shutdown().Wait()
		added.Wait()
		assert.True(t, slow.ctxEnded.Load(), "its context ended when shutdown began")
		assert.False(t, bad.stopped.Load(), "a failed service is not stopped")
		assert.ErrorContains(t, m.failed(), `"bad": init: no`)
	})
}

// Past the start timeout a service is failed with ErrStartTimeout and its
// Add's WaitGroup is done, whether its Init is the legacy kind (left
// running) or InitContext (its context ends).
func TestStartTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true}))
		require.True(t, SetStartTimeout(m, 3*time.Second))
		release := make(chan struct{})
		legacy := &stuck{where: "Init", release: release}
		withCtx := &initErr{name: "ctx", wait: true}
		start := time.Now()
		m.Add(legacy).Wait()
		assert.Equal(t, 3*time.Second, time.Since(start))
		m.Add(withCtx).Wait() // done at the timeout, as its context ends
		synctest.Wait()
		assert.True(t, withCtx.ctxEnded.Load())
		assert.Equal(t, StateFailed, lookup(m, legacy).lc.State())
		assert.Equal(t, StateFailed, lookup(m, withCtx).lc.State())
		err := m.failed()
		assert.ErrorIs(t, err, ErrStartTimeout)
		assert.Equal(t, 2, strings.Count(err.Error(), "start timed out"))
		close(release)
		m.Shutdown().Wait()
	})
	var foreign Mesh
	assert.False(t, SetStartTimeout(foreign, time.Second))
}

// OnShutdownContext gets the shutdown's deadline in its context.
func TestShutdownContextCarriesTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetShutdownTimeout(m, 7*time.Second))
		s := &stopErr{name: "s"}
		m.Add(s).Wait()
		start := time.Now()
		m.Shutdown().Wait()
		assert.Equal(t, start.Add(7*time.Second), s.deadline)
		assert.NoError(t, m.failed())
	})
}

func TestServiceErrorText(t *testing.T) {
	err := &ServiceError{Service: "db", Op: "init", Err: fmt.Errorf("%w after 1s", ErrStartTimeout)}
	assert.Equal(t, `servicemesh: service "db": init: service start timed out after 1s`, err.Error())
	assert.ErrorIs(t, err, ErrStartTimeout)
}

// failsAfterRemoval's InitContext fails once release is closed.
type failsAfterRemoval struct{ release chan struct{} }

func (s *failsAfterRemoval) Name() string { return "faillater" }
func (s *failsAfterRemoval) Init(Mesh)    {}
func (s *failsAfterRemoval) InitContext(context.Context, Mesh) error {
	<-s.release
	return errors.New("could not start")
}

// Guards: no EventServiceFailed about a service after its EventServiceRemoved.
//
// Once Remove has begun, a lifecycle emits nothing more (DESIGN §3), but
// an Init that failed after its service was removed was still recorded as
// a failure of the run and told through EventServiceFailed, after
// EventServiceRemoved. The start timeout's timer did the same.
func TestNoFailureToldAfterRemoval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		var removed, failedAfter atomic.Bool
		m.Events().On(EventServiceRemoved, func(...any) { removed.Store(true) })
		m.Events().On(EventServiceFailed, func(...any) {
			if removed.Load() {
				failedAfter.Store(true)
			}
		})
		s := &failsAfterRemoval{release: make(chan struct{})}
		m.Add(s)
		time.Sleep(10 * time.Millisecond)
		m.Remove(s).Wait()
		close(s.release)
		time.Sleep(10 * time.Millisecond)
		err := m.failed()
		m.Shutdown().Wait()
		if failedAfter.Load() {
			t.Errorf("EventServiceFailed told about a service after its EventServiceRemoved; RunContext would return %v", err)
		}
	})
}
