package sched

// Wake-ups of the waiters that hold a service: after an attempt that did
// not resolve, the mesh tells which services the resolver now holds
// (Watch); when one of them is initialized or removed, the waiters holding
// it are attempted at once — one off the scheduler (a hand-off: on the
// goroutine that initialized the service once it is done with it, or on
// one started for it), the others by the scheduler — and every waiter
// soon after in a broadcast. Guarded by Scheduler.mu.

import (
	"slices"
	"time"
)

// Watchers is the waiters whose resolvers hold one service. The mesh keeps
// one beside each service, holder or not; its zero value is empty. Guarded
// by Scheduler.mu: only the Scheduler reads or writes it.
type Watchers[D any] struct {
	of map[*Waiter[D]]struct{}
}

// Watch records that w's resolver now holds the services whose Watchers
// are held, so that w is attempted at once when one of them is initialized
// or removed. Called by whoever runs w's attempt (Config.Attempt); nothing
// is recorded once w's resolution has ended. It does not keep held, which
// may be on the caller's stack.
func (s *Scheduler[D]) Watch(w *Waiter[D], held []*Watchers[D]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.finished && !slices.Equal(w.watching, held) {
		s.setWatching(w, held)
	}
}

// setWatching replaces the set of services w watches, keeping a copy of
// held. The caller holds mu.
func (s *Scheduler[D]) setWatching(w *Waiter[D], held []*Watchers[D]) {
	for _, x := range w.watching {
		delete(x.of, w)
	}
	w.watching = append(w.watching[:0], held...)
	for _, x := range held {
		if x.of == nil {
			x.of = make(map[*Waiter[D]]struct{})
		}
		x.of[w] = struct{}{}
	}
}

// Initialized asks at once for attempts of the resolvers that hold the
// service of x, which was initialized, but one, and for a broadcast: that
// one is left to the goroutine that initialized the service, which runs
// its attempt once it is done with the service (HandOff, GoHandOff), or to
// the broadcast, whichever comes first. Without waiters it costs an atomic
// load: a resolver that begins waiting later sees the Init's effects on
// its first attempt.
func (s *Scheduler[D]) Initialized(x *Watchers[D]) {
	if s.nwaiting.Load() > 0 { // inlined: the rest is not
		s.wakeLocked(x)
	}
}

func (s *Scheduler[D]) wakeLocked(x *Watchers[D]) {
	s.mu.Lock()
	kept := false
	for w := range x.of {
		if !kept && takeable(w) {
			kept = true // left to HandOff
			continue
		}
		s.queue(w)
	}
	s.requestBroadcast()
	s.mu.Unlock()
}

// HandOff runs at once, on the calling goroutine, the attempt of one
// resolver that holds the service of x, which was initialized, when one
// is neither queued nor in an attempt (see Initialized): along a chain of
// dependencies each link then resolves and initializes on the goroutine of
// the one before, at the cost of a function call. It returns that waiter
// when the attempt ended its resolution: the caller then resumes its
// service, on this goroutine, as Config.Resume would with own true; nil
// otherwise. Call it without holding anything a resolver may need: the
// resolver runs here.
func (s *Scheduler[D]) HandOff(x *Watchers[D]) (ended *Waiter[D]) {
	if s.nwaiting.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	w := s.takeOne(x)
	s.mu.Unlock()
	// With a reading of the clock, taken before the resolver is called,
	// as the scheduler's attempts have: a hand-off that comes after the
	// timeout (the scheduler, held up, has not yet found it timed out)
	// ends the resolution without calling the resolver.
	if w == nil || !s.runAttempt(w, false, time.Now()) {
		return nil
	}
	return w
}

// GoHandOff is HandOff on a goroutine started for it, for a caller that
// must not run a resolver (the lane, which runs the next service).
func (s *Scheduler[D]) GoHandOff(x *Watchers[D]) {
	if s.nwaiting.Load() == 0 {
		return
	}
	s.mu.Lock()
	if w := s.takeOne(x); w != nil {
		s.cfg.BusyAdd()
		go s.handOff(w)
	}
	s.mu.Unlock()
}

// Removed cancels the resolution of a service being removed, whose record
// is w (nil for a service without dependencies) and whose watchers are x:
// it asks at once for an attempt of w, which finds it canceled
// (Config.Canceled must say so already), and of the resolvers that hold the
// service, and for a broadcast. It returns a channel closed when w's
// resolution has ended, or nil when none is under way: one that has not
// begun sees the cancellation in Config.Begin and never calls the
// resolver.
func (s *Scheduler[D]) Removed(w *Waiter[D], x *Watchers[D]) (resolving <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w != nil && w.waitElem != nil {
		if w.resolved == nil {
			w.resolved = make(chan struct{})
		}
		resolving = w.resolved
		s.queue(w) // to cancel it
	}
	s.wakeDependents(x)
	return resolving
}

// wakeDependents asks at once for attempts of the resolvers that hold the
// service of x, and for a broadcast. One is handed off (handOff); the
// others are queued, so that a resolver that does not return holds up
// only its own service: the scheduler's watchdog sees to those. The caller
// holds mu.
func (s *Scheduler[D]) wakeDependents(x *Watchers[D]) {
	if w := s.takeOne(x); w != nil {
		s.cfg.BusyAdd()
		go s.handOff(w)
	}
	for w := range x.of {
		s.queue(w)
	}
	s.requestBroadcast()
}

// takeable reports whether w waits with no attempt queued or under way:
// whoever takes it runs its next attempt. The caller holds mu.
func takeable[D any](w *Waiter[D]) bool { return !w.finished && !w.queued && !w.attempting }

// takeOne takes one takeable waiter of x, if any, and returns it: the
// caller runs its attempt at once, off the scheduler. The caller holds mu.
func (s *Scheduler[D]) takeOne(x *Watchers[D]) *Waiter[D] {
	for w := range x.of {
		if takeable(w) {
			s.polls.remove(w)
			w.attempting = true
			return w
		}
	}
	return nil
}

// handOff runs at once the attempt of w, which takeOne made its own, on a
// goroutine started for it, not through the scheduler. When the attempt
// ends the resolution, this goroutine is the service's (Config.Resume with
// own true): it runs its Init here. A resolver that does not return holds
// only this goroutine. Counted in Config.BusyAdd by whoever started it.
func (s *Scheduler[D]) handOff(w *Waiter[D]) {
	defer s.cfg.BusyDone()
	if s.runAttempt(w, false, time.Now()) { // a clock reading: see HandOff
		s.cfg.Resume(w, true)
	}
}
