package servicemesh

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
)

// stopLog records the order of OnShutdown calls.
type stopLog struct {
	mu    sync.Mutex
	names []string
}

func (l *stopLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
}

// earlyReady reports itself ready from inside its Init, which then goes on.
type earlyReady struct {
	log   *stopLog
	ready atomic.Bool
}

func (d *earlyReady) Name() string { return "dependency" }
func (d *earlyReady) Ready() bool  { return d.ready.Load() }
func (d *earlyReady) Init(Mesh) {
	d.ready.Store(true)
	time.Sleep(100 * time.Millisecond) // the dependent's whole Init fits in here
}
func (d *earlyReady) OnShutdown() { d.log.add(d.Name()) }

type readyWaiter struct {
	log *stopLog
	dep *earlyReady
}

func (u *readyWaiter) Name() string { return "dependent" }
func (u *readyWaiter) Init(Mesh)    {}
func (u *readyWaiter) ResolveDependencies(services []Service) {
	u.dep, _ = Find[*earlyReady](services)
}
func (u *readyWaiter) DependenciesResolved() bool { return u.dep != nil && u.dep.Ready() }
func (u *readyWaiter) OnShutdown()                { u.log.add(u.Name()) }

func TestShutdownOrdersByWhenInitBegan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		log := &stopLog{}
		dep := m.Add(&earlyReady{log: log})
		user := m.Add(&readyWaiter{log: log})
		user.Wait() // returns while the dependency's Init still sleeps
		dep.Wait()
		m.Shutdown().Wait()
		assert.Equal(t, []string{"dependent", "dependency"}, log.names)
	})
}

// stuck blocks in the method named by where until release is closed.
type stuck struct {
	where   string
	release chan struct{}
	initing atomic.Bool
}

func (s *stuck) Name() string { return "stuck-" + s.where }
func (s *stuck) inInit() bool { return s.initing.Load() }
func (s *stuck) Init(Mesh) {
	if s.where == "Init" {
		s.initing.Store(true)
		<-s.release
	}
}
func (s *stuck) OnShutdown() {
	if s.where == "OnShutdown" {
		<-s.release
	}
}

func TestShutdownNamesHungServiceCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("hung").(*mesh)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		s := &stuck{where: "OnShutdown", release: make(chan struct{})}
		m.Add(s).Wait()
		done := m.Shutdown()

		time.Sleep(timing.WarnDelay + time.Second)
		synctest.Wait()
		assert.Contains(t, logs.String(), "shutdown is still waiting")
		assert.Contains(t, logs.String(), "stuck-OnShutdown")

		close(s.release)
		done.Wait()
		assert.Equal(t, 1, strings.Count(logs.String(), "shutdown is still waiting"))
	})
}

// Shutdown does not wait for an Init that has not returned beyond a short
// settle after the service's OnShutdown: it then completes and names the
// Init at level Warn as left behind.
func TestShutdownLeavesAHungInitBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("hung").(*mesh)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		s := &stuck{where: "Init", release: make(chan struct{})}
		added := m.Add(s)
		for !s.inInit() {
			synctest.Wait()
		}
		start := time.Now()
		m.Shutdown().Wait()
		assert.Equal(t, timing.InitSettle, time.Since(start), "shutdown waits only briefly for an Init its OnShutdown did not end")
		assert.Contains(t, logs.String(), "level=WARN msg=\"shutdown complete, leaving behind Inits that have not returned\"")
		assert.Contains(t, logs.String(), "stuck-Init")
		close(s.release)
		added.Wait()
	})
}

// looping runs its loop inside Init until OnShutdown ends it; the Init
// returns just after OnShutdown, which must not be named as left behind.
type looping struct{ quit, running chan struct{} }

func (l *looping) Name() string { return "looping" }
func (l *looping) Init(Mesh) {
	close(l.running)
	<-l.quit
}
func (l *looping) OnShutdown() { close(l.quit) }

func TestShutdownDoesNotNameAnInitItsStopEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("looping").(*mesh)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		l := &looping{quit: make(chan struct{}), running: make(chan struct{})}
		added := m.Add(l)
		<-l.running
		m.Shutdown().Wait()
		added.Wait()
		assert.NotContains(t, logs.String(), "leaving behind")
	})
}

type plainSvc struct{ name string }

func (p *plainSvc) Name() string { return p.name }
func (p *plainSvc) Init(Mesh)    {}

func TestRemovedServicesAreNotRetained(t *testing.T) {
	m := quietMesh(t)
	keep := &plainSvc{name: "kept"}
	m.Add(keep).Wait()
	for range 1000 {
		s := &plainSvc{name: "transient"}
		m.Add(s).Wait()
		m.Remove(s).Wait()
	}
	assert.Less(t, m.starts.Len(), int64(200), "removed services are dropped from the stop order")
	order := m.stopOrder()
	assert.Equal(t, []*entry{lookup(m, keep)}, order)
	m.Shutdown().Wait()
}

type ctxBoundInit struct{ returned atomic.Bool }

func (s *ctxBoundInit) Name() string { return "ctxinit" }
func (s *ctxBoundInit) Init(Mesh)    {}
func (s *ctxBoundInit) InitContext(ctx context.Context, _ Mesh) error {
	<-ctx.Done()
	s.returned.Store(true)
	return ctx.Err()
}

type slowFailWatcher struct{ in, out atomic.Int32 }

func (s *slowFailWatcher) Name() string { return "failwatcher" }
func (s *slowFailWatcher) Init(Mesh)    {}
func (s *slowFailWatcher) OnServiceFailed(Service, error) {
	s.in.Add(1)
	time.Sleep(200 * time.Millisecond)
	s.out.Add(1)
}

// Guards: shutdown waits for the failure handlers of an InitContext it ended.
//
// An InitContext ended by the shutdown returns an error; fail() told
// EventServiceFailed on the lifecycle goroutine, which was not counted in
// busy while "in Init": the shutdown completed while the handlers still
// ran, though that Init had returned.
func TestInitContextFailureIsToldBeforeShutdownCompletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		w := &slowFailWatcher{}
		m.Add(w).Wait()
		s := &ctxBoundInit{}
		m.Add(s)
		time.Sleep(10 * time.Millisecond) // InitContext is waiting on its ctx
		m.Shutdown().Wait()
		returned, in, out := s.returned.Load(), w.in.Load(), w.out.Load()
		time.Sleep(time.Second) // let the handler end, so the bubble can
		if returned && in != out {
			t.Errorf("shutdown completed while an EventServiceFailed handler for a returned InitContext still ran (in=%d out=%d)", in, out)
		}
	})
}

// settleLoopCtx runs its loop inside Init until OnShutdownContext tells it
// to end; settleLoop, until OnShutdown does.
type settleLoopCtx struct {
	quit     chan struct{}
	returned atomic.Bool
}

func (s *settleLoopCtx) Name() string { return "loopctx" }
func (s *settleLoopCtx) Init(Mesh) {
	<-s.quit
	time.Sleep(10 * time.Millisecond) // tidy up
	s.returned.Store(true)
}
func (s *settleLoopCtx) OnShutdownContext(context.Context) error { close(s.quit); return nil }

type settleLoop struct {
	quit     chan struct{}
	returned atomic.Bool
}

func (s *settleLoop) Name() string { return "loop" }
func (s *settleLoop) Init(Mesh) {
	<-s.quit
	time.Sleep(10 * time.Millisecond)
	s.returned.Store(true)
}
func (s *settleLoop) OnShutdown() { close(s.quit) }

// Guards: shutdown settles the Init of a service its OnShutdownContext ended.
//
// settleInits waited for the Inits of stopped services that implement
// HasGracefulShutdown only: a service told to end its Init by
// OnShutdownContext was left behind (and named at Warn) although it was
// told.
func TestSettleInitsHonoursOnShutdownContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		legacy := &settleLoop{quit: make(chan struct{})}
		m.Add(legacy)
		time.Sleep(time.Millisecond)
		m.Shutdown().Wait()
		if !legacy.returned.Load() {
			t.Fatalf("legacy: Init not settled")
		}
		synctest.Wait()
	})
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &settleLoopCtx{quit: make(chan struct{})}
		m.Add(s)
		time.Sleep(time.Millisecond)
		m.Shutdown().Wait()
		if !s.returned.Load() {
			t.Errorf("the Init of a service stopped by OnShutdownContext was not given timing.InitSettle to return")
		}
		time.Sleep(time.Second) // let it end, so the bubble can
	})
}

// The handlers of EventDependencyResolutionFailed that shutdown's
// cancellations tell run side by side, as when each waiting service had a
// goroutine of its own: a handler that takes a while delays its own
// service, never the cancellation of the others (before, they ran one
// after another on the scheduler's goroutine, each holding it up until the
// watchdog handed it on: 200 waiters and a 50 ms handler made a 50 ms
// shutdown take 2.5 s). Without a listener the cancellations start no
// goroutine (see resumeResolved).
func TestShutdownTellsCanceledResolutionsSideBySide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.SetDependencyResolutionTimeout(0)
		var told atomic.Int32
		m.Events().On(EventDependencyResolutionFailed, func(...any) {
			time.Sleep(50 * time.Millisecond)
			told.Add(1)
		})
		const n = 100
		for i := range n {
			m.Add(&outsider{name: "waiter" + string(rune('A'+i%26)) + string(rune('a'+i/26))})
		}
		time.Sleep(time.Second)
		synctest.Wait()
		start := time.Now()
		m.Shutdown().Wait()
		assert.Equal(t, int32(n), told.Load(), "every cancellation told")
		assert.LessOrEqual(t, time.Since(start), 100*time.Millisecond, "the handlers ran one after another")
	})
}
