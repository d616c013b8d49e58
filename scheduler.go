package servicemesh

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// The scheduler runs the resolvers of the services that wait for their
// dependencies. A waiting service's lifecycle goroutine runs its first
// attempt itself and then sleeps until the resolution ends; every later
// attempt is run by the scheduler's goroutine, one after another, so that a
// thousand waiters polling for a dependency from outside the mesh cost a
// loop over them, not a thousand goroutine switches.
//
// An attempt is run:
//   - at once, for a waiter that holds a service that was initialized or
//     removed (see watch.go), on the waiter's own goroutine; for a waiter
//     removed or canceled by shutdown, and after new settings;
//   - in a broadcast, for every waiter, after any service was added,
//     initialized or removed: within timing.BroadcastDelay (0.1 ms) of the change,
//     or, when one broadcast over every waiter takes longer, within ten
//     times as long as the last one took, so that broadcasts never take
//     more than about a tenth of a core however many waiters and changes
//     there are. Changes within that window share one broadcast: a burst of
//     N additions costs each waiter a number of attempts that grows with
//     the burst's duration, not with N;
//   - otherwise on its poll, backing off from timing.FirstPoll to timing.MaxPoll and
//     aligned on a grid, so that the polls of many waiters fall due
//     together and the scheduler wakes once for all of them; from
//     2*pollSlotSize waiters on, in phases of that grid (polls.go). A poll does
//     not look for a cancellation: whoever cancels queues the entry, which
//     turns a poll already queued into an asked-for attempt.
//
// Never two attempts of one service at once: an entry is queued at most
// once, and a change that arrives while its attempt runs queues it again
// when the attempt is over. A resolver that does not return holds up only
// its own service: when an attempt has run for resolverStall, the scheduler
// goes on on a new goroutine and leaves the old one to it.
//
// The scheduler's fields, and the resolution fields of waiting entries
// (type resolution), are guarded by scheduler.mu, which is never held while
// a resolver runs. Lock order: registry.mu before scheduler.mu.

// scheduler is the state of the goroutine that runs waiting resolvers.
type scheduler struct {
	// nwaiting is waiting.Len(), readable without mu.
	nwaiting atomic.Int64

	mu sync.Mutex // guards every field below
	// waiting lists the entries whose resolution is under way, in the order
	// added.
	waiting *list.List // of *entry
	runq    []*entry   // runq[head:] are to be attempted now, in order
	head    int
	polls   pollBuckets // waiting entries by when their next poll is due
	// broadcastAt is when every waiting entry is to be attempted; zero:
	// not asked. passStart is when the broadcast under way began (zero:
	// none), lastPass how long the last one took.
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
	// The watchdog: attempts counts the attempts the owner began, seen is
	// that count at the last tick, ticks how many ticks it stayed there
	// while an attempt ran, inAttempt whether the owner runs one.
	attempts  uint64
	seen      uint64
	ticks     int
	inAttempt bool
	ticking   bool
	dog       *time.Timer // the watchdog's timer; stopped whenever the owner goes idle
}

func newScheduler() scheduler {
	return scheduler{
		waiting: list.New(),
		wake:    make(chan struct{}, 1),
	}
}

// queue asks for an attempt of e at once. The caller holds sched.mu.
func (m *mesh) queue(e *entry) {
	s := &m.sched
	switch {
	case e.finished:
		return
	case e.queued:
		// Joining a queued poll makes it an asked-for attempt: one that
		// looks for a cancellation.
		e.polled = false
		return
	case e.attempting:
		e.dirty = true // attempted again when the attempt under way is over
		return
	}
	s.polls.remove(e)
	e.queued = true
	s.runq = append(s.runq, e)
	m.kickScheduler(time.Time{})
}

// schedulePoll asks for an attempt of e at t. The caller holds sched.mu.
func (m *mesh) schedulePoll(e *entry, t time.Time) {
	s := &m.sched
	s.polls.remove(e)
	e.due = t
	s.polls.add(e)
	m.kickScheduler(t)
}

// kickScheduler makes sure the scheduler runs and wakes by t (zero: at
// once). The caller holds sched.mu.
func (m *mesh) kickScheduler(t time.Time) {
	s := &m.sched
	switch {
	case !s.running:
		m.startScheduler()
	case s.idle && (s.sleepUntil.IsZero() || t.IsZero() || t.Before(s.sleepUntil)):
		poke(s.wake)
	}
}

// startScheduler starts an owner of a new generation. The caller holds
// sched.mu.
func (m *mesh) startScheduler() {
	s := &m.sched
	s.running = true
	s.gen++
	s.idle, s.sleepUntil = false, time.Time{}
	s.inAttempt = false
	m.busy.Add(1)
	go m.runScheduler(s.gen)
}

// requestBroadcast asks for every waiting resolver to be attempted soon:
// something changed that any of them may be looking for. The caller holds
// sched.mu.
func (m *mesh) requestBroadcast() {
	s := &m.sched
	if s.waiting.Len() == 0 || !s.broadcastAt.IsZero() {
		return
	}
	s.broadcastAt = time.Now().Add(max(timing.BroadcastDelay, timing.BroadcastShare*s.lastPass))
	m.kickScheduler(s.broadcastAt)
}

// runScheduler runs queued and due attempts while it owns the scheduler,
// sleeping until the next is due, and ends when nobody waits.
func (m *mesh) runScheduler(gen uint64) {
	defer m.busyDone()
	s := &m.sched
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
		m.collect(now)
		if s.head == len(s.runq) {
			stale = 0
			s.runq, s.head = s.runq[:0], 0
			if !s.passStart.IsZero() {
				s.lastPass, s.passStart = now.Sub(s.passStart), time.Time{}
			}
			m.idleSchedulerWatchdog()
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
		e := s.runq[s.head]
		s.runq[s.head] = nil
		s.head++
		e.queued = false
		e.attempting = true
		polled := e.polled
		e.polled = false
		s.attempts++
		s.inAttempt = true
		m.armSchedulerWatchdog()
		s.mu.Unlock()
		m.runAttempt(e, polled, now)
		s.mu.Lock()
		if s.gen == gen {
			s.inAttempt = false
			if s.seen == s.attempts {
				stale = 0 // a watchdog tick fell in this attempt: read the clock again
			}
		}
	}
}

// collect moves to the run queue the entries whose poll is due, and every
// waiting entry when a broadcast is due. The caller holds sched.mu.
func (m *mesh) collect(now time.Time) {
	s := &m.sched
	s.polls.takeDue(now, func(e *entry) {
		e.polled = true
		m.queue(e)
	})
	if !s.broadcastAt.IsZero() && !s.broadcastAt.After(now) {
		s.broadcastAt = time.Time{}
		if s.passStart.IsZero() {
			s.passStart = now
		}
		for el := s.waiting.Front(); el != nil; el = el.Next() {
			m.queue(el.Value.(*entry))
		}
	}
}

// wakeDependents asks at once for attempts of the resolvers that hold x,
// and for a broadcast: x was initialized or removed. The caller holds
// sched.mu.
func (m *mesh) wakeDependents(x *entry) {
	for e := range x.watchers {
		m.wakeOwn(e)
	}
	m.requestBroadcast()
}

// wakeOwn asks for an attempt of e at once on e's own lifecycle goroutine,
// which waits for its resolution to end: along a chain of dependencies each
// step then costs one goroutine switch, not two through the scheduler. The
// caller holds sched.mu.
func (m *mesh) wakeOwn(e *entry) {
	switch {
	case e.finished:
		return
	case e.queued:
		e.polled = false // see queue
		return
	case e.attempting:
		e.dirty = true
		return
	}
	m.sched.polls.remove(e)
	e.attempting = true
	poke(e.handoff)
}

// queueAll asks at once for an attempt of every waiting resolver: to cancel
// them, or to apply new settings.
func (m *mesh) queueAll() {
	s := &m.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	for el := s.waiting.Front(); el != nil; el = el.Next() {
		m.queue(el.Value.(*entry))
	}
}

// enqueueWaiting inserts e into waiting, which stays in the order the
// services were added; resolutions mostly begin in that order, so the walk
// from the back is short. The caller holds sched.mu.
func (m *mesh) enqueueWaiting(e *entry) *list.Element {
	w := m.sched.waiting
	for el := w.Back(); el != nil; el = el.Prev() {
		if el.Value.(*entry).seq < e.seq {
			return w.InsertAfter(e, el)
		}
	}
	return w.PushFront(e)
}

// unresolved names the first services waiting for dependencies, in the order
// they were added, and counts the others.
func (m *mesh) unresolved() (names []string, more int) {
	s := &m.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	for el := s.waiting.Front(); el != nil && len(names) < maxNamed; el = el.Next() {
		names = append(names, el.Value.(*entry).name)
	}
	return names, s.waiting.Len() - len(names)
}

// poke sends a wake-up that is never lost and never blocks.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
