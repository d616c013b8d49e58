package servicemesh

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gravestench/servicemesh/internal/graph"
	"github.com/gravestench/servicemesh/internal/timing"
)

// Dependency resolution: the errors, the settings, and what one attempt of a
// service's resolver does and decides (resolve, await, runAttempt, finish).
// Which goroutine runs an attempt, and when, is the scheduler's
// (scheduler.go); an attempt's fields are owned by whoever runs it, the rest
// of type resolution is guarded by scheduler.mu.

// ErrDependencyResolutionTimeout is wrapped by the error reported when a
// service's dependencies were not resolved within the resolution timeout.
var ErrDependencyResolutionTimeout = errors.New("dependency resolution timed out")

// ErrDependencyResolutionCanceled is wrapped by the error reported when a
// service's resolution was cut short because the mesh shut down or the
// service was removed.
var ErrDependencyResolutionCanceled = errors.New("dependency resolution canceled")

// ResolutionError reports why a service's dependencies were not resolved.
// It wraps ErrDependencyResolutionTimeout, ErrDependencyResolutionCanceled,
// or a *PanicError.
type ResolutionError struct {
	Service    string        // the service whose resolution failed
	Waited     time.Duration // how long it waited
	Unresolved []string      // the first services still unresolved in the mesh at that moment, itself included
	More       int           // how many more were unresolved than Unresolved names
	Reason     string        // for a cancellation: what canceled it
	Err        error         // ErrDependencyResolutionTimeout, ErrDependencyResolutionCanceled, or a *PanicError
}

// Error describes the failure, naming the service and what it waited for.
func (e *ResolutionError) Error() string {
	var b strings.Builder
	if pe, ok := e.Err.(*PanicError); ok {
		fmt.Fprintf(&b, "servicemesh: dependency resolution failed: service %q panicked in %s: %v", pe.Service, pe.Call, pe.Value)
	} else {
		fmt.Fprintf(&b, "servicemesh: %v: service %q", e.Err, e.Service)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	fmt.Fprintf(&b, " after %v", e.Waited.Round(time.Microsecond))
	if len(e.Unresolved) > 0 {
		fmt.Fprintf(&b, "; unresolved in the mesh: %s", strings.Join(e.Unresolved, ", "))
		if e.More > 0 {
			fmt.Fprintf(&b, " and %d more", e.More)
		}
	}
	return b.String()
}

// Unwrap returns the underlying sentinel or panic error.
func (e *ResolutionError) Unwrap() error { return e.Err }

// SetDependencyResolutionTimeout sets how long a service may wait for its
// dependencies. It applies to resolutions under way as well as later ones.
func (m *mesh) SetDependencyResolutionTimeout(d time.Duration) {
	m.timeout.Store(int64(d))
	m.queueAll()
}

// SetDependencyWarningDelay sets after how long a service that is still
// waiting for its dependencies is reported at level Warn, once, with how long
// it has waited and which services are still unresolved (default 5s; zero or
// negative turns the report off). When every unresolved service is waiting and
// nothing in the mesh has changed for that long, the report says that a
// dependency cycle or a missing service is likely. The same delay reports a
// shutdown held up by an OnShutdown, or a lifecycle handler, that does not
// return.
//
// It is a function rather than a Mesh method so that Mesh stays the interface
// the original library defined. It applies to waits under way, and reports
// false, doing nothing, when m was not made by New.
func SetDependencyWarningDelay(m Mesh, d time.Duration) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.warnDelay.Store(int64(d))
	mm.queueAll()
	return true
}

// resolve runs e's dependency resolution, bracketed by its events, and
// reports whether Init may follow.
func (m *mesh) resolve(e *entry, about []any) bool {
	m.emit(EventDependencyResolutionStarted, about...)
	err := m.await(e)
	if err != nil {
		if errors.Is(err, ErrDependencyResolutionCanceled) { // routine: Remove or Shutdown
			m.debug("dependency resolution canceled", "subject", e.name, "reason", err.(*ResolutionError).Reason)
		} else {
			m.fail(e, "resolve", err)
		}
		m.emit(EventDependencyResolutionFailed, e.svc, err)
		return false
	}
	m.debug("dependencies resolved", "subject", e.name)
	m.emit(EventDependencyResolutionEnded, about...)
	return true
}

// await resolves e's dependencies: it runs the first attempt itself, on the
// lifecycle goroutine, and leaves the others to the scheduler (see
// scheduler.go) until the dependencies are resolved, the timeout passes, the
// resolution is canceled, or a resolver method panics.
func (m *mesh) await(e *entry) error {
	s := &m.sched
	now := time.Now()
	s.mu.Lock()
	if e.gone.Load() { // removed before its resolution began
		s.mu.Unlock()
		e.finished = true
		close(e.resolved)
		return m.resolutionError(e, now, ErrDependencyResolutionCanceled, "the service was removed")
	}
	m.step(e, StateResolving)
	e.start, e.seenAt, e.seen = now, now, m.changes.Load()
	e.poll = timing.FirstPoll
	e.waitElem = m.enqueueWaiting(e)
	s.nwaiting.Add(1)
	e.attempting = true
	s.mu.Unlock()
	m.runAttempt(e, false, time.Time{})
	for {
		select {
		case <-e.resolved:
			return e.err
		case <-e.handoff: // wakeOwn made this goroutine the attempt's owner
			m.runAttempt(e, false, time.Time{})
		}
	}
}

// runAttempt asks e's resolver once, then ends the resolution or arranges
// the next attempt. The caller made e.attempting true: nobody else runs an
// attempt of e meanwhile. A poll (polled) is a scheduler's attempt at a
// time when nothing was asked of e: whoever cancels e queues it, which
// makes its next attempt a queued one (or marks the poll under way
// dirty), so a poll need not look for a cancellation. clock is a recent
// reading of the clock, taken before the resolver was called; zero: read
// it after. Because it is taken before, a resolver that runs past the
// timeout is found timed out only at its next attempt: that attempt ends
// the resolution before it calls the resolver, so a service is never
// initialized on a call that began after its timeout.
func (m *mesh) runAttempt(e *entry, polled bool, clock time.Time) {
	if !polled {
		if reason := m.canceled(e); reason != "" {
			m.finish(e, m.resolutionError(e, e.start, ErrDependencyResolutionCanceled, reason))
			return
		}
	}
	if limit := time.Duration(m.timeout.Load()); limit > 0 && !clock.IsZero() && clock.Sub(e.start) >= limit {
		m.finish(e, m.resolutionError(e, e.start, ErrDependencyResolutionTimeout, ""))
		return
	}
	services := m.snapshot()
	done, err := m.attempt(e, services)
	switch {
	case err != nil:
		m.finish(e, m.resolutionError(e, e.start, err, ""))
		return
	case done:
		m.finish(e, nil)
		return
	}
	// A poll of an unchanged mesh keeps the watches it had: that is what
	// keeps a thousand services waiting on the outside cheap.
	if !polled || !sameSnapshot(services, e.watched) {
		m.watch(e)
		e.watched = services
	}

	now := clock
	if now.IsZero() {
		now = time.Now()
	}
	waited := now.Sub(e.start)
	var warn, timedOut bool
	s := &m.sched
	s.mu.Lock()
	e.attempting = false
	if c := m.changes.Load(); c != e.seen {
		e.seen, e.seenAt = c, now
	}
	if polled {
		e.poll = min(2*e.poll, timing.MaxPoll)
	}
	wait := m.alignPoll(e, now, e.poll)
	if limit := time.Duration(m.timeout.Load()); limit > 0 {
		if waited >= limit {
			timedOut = true
		}
		wait = min(wait, limit-waited)
	}
	if delay := time.Duration(m.warnDelay.Load()); !e.warned && delay > 0 {
		if waited >= delay {
			e.warned, warn = true, true
		} else {
			wait = min(wait, delay-waited)
		}
	}
	quiet := now.Sub(e.seenAt)
	switch {
	case timedOut:
		e.attempting = true // finish ends it
	case e.dirty || !polled && m.canceled(e) != "":
		e.dirty = false
		m.queue(e)
	default:
		m.schedulePoll(e, now.Add(wait))
	}
	s.mu.Unlock()
	if timedOut {
		m.finish(e, m.resolutionError(e, e.start, ErrDependencyResolutionTimeout, ""))
		return
	}
	if warn {
		m.warnSlow(e, waited, quiet)
	}
}

// finish ends e's resolution with err (nil: resolved) and lets its
// lifecycle go on. Called by whoever runs e's attempt, once.
func (m *mesh) finish(e *entry, err error) {
	s := &m.sched
	s.mu.Lock()
	if e.waitElem != nil {
		s.waiting.Remove(e.waitElem)
		e.waitElem = nil
		s.nwaiting.Add(-1)
		if s.waiting.Len() == 0 && s.idle {
			poke(s.wake) // so that it ends
		}
	}
	s.polls.remove(e)
	m.setWatching(e, nil)
	e.finished, e.attempting, e.queued = true, false, false
	e.watched = nil
	e.err = err
	s.mu.Unlock()
	close(e.resolved)
}

// attempt asks e's resolver once, containing panics: resolved already, or
// resolved after being handed the services.
func (m *mesh) attempt(e *entry, services []Service) (done bool, err error) {
	d := e.deps
	err = m.guard(e.name, "DependenciesResolved", func() { done = d.DependenciesResolved() })
	if err != nil || done {
		return done, err
	}
	err = m.guard(e.name, "ResolveDependencies", func() { d.ResolveDependencies(services) })
	if err != nil {
		return false, err
	}
	err = m.guard(e.name, "DependenciesResolved", func() { done = d.DependenciesResolved() })
	return done, err
}

// canceled returns why e's resolution must stop, or "". Whoever cancels sets
// the flag and then queues the resolver, so a cancellation is never missed.
func (m *mesh) canceled(e *entry) string {
	switch {
	case e.gone.Load():
		return "the service was removed"
	case m.stopping.Load():
		return "the mesh is shutting down"
	}
	return ""
}

// resolutionError builds the error for a failed resolution of e.
func (m *mesh) resolutionError(e *entry, start time.Time, err error, reason string) *ResolutionError {
	names, more := m.unresolved()
	return &ResolutionError{
		Service:    e.name,
		Waited:     time.Since(start),
		Unresolved: names,
		More:       more,
		Reason:     reason,
		Err:        err,
	}
}

// maxNamed bounds how many unresolved services an error or warning names, so
// that a thousand failing services do not each carry a thousand names.
const maxNamed = 10

// sameSnapshot reports whether a and b are the same snapshot of the mesh.
func sameSnapshot(a, b []Service) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// watch records which services e's resolver now holds, so that e is
// attempted at once when one of them is initialized or removed. Called by
// whoever runs e's attempt.
func (m *mesh) watch(e *entry) {
	addrs := graph.HeldAddresses(e.svc)
	var held []*entry
	m.reg.mu.Lock()
	if m.reg.byAddr == nil {
		m.indexAddresses()
	}
	for _, a := range addrs {
		if x := m.reg.byAddr[a]; x != nil && x != e && !slices.Contains(held, x) {
			held = append(held, x)
		}
	}
	m.reg.mu.Unlock()
	s := &m.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	if !e.finished {
		m.setWatching(e, held)
	}
}

// setWatching replaces the set of services e watches. The caller holds
// sched.mu.
func (m *mesh) setWatching(e *entry, held []*entry) {
	for _, x := range e.watching {
		delete(x.watchers, e)
	}
	e.watching = held
	for _, x := range held {
		if x.watchers == nil {
			x.watchers = make(map[*entry]struct{})
		}
		x.watchers[e] = struct{}{}
	}
}
