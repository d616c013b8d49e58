package servicemesh

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/lane"
	"github.com/gravestench/servicemesh/internal/lifecycle"
)

// The lifecycle of one service: its entry, its state, and the goroutine
// work that takes it from added to initialized, plus the stack of Inits
// that began, which shutdown stops in the order of the dependency graph. An entry's state is an
// atomic value read and written without the mesh's lock; what else each
// field of entry is guarded by is said beside it.

// lifecycle takes one service from added to initialized. It runs on the
// lane (startorder.go) or in a goroutine of its own, counted in busy except
// while Init runs, and ends once EventServiceInitialized's handlers have run
// or the lifecycle was cut short.
func (m *mesh) lifecycle(e *entry) {
	if e.resolution != nil || e.prev != nil { // on a goroutine of its own
		defer m.busyDone()
	}
	defer e.addDone()
	defer m.retired(e)
	reached := false // whether pending was already settled
	defer func() {
		if !reached {
			m.settle(e, false)
		}
	}()
	if p := e.prev; p != nil {
		e.prev = nil
		// Observers hear of the removal before this lifecycle's events. That
		// wait is bounded: the removal's goroutine is counted in busy. The
		// previous lifecycle may run an Init that never returns; once
		// shutdown has begun no Init follows, so this one ends without
		// setting the service up, and so never runs concurrently with it.
		<-p.told
		select {
		case <-p.retired:
		case <-m.down:
			return
		}
		// p may have retired because shutdown cut its own wait short, while
		// the lifecycle before it still runs its Init: after the shutdown
		// began, nothing is set up.
		if m.stopping.Load() {
			return
		}
		m.attach(e, true)
		m.changed()
	}

	svc := e.svc
	about := []any{svc} // the arguments of every event about svc; handlers only read them
	// A service removed meanwhile emits no more events of its lifecycle, so
	// that they do not follow its EventServiceRemoved. An event whose
	// emission began before Remove may still be delivered concurrently with
	// the removal's.
	emit := func(event string) bool {
		if e.gone.Load() {
			return false
		}
		e.progress.Steps.Add(1)
		e.progress.InUserCode.Store(true)
		m.emit(event, about...)
		e.progress.InUserCode.Store(false)
		e.progress.Steps.Add(1)
		return true
	}
	if !emit(EventServiceEventsBound) || (e.hasLogger && !emit(EventServiceLoggerBound)) || !emit(EventServiceAdded) {
		return
	}
	if e.resolution != nil && !m.resolve(e, about) {
		return
	}
	if !m.beginInit(e) {
		return
	}
	m.debug("initializing service", "subject", e.name)
	// Shutdown never waits for an Init: a service may run its loop inside
	// Init until its OnShutdown tells it to end.
	m.busyDone()
	returned := false
	defer func() {
		if returned {
			return
		}
		// Init ended with runtime.Goexit: this goroutine ends once the
		// deferred calls have run, and those finish the lifecycle (on
		// the lane, the lane goes on on a new goroutine).
		m.initEnded(e)
		reached = true
		e.startFailed.Store(true)
		m.fail(e, "init", errGoexit)
		m.settle(e, false)
	}()
	ok, failure := m.callInit(e)
	returned = true
	m.initEnded(e)
	reached = true
	if !ok {
		e.startFailed.Store(true)
	}
	if failure != nil {
		m.fail(e, "init", failure) // counted in busy again: shutdown waits for its handlers
	}
	// A service whose stop began while its Init ran (a loop in Init that
	// its OnShutdown ended) is told initialized still, but gets no Serve.
	if running := m.settle(e, ok); !ok {
		return
	} else if running && e.serve != nil {
		m.startServe(e, svc.(HasServe))
	}
	m.debug("service initialized", "subject", e.name)
	emit(EventServiceInitialized)
}

// initEnded notes that e's Init returned (or ended with runtime.Goexit):
// its lifecycle is counted in busy again.
func (m *mesh) initEnded(e *entry) {
	m.busy.Add(1)
	e.progress.InInit.Store(false)
	if m.starts.running.Add(-1) == 0 || m.stopping.Load() {
		poke(m.idleWake) // see settleInits
	}
}

// beginInit reports whether e may be initialized now: not once it was
// removed, nor once shutdown began. An Init that begins is recorded on the
// started stack before shutdown can read it (see startMu), so that shutdown
// stops every service whose Init began.
func (m *mesh) beginInit(e *entry) bool {
	if e.gone.Load() {
		return false
	}
	m.starts.fence.RLock()
	defer m.starts.fence.RUnlock()
	if m.stopping.Load() || !m.step(e, StateStarting) {
		return false
	}
	e.progress.InInit.Store(true)
	m.starts.running.Add(1)
	e.initSeq.Store(m.starts.seq.Add(1))
	m.pushStarted(e, e)
	m.starts.n.Add(1)
	return true
}

// settle records the end of e's way to Init, and reports whether e is
// running now. When ok (its Init returned normally) it becomes running,
// unless its stop began meanwhile, or it was removed or timed out; then
// dependents watching it are woken. Otherwise a service that did not fail
// (fail moved it to StateFailed) nor was removed had its start cut short
// by the shutdown, and is stopped.
func (m *mesh) settle(e *entry, ok bool) (running bool) {
	if ok {
		m.changed()
		running = m.stepFrom(e, StateRunning, StateStarting)
		// Without waiting resolvers there is nobody to wake, and a resolver
		// that begins waiting later sees this Init's effects on its first
		// attempt: most services settle without taking mu.
		if m.sched.nwaiting.Load() > 0 {
			m.sched.mu.Lock()
			m.wakeDependents(e)
			m.sched.mu.Unlock()
		}
	} else {
		m.stepFrom(e, StateStopped, StateAdded, StateResolving, StateStarting)
	}
	m.pending.Add(-1)
	m.noteSettled() // status.go: the mesh may be ready now
	return running
}

// step moves e to the state to if its lifecycle allows the step from the
// state it is in (see internal/lifecycle), and reports whether it moved.
// step and stepFrom are the only ways a service's state changes.
func (m *mesh) step(e *entry, to State) bool {
	_, ok := e.lc.To(to)
	return ok
}

// stepFrom moves e to the state to if it is in one of from and its
// lifecycle allows the step, and reports whether it moved.
func (m *mesh) stepFrom(e *entry, to State, from ...State) bool {
	for _, f := range from {
		if e.lc.Step(f, to) {
			return true
		}
	}
	return false
}

// entry is the mesh's record of one added service. The fields a poll of a
// waiting service reads (resolution, name, seq) come first, in one cache
// line: ten thousand waiters are polled from memory, not from cache.
type entry struct {
	// resolution is the state of a service with dependencies, nil for the
	// others: most services never wait, so they do not carry it.
	*resolution
	name       string
	seq        uint64 // order added; set under registry.mu before use
	svc        Service
	initSeq    atomic.Uint64  // order its Init began; 0 before
	comparable bool           // svc can be a map key
	zeroSize   bool           // svc is, or points to, a value of zero size: never a duplicate
	hasLogger  bool           // it implements HasLogger
	done       sync.WaitGroup // returned by Add
	gone       atomic.Bool    // set by Remove; cancels a resolution
	ended      atomic.Bool    // its lifecycle goroutine has finished
	// lc is its state: read by anyone, changed only through step and
	// stepFrom, which take a step only if its lifecycle allows it.
	lc lifecycle.Machine
	// nextStarted is the next entry down the mesh's started stack.
	nextStarted *entry
	// prev is the same service's previous entry, still retiring when this
	// one was added; set by Add, cleared by the lifecycle.
	prev *entry

	// Guarded by registry.mu: slot is its index in the registry's svcs, -1
	// while it is not listed there. told and retired are made by Remove:
	// told is closed once its EventServiceRemoved has been delivered
	// (awaitTold false), retired once its lifecycle has ended and no call
	// of its Serve runs (awaitLife and awaitServe false).
	slot                             int
	hidden                           bool     // failed: not in the list handed to resolvers
	dependsOn                        []*entry // the services it holds (graph.go)
	holdsMesh                        bool     // it holds the Mesh (graph.go)
	told, retired                    chan struct{}
	awaitLife, awaitTold, awaitServe bool

	// progress counts the steps of its way to Init, and tells whether its
	// Init runs (InInit, read by shutdown too) and whether it is inside
	// SetLogger or an event's handlers, so that the lane (startorder.go)
	// can tell a stuck lifecycle from a slow one.
	progress lane.Progress

	handlers *handlerSet // nil if it implements no handler interface

	// What Status reports beside lc, read without a lock:
	lastErr  atomic.Pointer[string]
	restarts atomic.Int64 // of its Serve (supervise.go)
	// policy is its own restart policy, read once at Add, with defaults;
	// nil when it has none (HasRestartPolicy) and the mesh's applies.
	policy *RestartPolicy

	serve *serveState // nil unless it implements HasServe
	// startOver is set once Init returned or timed out, whichever first;
	// stopOver once the stop's budget ran out for it. doneOnce makes Add's
	// WaitGroup done once, at the end of the lifecycle or at a start
	// timeout.
	startOver, stopOver atomic.Bool
	doneOnce            sync.Once
	// startFailed is set when its start did not complete: its Init
	// panicked, failed or timed out, or the shutdown cut it short. It is
	// never stopped. A service whose Serve ended or failed is, in its turn.
	startFailed atomic.Bool

	watchers map[*entry]struct{} // resolvers holding this service; guarded by scheduler.mu
}

// handlerSet is the handler interfaces of one service. Add binds them unless
// Remove came first; Remove unbinds them if Add got there first.
type handlerSet struct {
	listeners []*bound
	mu        sync.Mutex // guards bound and removed
	bound     bool
	removed   bool
}

// resolution is what the mesh keeps to resolve one service's dependencies.
// What a poll reads and writes comes first, so that a poll touches two or
// three cache lines of it.
type resolution struct {
	// Guarded by scheduler.mu (scheduler.go), read by every poll:
	pollIndex  int           // its index in its bucket of scheduler.polls; -1 when not there
	due        time.Time     // when its next poll is due
	poll       time.Duration // its poll interval now
	seen       uint64        // mesh.changes when last seen to move
	queued     bool          // in the run queue
	attempting bool          // an attempt runs
	dirty      bool          // attempt again once the attempt under way is over
	polled     bool          // the next attempt is a poll
	finished   bool          // the resolution has ended
	warned     bool          // the slow resolution was reported

	deps HasDependencies
	// Whoever runs an attempt owns these while attempting is true:
	start   time.Time // when the resolution began (set before the first attempt)
	watched []Service // the snapshot the watches were taken against

	// Read and written only when something changes:
	resolved chan struct{} // closed when the resolution ends
	err      error         // why it failed; written before resolved is closed
	handoff  chan struct{} // hands an attempt to the lifecycle goroutine (cap 1; see wakeOwn)
	// Guarded by scheduler.mu:
	waitElem *list.Element // its element in scheduler.waiting while it waits
	watching []*entry      // services the resolver holds
	seenAt   time.Time     // when seen last moved
}

// addDone makes e's Add WaitGroup done, once.
func (e *entry) addDone() { e.doneOnce.Do(e.done.Done) }

// setError keeps err's text for Status.
func (e *entry) setError(err error) {
	s := err.Error()
	e.lastErr.Store(&s)
}

func newEntry(svc Service, name string) *entry {
	e := &entry{
		svc:        svc,
		name:       name,
		comparable: isComparable(svc),
		zeroSize:   zeroSized(svc),
		slot:       -1,
	}
	e.lc.Reset(time.Now()) // StateAdded, since now
	_, e.hasLogger = svc.(HasLogger)
	if _, ok := svc.(HasServe); ok {
		e.serve = &serveState{}
	}
	if d, ok := svc.(HasDependencies); ok {
		e.resolution = &resolution{
			deps:      d,
			resolved:  make(chan struct{}),
			handoff:   make(chan struct{}, 1),
			pollIndex: -1,
		}
	}
	return e
}
