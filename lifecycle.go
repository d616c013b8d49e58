package servicemesh

import (
	"time"
)

// The lifecycle of one service: its entry, its state, and the goroutine
// work that takes it from added to initialized, recording its Init on the
// start stack (internal/registry), which shutdown stops in the order of the
// dependency graph. An entry's state is an atomic value read and written
// without the mesh's lock; what else each field of entry is guarded by is
// said beside it.

// lifecycle takes one service from added to initialized. It runs on the
// lane (startorder.go) or in a goroutine of its own, counted in busy except
// while Init runs, and ends once EventServiceInitialized's handlers have run
// or the lifecycle was cut short, or parks while the service waits
// (lifecycleOnce).
func (m *mesh) lifecycle(e *entry) { m.runLifecycle(e, fromStart) }

// stage is where a lifecycle runs from: its start, or where it parked.
type stage uint8

const (
	fromStart         stage = iota
	afterRequirements       // resumed: its wait for its requirements ended (requirewake.go)
	afterResolution         // resumed: its dependency resolution ended (dependencies.go)
)

// lifecycleOnce is the lifecycle of e from from: all of it, or the rest of
// a lifecycle that parked waiting for its requirements (requirements.go)
// or for its dependencies (dependencies.go), resumed from where it parked,
// on a goroutine counted in busy. A lifecycle that parks ends here without
// settling anything: its resumption does. A waiting service holds no
// goroutine. It reports whether e's Init returned normally: the services
// waiting on e may go on (handoff.go).
func (m *mesh) lifecycleOnce(e *entry, from stage) (initialized bool) {
	if !onLane(e, from) {
		defer m.busyDone()
	}
	parked := false
	defer func() {
		if !parked {
			e.addDone()
		}
	}()
	defer func() {
		if !parked {
			m.retired(e)
		}
	}()
	reached := false // whether pending was already settled
	defer func() {
		if !reached && !parked {
			m.needsOver(e) // cut short before its requirements, if it has any
			m.settle(e, false)
		}
	}()
	// A service removed meanwhile emits no more events of its lifecycle, so
	// that they do not follow its EventServiceRemoved. An event whose
	// emission began before Remove may still be delivered concurrently with
	// the removal's.
	emit := func(event string) bool {
		if e.gone.Load() {
			return false
		}
		if !m.heard(event) {
			return true
		}
		e.progress.Steps.Add(1)
		e.progress.InUserCode.Store(true)
		m.emit(event, e.svc)
		e.progress.InUserCode.Store(false)
		e.progress.Steps.Add(1)
		return true
	}
	if from == fromStart && !m.introduce(e, emit) {
		return
	}
	if e.reqs != nil && from != afterResolution {
		switch m.meetRequirements(e) {
		case reqParked:
			parked = true
			return
		case reqFailed, reqCut:
			return
		}
	}
	if e.resolution != nil {
		ok := false
		if from == afterResolution {
			ok = m.resolved(e)
		} else {
			ok = m.resolve(e, &parked)
		}
		if !ok {
			return
		}
	}
	return m.initialize(e, emit, &reached)
}

// introduce waits for e's previous lifecycle to retire, if e was added
// again, and tells e's first events; it reports whether the lifecycle goes
// on.
func (m *mesh) introduce(e *entry, emit func(string) bool) bool {
	if p := e.prev; p != nil {
		e.prev = nil
		// Observers hear of the removal before this lifecycle's events. That
		// wait is bounded: the removal's goroutine is counted in busy. The
		// previous lifecycle may run an Init that never returns; once
		// shutdown has begun no Init follows, so this one ends without
		// setting the service up, and so never runs concurrently with it.
		<-p.node.Told()
		select {
		case <-p.node.Retired():
		case <-m.down:
			return false
		}
		// p may have retired because shutdown cut its own wait short, while
		// the lifecycle before it still runs its Init: after the shutdown
		// began, nothing is set up.
		if m.stopping.Load() {
			return false
		}
		m.attach(e, true)
		m.changed()
	}
	return emit(EventServiceEventsBound) && (!e.hasLogger || emit(EventServiceLoggerBound)) && emit(EventServiceAdded)
}

// initialize runs e's Init, and its Serve once Init returned, and tells
// EventServiceInitialized; reached is set once pending was settled. It
// reports whether Init returned normally.
func (m *mesh) initialize(e *entry, emit func(string) bool, reached *bool) bool {
	svc := e.svc
	if !m.beginInit(e) {
		return false
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
		*reached = true
		e.startFailed.Store(true)
		m.fail(e, "init", errGoexit)
		m.settle(e, false)
	}()
	ok, failure := m.callInit(e)
	returned = true
	m.initEnded(e)
	*reached = true
	if !ok {
		e.startFailed.Store(true)
	}
	if failure != nil {
		m.fail(e, "init", failure) // counted in busy again: shutdown waits for its handlers
	}
	// A service whose stop began while its Init ran (a loop in Init that
	// its OnShutdown ended) is told initialized still, but gets no Serve.
	if running := m.settle(e, ok); !ok {
		return false
	} else if running {
		if e.serve != nil {
			m.startServe(e, svc.(HasServe))
		}
		e.provides.Store(true) // it may fill requirements now
		m.needsChanged(e)
	}
	m.debug("service initialized", "subject", e.name)
	emit(EventServiceInitialized)
	return true
}

// initEnded notes that e's Init returned (or ended with runtime.Goexit):
// its lifecycle is counted in busy again.
func (m *mesh) initEnded(e *entry) {
	m.busy.Add(1)
	e.progress.InInit.Store(false)
	if m.starts.Returned() || m.stopping.Load() {
		poke(m.idleWake) // see settleInits
	}
}

// beginInit reports whether e may be initialized now: not once it was
// removed, nor once shutdown began. An Init that begins is recorded on the
// start stack before shutdown can read it (see registry.Starts.Seal), so
// that shutdown stops every service whose Init began.
func (m *mesh) beginInit(e *entry) bool {
	if e.gone.Load() {
		return false
	}
	return m.starts.Begin(&e.node, func() bool {
		if m.stopping.Load() || !m.step(e, StateStarting) {
			return false
		}
		e.progress.InInit.Store(true)
		return true
	})
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
		m.sched.Initialized(&e.watchers)
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
// Subscribers, when there are any, are told of each step (subscribe.go).
func (m *mesh) step(e *entry, to State) bool {
	if m.hub.subs.Load() != nil {
		return m.stepTold(e, to, nil)
	}
	_, ok := e.lc.To(to)
	return ok
}

// stepErr is step with the error that caused it, for subscribers: a
// failure, or a Serve's before its restart.
func (m *mesh) stepErr(e *entry, to State, err error) bool {
	if m.hub.subs.Load() != nil {
		return m.stepTold(e, to, err)
	}
	_, ok := e.lc.To(to)
	return ok
}

// stepFrom moves e to the state to if it is in one of from and its
// lifecycle allows the step, and reports whether it moved.
func (m *mesh) stepFrom(e *entry, to State, from ...State) bool {
	if m.hub.subs.Load() != nil {
		return m.stepTold(e, to, nil, from...)
	}
	for _, f := range from {
		if e.lc.Step(f, to) {
			return true
		}
	}
	return false
}

// addDone makes e's Add WaitGroup done, once.
func (e *entry) addDone() { e.doneOnce.Do(e.done.Done) }

// setError keeps err's text for Status.
func (e *entry) setError(err error) {
	s := err.Error()
	e.lastErr.Store(&s)
}

func newEntry(svc Service, name string) *entry {
	e := &entry{svc: svc, name: name}
	e.node.Init(e, svc)
	e.lc.Reset(time.Now()) // StateAdded, since now
	_, e.hasLogger = svc.(HasLogger)
	if _, ok := svc.(HasServe); ok {
		e.serve = &serveState{}
	}
	if d, ok := svc.(HasDependencies); ok {
		e.resolution = newResolution(e, d)
	}
	return e
}
