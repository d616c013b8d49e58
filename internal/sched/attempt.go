package sched

// One resolution: Await begins it and runs its first attempt; runAttempt
// runs one attempt and decides what follows (the end of the resolution, or
// its next attempt); finish ends it, and whoever ran that attempt tells
// the mesh (Await's return, or Config.Resume). An attempt's fields are owned by
// whoever runs it, the rest of Waiter is guarded by Scheduler.mu.

import (
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Await begins the resolution of w's dependencies, w's service being the
// seq-th added, and runs its first attempt on the calling goroutine. When
// that attempt ends the resolution (resolved, failed, or Config.Begin
// found it canceled) Await returns ended true and why it failed (nil:
// resolved), and nothing more is told. Otherwise it returns ended false at
// once, and the waiting service is a record, without a goroutine: the
// scheduler and the hand-offs (watch.go) run its later attempts until the
// dependencies are resolved, the timeout passes, the resolution is
// canceled, or Config.Attempt returns an error, and then Config.Resume is
// called once, by whoever ended it. The caller must then leave w to
// Config.Resume; so too when its resolver ends the calling goroutine with
// runtime.Goexit, and Await never returns (see attempt). Call it once per
// Waiter.
func (s *Scheduler[D]) Await(w *Waiter[D], seq uint64) (f *Failure, ended bool) {
	now := time.Now()
	s.mu.Lock()
	if reason := s.cfg.Begin(w); reason != "" { // removed before its resolution began
		w.finished = true
		s.mu.Unlock()
		return s.failure(w, now, s.cfg.ErrCanceled, reason), true
	}
	w.seq = seq
	w.start, w.seenAt, w.seen = now, now.Sub(s.cfg.Epoch), s.changes.Load()
	w.poll = timing.FirstPoll
	w.waitElem = s.enqueueWaiting(w)
	s.nwaiting.Add(1)
	w.attempting = true
	s.mu.Unlock()
	if s.runAttempt(w, false, time.Time{}) {
		return w.err, true
	}
	return nil, false
}

// Failure returns why w's resolution failed, nil when it was resolved.
// Read it only once the resolution has ended (in Config.Resume, or after
// Await returned ended).
func (w *Waiter[D]) Failure() *Failure { return w.err }

// runAttempt asks w's resolver once, then ends the resolution or arranges
// the next attempt. The caller made w.attempting true: nobody else runs an
// attempt of w meanwhile. A poll (polled) is a scheduler's attempt at a
// time when nothing was asked of w: whoever cancels w queues it, which
// makes its next attempt a queued one (or marks the poll under way
// dirty), so a poll need not look for a cancellation. clock is a recent
// reading of the clock, taken before the resolver was called; zero: read
// it after. Because it is taken before, a resolver that runs past the
// timeout is found timed out only at its next attempt: that attempt ends
// the resolution before it calls the resolver, so a service is never
// initialized on a call that began after its timeout. It reports whether
// this attempt ended the resolution: its caller then tells the end (Await
// returns it; the others call Config.Resume).
func (s *Scheduler[D]) runAttempt(w *Waiter[D], polled bool, clock time.Time) (ended bool) {
	if !polled {
		if reason := s.cfg.Canceled(w); reason != "" {
			s.finish(w, s.failure(w, w.start, s.cfg.ErrCanceled, reason))
			return true
		}
	}
	if limit := time.Duration(s.timeout.Load()); limit > 0 && !clock.IsZero() && clock.Sub(w.start) >= limit {
		s.finish(w, s.failure(w, w.start, s.cfg.ErrTimeout, ""))
		return true
	}
	done, err := s.attempt(w, polled)
	switch {
	case err != nil:
		s.finish(w, s.failure(w, w.start, err, ""))
		return true
	case done:
		s.finish(w, nil)
		return true
	}

	now := clock
	if now.IsZero() {
		now = time.Now()
	}
	waited := now.Sub(w.start)
	var warn, timedOut bool
	s.mu.Lock()
	w.attempting = false
	if c := s.changes.Load(); c != w.seen {
		w.seen, w.seenAt = c, now.Sub(s.cfg.Epoch)
	}
	if polled {
		w.poll = min(2*w.poll, timing.MaxPoll)
	}
	wait := s.alignPoll(w, now, w.poll)
	if limit := time.Duration(s.timeout.Load()); limit > 0 {
		if waited >= limit {
			timedOut = true
		}
		wait = min(wait, limit-waited)
	}
	if delay := time.Duration(s.cfg.WarnDelay.Load()); !w.warned && delay > 0 {
		if waited >= delay {
			w.warned, warn = true, true
		} else {
			wait = min(wait, delay-waited)
		}
	}
	quiet := now.Sub(s.cfg.Epoch) - w.seenAt
	switch {
	case timedOut:
		w.attempting = true // finish ends it
	case w.dirty || !polled && s.cfg.Canceled(w) != "":
		w.dirty = false
		s.queue(w)
	default:
		s.schedulePoll(w, now.Add(wait))
	}
	s.mu.Unlock()
	if timedOut {
		s.finish(w, s.failure(w, w.start, s.cfg.ErrTimeout, ""))
		return true
	}
	if warn {
		s.cfg.Slow(w, waited, quiet)
	}
	return false
}

// attempt is Config.Attempt. A resolver that ends the goroutine with
// runtime.Goexit (as t.FailNow does; a panic Config.Attempt recovers) does
// not return here, and whoever ran the attempt cannot tell its end: the
// deferred call ends the resolution as failed (Config.ErrGoexit) and tells
// the mesh through Config.Resume, with own false, since this goroutine is
// ending. The scheduler's own goroutine hands the queue on (run).
func (s *Scheduler[D]) attempt(w *Waiter[D], polled bool) (done bool, err error) {
	returned := false
	defer func() {
		if !returned {
			s.exited(w)
		}
	}()
	done, err = s.cfg.Attempt(w, polled)
	returned = true
	return done, err
}

// exited ends w's resolution, whose resolver ended the goroutine that ran
// its attempt with runtime.Goexit, and tells the mesh (attempt).
//
//go:noinline
func (s *Scheduler[D]) exited(w *Waiter[D]) {
	s.finish(w, s.failure(w, w.start, s.cfg.ErrGoexit, ""))
	s.cfg.Resume(w, false)
}

// finish ends w's resolution with f (nil: resolved). Called by whoever
// runs w's attempt, once; it tells the end (see runAttempt).
func (s *Scheduler[D]) finish(w *Waiter[D], f *Failure) {
	s.mu.Lock()
	if w.waitElem != nil {
		s.waiting.Remove(w.waitElem)
		w.waitElem = nil
		s.nwaiting.Add(-1)
		if s.waiting.Len() == 0 && s.idle {
			poke(s.wake) // so that it ends
		}
	}
	s.polls.remove(w)
	s.setWatching(w, nil)
	w.finished, w.attempting, w.queued = true, false, false
	w.err = f
	resolved := w.resolved
	s.mu.Unlock()
	if resolved != nil {
		close(resolved)
	}
}
