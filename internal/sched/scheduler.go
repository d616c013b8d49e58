package sched

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Config is what the Scheduler asks of the mesh: the functions that are
// the mesh's own, and its settings. It is set once, by Init, and never
// changed. None of its functions is called with Scheduler.mu held but
// Begin and Canceled, which must only read (and, Begin, step the service's
// state): they must not block, nor call the Scheduler.
type Config[D any] struct {
	// Attempt asks w's resolver once and reports whether its dependencies
	// are resolved, or the error that ended the resolution (a resolver that
	// panicked). When they are not, it records what the resolver now holds
	// (Watch), which a poll (polled) of an unchanged mesh may skip. It is
	// called by whoever runs w's attempt, never twice at once for one w.
	Attempt func(w *Waiter[D], polled bool) (done bool, err error)
	// Begin is called, with Scheduler.mu held, when w's wait is about to
	// begin: it returns why w must not wait at all (its service was
	// removed), or "".
	Begin func(w *Waiter[D]) (reason string)
	// Canceled returns why w's wait must end now (removed, shutting down),
	// or "", with or without Scheduler.mu held. Whoever cancels sets what
	// Canceled reads and then queues w (Removed, QueueAll), so a
	// cancellation is never missed.
	Canceled func(w *Waiter[D]) (reason string)
	// Resume is told that w's resolution, which Await left waiting, has
	// ended (w.Failure says how). It is called once per such w, by the
	// goroutine that ran the attempt that ended it, without Scheduler.mu:
	// the scheduler's (own false), which it must not hold up for long, or
	// a hand-off's (own true), which is Resume's to keep: it may run the
	// service's code on it. A resolver that ends its goroutine with
	// runtime.Goexit ends its resolution (ErrGoexit), and Resume is told
	// by that goroutine on its way out (own false), whoever ran the
	// attempt: Await's and HandOff's callers too, which never return then.
	Resume func(w *Waiter[D], own bool)
	// Slow reports, once per waiter, that w has waited waited for its
	// dependencies while the mesh has not changed for quiet.
	Slow func(w *Waiter[D], waited, quiet time.Duration)
	// Stalled reports that a resolver has not returned and that the other
	// resolutions go on without it.
	Stalled func()
	// BusyAdd and BusyDone count the scheduler's goroutine among the
	// mesh's own while it runs.
	BusyAdd, BusyDone func()
	// WarnDelay is the mesh's warning delay (time.Duration): after how long
	// a wait is reported through Slow; <= 0 never.
	WarnDelay *atomic.Int64
	// Epoch is the time polls align to.
	Epoch time.Time
	// Named is how many waiting services Unresolved, and so a Failure,
	// names at most.
	Named int
	// ErrTimeout and ErrCanceled are the errors a Failure wraps for a
	// resolution that timed out, or was canceled; ErrGoexit for one whose
	// resolver ended its goroutine with runtime.Goexit.
	ErrTimeout, ErrCanceled, ErrGoexit error
}

// Scheduler runs the attempts of the waiting resolvers (see the package's
// comment for when). Its zero value is not ready: call Init once before
// anything else. Every method is safe for concurrent use.
type Scheduler[D any] struct {
	// nwaiting is waiting.Len(), readable without mu.
	nwaiting atomic.Int64
	cfg      Config[D] // set by Init, read-only after
	// changes counts services added, initialized or removed (NoteChange).
	// Waiters note when they see it move, which tells how long the mesh
	// has been quiet without a clock read on every change.
	changes atomic.Uint64
	timeout atomic.Int64 // time.Duration; the resolution timeout, <= 0 none

	mu sync.Mutex // guards every field below, and the waiters' (Waiter)
	// waiting lists the waiters whose resolution is under way, in the
	// order their services were added.
	waiting *list.List   // of *Waiter[D]
	runq    []*Waiter[D] // runq[head:] are to be attempted now, in order
	head    int
	polls   pollBuckets[D] // waiters by when their next poll is due
	// broadcastAt is when every waiter is to be attempted; zero: not
	// asked. passStart is when the broadcast under way began (zero: none),
	// lastPass how long the last one took.
	broadcastAt, passStart time.Time
	lastPass               time.Duration

	// The goroutine that owns the queue: running tells whether there is
	// one, gen numbers it (a new one on each hand-on), idle whether it
	// sleeps, sleepUntil when it wakes by itself (zero: only when poked
	// through wake).
	running    bool
	gen        uint64
	idle       bool
	sleepUntil time.Time
	wake       chan struct{} // cap 1
	// The watchdog (watchdog.go): attempts counts the attempts the owner
	// began, seen is that count at the last tick, ticks how many ticks it
	// stayed there while an attempt ran, inAttempt whether the owner runs
	// one.
	attempts  uint64
	seen      uint64
	ticks     int
	inAttempt bool
	ticking   bool
	dog       *time.Timer // the watchdog's timer; stopped whenever the owner goes idle
}

// Init makes s ready, with the resolution timeout at its default
// (timing.ResolutionTimeout). Call it once, before s is shared.
func (s *Scheduler[D]) Init(cfg Config[D]) {
	s.cfg = cfg
	s.waiting = list.New()
	s.wake = make(chan struct{}, 1)
	s.timeout.Store(int64(timing.ResolutionTimeout))
}

// SetTimeout sets how long a service may wait for its dependencies (<= 0:
// forever), for the waits under way as well as later ones.
func (s *Scheduler[D]) SetTimeout(d time.Duration) {
	s.timeout.Store(int64(d))
	s.QueueAll()
}

// NoteChange notes that a service was added, initialized or removed. It
// does not wake anyone (Broadcast, Initialized and Removed do); waiters
// use it to tell how long the mesh has been quiet.
func (s *Scheduler[D]) NoteChange() { s.changes.Add(1) }

// Waiting returns how many services wait for their dependencies now.
func (s *Scheduler[D]) Waiting() int64 { return s.nwaiting.Load() }

// QueueAll asks at once for an attempt of every waiting resolver: to cancel
// them, or to apply new settings.
func (s *Scheduler[D]) QueueAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for el := s.waiting.Front(); el != nil; el = el.Next() {
		s.queue(el.Value.(*Waiter[D]))
	}
}

// Broadcast asks for every waiting resolver to be attempted soon: something
// changed that any of them may be looking for. Without waiters it costs an
// atomic load.
func (s *Scheduler[D]) Broadcast() {
	if s.nwaiting.Load() > 0 { // inlined: the rest is not
		s.broadcastLocked()
	}
}

func (s *Scheduler[D]) broadcastLocked() {
	s.mu.Lock()
	s.requestBroadcast()
	s.mu.Unlock()
}

// Unresolved names the first Config.Named services waiting for
// dependencies, in the order they were added, and counts the others.
func (s *Scheduler[D]) Unresolved() (names []string, more int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for el := s.waiting.Front(); el != nil && len(names) < s.cfg.Named; el = el.Next() {
		names = append(names, el.Value.(*Waiter[D]).name)
	}
	return names, s.waiting.Len() - len(names)
}

// queue asks for an attempt of w at once. The caller holds mu.
func (s *Scheduler[D]) queue(w *Waiter[D]) {
	switch {
	case w.finished:
		return
	case w.queued:
		// Joining a queued poll makes it an asked-for attempt: one that
		// looks for a cancellation.
		w.polled = false
		return
	case w.attempting:
		w.dirty = true // attempted again when the attempt under way is over
		return
	}
	s.polls.remove(w)
	w.queued = true
	s.runq = append(s.runq, w)
	s.kick(time.Time{})
}

// schedulePoll asks for an attempt of w at t. The caller holds mu.
func (s *Scheduler[D]) schedulePoll(w *Waiter[D], t time.Time) {
	s.polls.remove(w)
	w.due = t.UnixNano()
	s.polls.add(w)
	s.kick(t)
}

// kick makes sure the scheduler runs and wakes by t (zero: at once). The
// caller holds mu.
func (s *Scheduler[D]) kick(t time.Time) {
	switch {
	case !s.running:
		s.start()
	case s.idle && (s.sleepUntil.IsZero() || t.IsZero() || t.Before(s.sleepUntil)):
		poke(s.wake)
	}
}

// start starts an owner of a new generation. The caller holds mu.
func (s *Scheduler[D]) start() {
	s.running = true
	s.gen++
	s.idle, s.sleepUntil = false, time.Time{}
	s.inAttempt = false
	s.cfg.BusyAdd()
	go s.run(s.gen)
}

// requestBroadcast asks for every waiting resolver to be attempted soon.
// The caller holds mu.
func (s *Scheduler[D]) requestBroadcast() {
	if s.waiting.Len() == 0 || !s.broadcastAt.IsZero() {
		return
	}
	s.broadcastAt = time.Now().Add(max(timing.BroadcastDelay, timing.BroadcastShare*s.lastPass))
	s.kick(s.broadcastAt)
}

// enqueueWaiting inserts w into waiting, which stays in the order the
// services were added; resolutions mostly begin in that order, so the walk
// from the back is short. The caller holds mu.
func (s *Scheduler[D]) enqueueWaiting(w *Waiter[D]) *list.Element {
	l := s.waiting
	for el := l.Back(); el != nil; el = el.Prev() {
		if el.Value.(*Waiter[D]).seq < w.seq {
			return l.InsertAfter(w, el)
		}
	}
	return l.PushFront(w)
}

// poke sends a wake-up that is never lost and never blocks.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Timeout returns the resolution timeout now in force; zero or less: none.
func (s *Scheduler[D]) Timeout() time.Duration { return time.Duration(s.timeout.Load()) }

// Changes returns the number of changes noted so far (NoteChange): two
// equal readings mean the set of services did not change between them.
func (s *Scheduler[D]) Changes() uint64 { return s.changes.Load() }
