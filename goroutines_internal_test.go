package servicemesh

// No timer or goroutine of the mesh outlives Shutdown().Wait() (DESIGN §8,
// Shutdown), checked from inside where the black-box tests of
// goroutines_test.go can only catch it by chance: the shutdown goroutine's
// own deferred calls, and the watchdog timers of the lane and the
// scheduler, which run mesh code when they fire.

import (
	"io"
	"sync"
	"testing"
	"time"
)

const giBound = 3 * time.Second

type giPlain struct{ name string }

func (s *giPlain) Name() string { return s.name }
func (s *giPlain) Init(Mesh)    {}

type giStopper struct {
	giPlain
	stop func()
}

func (s *giStopper) OnShutdown() { s.stop() }

type giWaiter struct{ giPlain }

func (s *giWaiter) DependenciesResolved() bool    { return false }
func (s *giWaiter) ResolveDependencies([]Service) {}

func giWait(t *testing.T, wg *sync.WaitGroup, d time.Duration) bool {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Guards: the shutdown goroutine has finished its work when Shutdown's
// WaitGroup is done.
//
// shutdown() makes shutdownWG done in the first deferred call to run, and
// only then runs budget.release() and clock.stop() (deferred earlier): mesh
// code, on a goroutine of the mesh, after Wait returned. Here the test
// holds the budget's mutex while the shutdown completes: Wait returns while
// the shutdown goroutine is still blocked in budget.release.
//
// Fix (shutdown.go, shutdown): run budget.release() and clock.stop() inside
// the completion func, before close(m.finished) / shutdownWG.Done(), or
// register the completion func first so that it runs last.
func TestGoroutinesInternalShutdownReleasesBudgetBeforeDone(t *testing.T) {
	m := New("gi budget").(*mesh)
	m.SetLogDestination(io.Discard)
	stopping, release := make(chan struct{}), make(chan struct{})
	s := &giStopper{giPlain: giPlain{"stopper"}, stop: func() { close(stopping); <-release }}
	if !giWait(t, m.Add(s), giBound) {
		t.Fatal("Add did not complete")
	}
	wg := m.Shutdown()
	select {
	case <-stopping: // the budget was made and set before the stops began
	case <-time.After(giBound):
		close(release)
		t.Fatal("OnShutdown was not called")
	}
	b := m.stopBudget.Load()
	b.mu.Lock()
	close(release)
	returned := giWait(t, wg, 300*time.Millisecond)
	b.mu.Unlock()
	if returned {
		t.Error("Shutdown().Wait() returned while the shutdown goroutine had yet to run budget.release (it waits on the budget's mutex): the shutdown goroutine outlives Wait")
	}
	if !giWait(t, wg, giBound) {
		t.Fatal("shutdown did not complete")
	}
}

// Guards: the lane's watchdog is not armed once Shutdown().Wait() returned.
//
// The lane arms time.AfterFunc(timing.LaneTick, tick) while it runs; were
// nothing to stop it when the lane goes idle, a mesh shut down within a
// timing.LaneTick of its last Add would still have the tick armed when Wait
// returns, and the tick (taking the lane's lock) would run after.
//
// Fix (internal/lane): keep the tick's *time.Timer in the Lane; when the
// lane goroutine finds the queue empty (and in handOn when it leaves the
// lane idle), Stop it and clear the armed flag; count an armed tick so that
// Close, which the shutdown calls, waits for a tick that could not be
// stopped.
func TestGoroutinesInternalLaneWatchdogDisarmedAfterWait(t *testing.T) {
	armed := 0
	for range 50 {
		m := New("gi lane").(*mesh)
		m.SetLogDestination(io.Discard)
		if !giWait(t, m.Add(&giPlain{"plain"}), giBound) {
			t.Fatal("Add did not complete")
		}
		if !giWait(t, m.Shutdown(), giBound) {
			t.Fatal("shutdown did not complete")
		}
		if m.lane.Armed() {
			armed++
		}
	}
	if armed > 0 {
		t.Errorf("the lane's watchdog tick was still armed right after Shutdown().Wait() returned in %d of 50 shutdowns", armed)
	}
}

// Guards: the scheduler's watchdog is not armed once Shutdown().Wait()
// returned (it is stopped when the scheduler goes idle; a tick that could
// not be stopped still runs mesh code).
func TestGoroutinesInternalSchedulerWatchdogDisarmedAfterWait(t *testing.T) {
	armed := 0
	for range 30 {
		m := New("gi sched").(*mesh)
		m.SetLogDestination(io.Discard)
		for i := range 10 {
			m.Add(&giWaiter{giPlain{string(rune('a' + i))}})
		}
		time.Sleep(3 * time.Millisecond) // a few polls
		if !giWait(t, m.Shutdown(), giBound) {
			t.Fatal("shutdown did not complete")
		}
		m.sched.mu.Lock()
		if m.sched.ticking {
			armed++
		}
		m.sched.mu.Unlock()
	}
	if armed > 0 {
		t.Errorf("the scheduler's watchdog tick was still armed right after Shutdown().Wait() returned in %d of 30 shutdowns", armed)
	}
}
