package sched

// The scheduler's goroutine: it runs queued and due attempts, one after
// another, and sleeps until the next is due.

import (
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// run runs queued and due attempts while generation gen owns the
// scheduler, sleeping until the next is due, and ends when nobody waits,
// or when the watchdog handed the scheduler on while a resolver ran. When
// code it calls ends this goroutine with runtime.Goexit (a resolver, whose
// resolution attempt ended, or the mesh's log handler), a new generation
// takes the queue on at once.
func (s *Scheduler[D]) run(gen uint64) {
	defer s.cfg.BusyDone()
	returned := false
	defer func() {
		if !returned {
			s.handOn(gen)
		}
	}()
	s.loop(gen)
	returned = true
}

// handOn starts a new owner in place of generation gen, whose goroutine
// is ending without returning, unless the watchdog did already.
func (s *Scheduler[D]) handOn(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.start()
	}
}

// loop is run's body: it returns when generation gen no longer owns the
// scheduler, or nobody waits.
func (s *Scheduler[D]) loop(gen uint64) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// now is read again once the queue is empty and every timing.ClockEvery
	// attempts: a poll of ten thousand waiters must not cost ten thousand
	// clock reads.
	var now time.Time
	stale := 0
	s.mu.Lock()
	for {
		if s.gen != gen { // handed on while a resolver ran
			s.mu.Unlock()
			return
		}
		if stale == 0 || s.head == len(s.runq) {
			last := now
			now, stale = time.Now(), timing.ClockEvery
			if now.Sub(last) > timing.ClockStale {
				stale = 1 // slow attempts: a reading for each
			}
		}
		stale--
		s.collect(now)
		if s.head == len(s.runq) {
			stale = 0
			s.runq, s.head = s.runq[:0], 0
			if !s.passStart.IsZero() {
				s.lastPass, s.passStart = now.Sub(s.passStart), time.Time{}
			}
			s.idleWatchdog()
			if s.waiting.Len() == 0 {
				s.running, s.broadcastAt, s.lastPass = false, time.Time{}, 0
				s.mu.Unlock()
				return
			}
			// Asleep until the next poll or broadcast, or a poke; with
			// neither (every waiter is in an attempt), only a poke.
			next := s.broadcastAt
			if due, ok := s.polls.next(); ok && (next.IsZero() || due.Before(next)) {
				next = due
			}
			s.idle, s.sleepUntil = true, next
			s.mu.Unlock()
			var expired <-chan time.Time
			if !next.IsZero() {
				timer.Reset(next.Sub(now))
				expired = timer.C
			}
			select {
			case <-expired:
			case <-s.wake:
			}
			s.mu.Lock()
			s.idle, s.sleepUntil = false, time.Time{}
			continue
		}
		w := s.runq[s.head]
		s.runq[s.head] = nil
		s.head++
		w.queued = false
		w.attempting = true
		polled := w.polled
		w.polled = false
		s.attempts++
		s.inAttempt = true
		s.armWatchdog()
		s.mu.Unlock()
		if s.runAttempt(w, polled, now) {
			s.cfg.Resume(w, false)
		}
		s.mu.Lock()
		if s.gen == gen {
			s.inAttempt = false
			if s.seen == s.attempts {
				stale = 0 // a watchdog tick fell in this attempt: read the clock again
			}
		}
	}
}

// collect moves to the run queue the waiters whose poll is due, and every
// waiter when a broadcast is due. The caller holds mu.
func (s *Scheduler[D]) collect(now time.Time) {
	s.polls.takeDue(now, func(w *Waiter[D]) {
		w.polled = true
		s.queue(w)
	})
	if !s.broadcastAt.IsZero() && !s.broadcastAt.After(now) {
		s.broadcastAt = time.Time{}
		if s.passStart.IsZero() {
			s.passStart = now
		}
		for el := s.waiting.Front(); el != nil; el = el.Next() {
			s.queue(el.Value.(*Waiter[D]))
		}
	}
}
