package sched

import (
	"container/list"
	"time"
)

// Waiter is the record of one service's resolution: what the scheduler
// keeps to run its attempts, and Data, the mesh's, beside it. What a poll
// reads and writes comes first, so that a poll of ten thousand waiters
// touches two or three cache lines of each: a poll reads nothing of the
// mesh's record of the service but Data.
type Waiter[D any] struct {
	// Guarded by Scheduler.mu, read by every poll:
	pollIndex  int           // its index in its bucket of Scheduler.polls; -1 when not there
	due        int64         // when its next poll is due (UnixNano): its bucket
	poll       time.Duration // its poll interval now
	seen       uint64        // Scheduler.changes when last seen to move
	seq        uint64        // the order its service was added (Await)
	queued     bool          // in the run queue
	attempting bool          // an attempt runs
	dirty      bool          // attempt again once the attempt under way is over
	polled     bool          // the next attempt is a poll
	finished   bool          // the resolution has ended
	warned     bool          // the slow resolution was reported

	// Whoever runs an attempt owns start while attempting is true; set
	// before the first attempt. name never changes.
	start time.Time // when the resolution began
	name  string    // the service's name

	// Data is the mesh's: the scheduler never reads nor writes it. What of
	// it an attempt uses is owned by whoever runs the attempt (Config.Attempt).
	Data D

	// Read and written only when something changes:
	err *Failure // why it failed; written before the resolution ends
	// Guarded by Scheduler.mu:
	// resolved is closed when the resolution ends; made only when Removed
	// asks for it, so that most waiters never carry a channel.
	resolved chan struct{}
	waitElem *list.Element  // its element in Scheduler.waiting while it waits
	watching []*Watchers[D] // the services its resolver holds
	seenAt   time.Duration  // when seen last moved, since Config.Epoch
}

// NewWaiter returns the record of the resolution of the service called
// name, not begun: Scheduler.Await begins it.
func NewWaiter[D any](name string, data D) *Waiter[D] {
	return &Waiter[D]{
		pollIndex: -1,
		name:      name,
		Data:      data,
	}
}

// Name returns the name of w's service.
func (w *Waiter[D]) Name() string { return w.name }

// Failure is why a resolution ended without its dependencies. It is, field
// for field, the mesh's ResolutionError, which converts it.
type Failure struct {
	Service    string        // the service whose resolution failed
	Waited     time.Duration // how long it waited
	Unresolved []string      // the first services still waiting at that moment, itself included
	More       int           // how many more were waiting than Unresolved names
	Reason     string        // for a cancellation: what canceled it
	Err        error         // Config.ErrTimeout, Config.ErrCanceled, or what Config.Attempt returned
}

// failure builds the Failure of w's resolution, begun at start, with err.
// The caller does not hold mu.
func (s *Scheduler[D]) failure(w *Waiter[D], start time.Time, err error, reason string) *Failure {
	names, more := s.Unresolved()
	return &Failure{
		Service:    w.name,
		Waited:     time.Since(start),
		Unresolved: names,
		More:       more,
		Reason:     reason,
		Err:        err,
	}
}
