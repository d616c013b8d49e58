package sched

// Wake-ups of the waiters that hold a service: after an attempt that did
// not resolve, the mesh tells which services the resolver now holds
// (Watch); when one of them is initialized or removed, the waiters holding
// it are attempted at once, off the scheduler, on one goroutine started for
// them (handOff), and every waiter soon after in a broadcast. Guarded by
// Scheduler.mu.

import "time"

// Watchers is the waiters whose resolvers hold one service. The mesh keeps
// one beside each service, holder or not; its zero value is empty. Guarded
// by Scheduler.mu: only the Scheduler reads or writes it.
type Watchers[D any] struct {
	of map[*Waiter[D]]struct{}
}

// Watch records that w's resolver now holds the services whose Watchers
// are held, so that w is attempted at once when one of them is initialized
// or removed. Called by whoever runs w's attempt (Config.Attempt); nothing
// is recorded once w's resolution has ended.
func (s *Scheduler[D]) Watch(w *Waiter[D], held []*Watchers[D]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.finished {
		s.setWatching(w, held)
	}
}

// setWatching replaces the set of services w watches. The caller holds mu.
func (s *Scheduler[D]) setWatching(w *Waiter[D], held []*Watchers[D]) {
	for _, x := range w.watching {
		delete(x.of, w)
	}
	w.watching = held
	for _, x := range held {
		if x.of == nil {
			x.of = make(map[*Waiter[D]]struct{})
		}
		x.of[w] = struct{}{}
	}
}

// Initialized asks at once for attempts of the resolvers that hold the
// service of x, which was initialized, and for a broadcast. Without
// waiters it costs an atomic load: a resolver that begins waiting later
// sees the Init's effects on its first attempt.
func (s *Scheduler[D]) Initialized(x *Watchers[D]) {
	if s.nwaiting.Load() > 0 { // inlined: the rest is not
		s.wakeLocked(x)
	}
}

func (s *Scheduler[D]) wakeLocked(x *Watchers[D]) {
	s.mu.Lock()
	s.wakeDependents(x)
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
		resolving = w.resolved
		s.queue(w) // to cancel it
	}
	s.wakeDependents(x)
	return resolving
}

// wakeDependents asks at once for attempts of the resolvers that hold the
// service of x, and for a broadcast. The first is handed off (handOff); the
// others are queued, so that a resolver that does not return holds up only
// its own service: the scheduler's watchdog sees to those. The caller
// holds mu.
func (s *Scheduler[D]) wakeDependents(x *Watchers[D]) {
	handed := false
	for w := range x.of {
		switch {
		case handed:
			s.queue(w)
		case s.take(w):
			handed = true
			s.cfg.BusyAdd()
			go s.handOff(w)
		}
	}
	s.requestBroadcast()
}

// take makes the caller the runner of w's next attempt, to run at once
// off the scheduler (handOff), and reports whether it did: a waiter queued,
// or in an attempt, is attempted again soon anyway. The caller holds mu.
func (s *Scheduler[D]) take(w *Waiter[D]) bool {
	switch {
	case w.finished:
		return false
	case w.queued:
		w.polled = false // see queue
		return false
	case w.attempting:
		w.dirty = true
		return false
	}
	s.polls.remove(w)
	w.attempting = true
	return true
}

// handOff runs at once the attempt of w, which take made its own, on a
// goroutine started for it: along a chain of dependencies each step then
// costs one goroutine start, not two switches through the scheduler, and
// no waiting service holds a goroutine meanwhile. When the attempt ends
// the resolution, this goroutine is the service's (Config.Resume with own
// true): the next link of a chain runs its Init here. A resolver that does
// not return holds only this goroutine. Counted in Config.BusyAdd by
// whoever started it.
func (s *Scheduler[D]) handOff(w *Waiter[D]) {
	defer s.cfg.BusyDone()
	if s.runAttempt(w, false, time.Time{}) {
		s.cfg.Resume(w, true)
	}
}
