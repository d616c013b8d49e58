package sched

// Wake-ups of the waiters that hold a service: after an attempt that did
// not resolve, the mesh tells which services the resolver now holds
// (Watch); when one of them is initialized or removed, the waiters holding
// it are attempted at once, each on its own goroutine, and every waiter
// soon after in a broadcast. Guarded by Scheduler.mu.

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
// service of x, and for a broadcast. The caller holds mu.
func (s *Scheduler[D]) wakeDependents(x *Watchers[D]) {
	for w := range x.of {
		s.wakeOwn(w)
	}
	s.requestBroadcast()
}

// wakeOwn asks for an attempt of w at once on w's own waiting goroutine
// (Await): along a chain of dependencies each step then costs one
// goroutine switch, not two through the scheduler. The caller holds mu.
func (s *Scheduler[D]) wakeOwn(w *Waiter[D]) {
	switch {
	case w.finished:
		return
	case w.queued:
		w.polled = false // see queue
		return
	case w.attempting:
		w.dirty = true
		return
	}
	s.polls.remove(w)
	w.attempting = true
	poke(w.handoff)
}
