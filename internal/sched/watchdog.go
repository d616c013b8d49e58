package sched

// The scheduler's watchdog: while the scheduler's goroutine runs attempts,
// a tick every timing.SchedulerTick checks that they move on, and hands the
// scheduler on to a new goroutine when one resolver has not returned for
// timing.ResolverStallTicks ticks. Its fields (ticking, ticks, seen, dog) are
// in type Scheduler and guarded by Scheduler.mu.

import (
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// armWatchdog arms the watchdog's next tick unless armed. The caller holds
// mu.
func (s *Scheduler[D]) armWatchdog() {
	if s.ticking {
		return
	}
	s.ticking = true
	if s.dog == nil {
		s.dog = time.AfterFunc(timing.SchedulerTick, s.watchdog)
	} else {
		s.dog.Reset(timing.SchedulerTick)
	}
}

// idleWatchdog stops the watchdog's timer: the owner goes idle. Without it,
// every pass of polls would cost a second wake-up, the watchdog's. The
// caller holds mu.
func (s *Scheduler[D]) idleWatchdog() {
	if s.ticking && s.dog.Stop() {
		s.ticking, s.ticks = false, 0
	}
	// A tick that could not be stopped runs, finds the owner between
	// attempts, and ends the ticking itself.
}

// watchdog hands the scheduler on to a new goroutine when the owner has
// been in one attempt for timing.ResolverStallTicks ticks.
func (s *Scheduler[D]) watchdog() {
	s.mu.Lock()
	s.ticking = false
	if !s.running || !s.inAttempt {
		s.ticks = 0
		s.mu.Unlock()
		return // idle or between attempts: the next attempt arms it again
	}
	if s.attempts != s.seen {
		s.seen, s.ticks = s.attempts, 0
	} else if s.ticks++; s.ticks >= timing.ResolverStallTicks {
		s.ticks = 0
		s.start()
		s.mu.Unlock()
		// After the lock: the mesh logs it, through the application's
		// log handler.
		s.cfg.Stalled()
		return
	}
	s.armWatchdog()
	s.mu.Unlock()
}
