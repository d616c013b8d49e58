package servicemesh

// No timer or goroutine of the mesh outlives Shutdown().Wait() (DESIGN §8,
// Shutdown), checked from inside where the black-box tests of
// goroutines_test.go can only catch it by chance: the shutdown goroutine's
// own deferred calls, and the watchdog timer of the lane, which runs mesh
// code when it fires (the scheduler's is checked in internal/sched).

import (
	"io"
	"sync"
	"testing"
	"testing/synctest"
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
// shutdown() made shutdownWG done in the first deferred call to run, and
// only then released the budget context's timer and the clock's (deferred
// earlier): mesh code, on a goroutine of the mesh, after Wait returned.
// Here, in a synctest bubble (where the mesh has no signal goroutine), the
// test holds the shutdown goroutine at its last step before Done, the wait
// for the signal goroutine, and lets the budget's deadline pass meanwhile:
// had the budget's timer not been released by then, it ends the stops'
// context, after the shutdown completed.
//
// Fix (shutdown.go, shutdown): release the clock (deadline.Clock.Stop)
// inside the completion func, before close(m.finished) / shutdownWG.Done(),
// or register the completion func first so that it runs last.
func TestGoroutinesInternalShutdownReleasesBudgetBeforeDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("gi budget").(*mesh)
		m.SetLogDestination(io.Discard)
		SetShutdownTimeout(m, time.Second)
		sigDone := make(chan struct{})
		m.sigDone = sigDone // in a bubble the mesh does not listen: no goroutine reads it
		if !giWait(t, m.Add(&giStopper{giPlain: giPlain{"stopper"}, stop: func() {}}), giBound) {
			t.Fatal("Add did not complete")
		}
		wg := m.Shutdown()
		synctest.Wait() // the shutdown goroutine waits for sigDone, its last step before Done
		select {
		case <-m.finished:
		default:
			t.Fatal("the shutdown did not reach its completion")
		}
		b := m.stopBudget.Load()
		time.Sleep(2 * time.Second) // past the budget's deadline
		synctest.Wait()
		if b.Err() != nil {
			t.Error("the budget's timer ended the stops' context after the shutdown completed: it was released after the wait for the last goroutine, so after Shutdown().Wait() could return")
		}
		close(sigDone)
		wg.Wait()
	})
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
