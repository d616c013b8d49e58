package servicemesh

import (
	"container/list"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

const (
	defaultResolutionTimeout = 30 * time.Second
	defaultWarnDelay         = 5 * time.Second
	firstPoll                = time.Millisecond
	// maxPoll is the poll's ceiling. The promise is that an outside
	// dependency is noticed within 50 ms; polling at 40 ms leaves the rest
	// for waking the resolver on a busy machine.
	maxPoll = 40 * time.Millisecond
)

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
	m.wakeResolvers()
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
	mm.wakeResolvers()
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
			m.logger.Error("dependency resolution failed", "subject", e.name, "error", err)
		}
		m.emit(EventDependencyResolutionFailed, e.svc, err)
		return false
	}
	m.debug("dependencies resolved", "subject", e.name)
	m.emit(EventDependencyResolutionEnded, about...)
	return true
}

// await calls e's resolver until its dependencies are resolved, the timeout
// passes, or the resolution is canceled. It re-runs the resolver at once
// after a change it may care about and otherwise polls, backing off from
// firstPoll to maxPoll, for dependencies that arrive from outside the mesh.
func (m *mesh) await(e *entry) (err error) {
	start := time.Now()
	m.mu.Lock()
	if e.gone.Load() { // removed before its resolution began
		m.mu.Unlock()
		close(e.resolved)
		return m.resolutionError(e, start, ErrDependencyResolutionCanceled, "the service was removed")
	}
	e.state.store(StateResolving)
	e.waitElem = m.enqueueWaiting(e)
	m.nwaiting.Add(1)
	m.blind[e] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.waiting.Remove(e.waitElem)
		m.nwaiting.Add(-1)
		e.due = time.Time{}
		if m.waiting.Len() == 0 && m.pollerOn {
			poke(m.pollerWake) // so that it ends
		}
		e.waitElem = nil
		delete(m.blind, e)
		m.setWatching(e, nil)
		if e.state.load() == StateResolving {
			e.state.store(StateStarting) // Init follows unless canceled meanwhile
			if err != nil {
				e.state.store(StateFailed)
			}
		}
		m.mu.Unlock()
		close(e.resolved)
	}()

	poll := firstPoll
	warned, polled := false, false
	seen, seenAt := m.changes.Load(), start // the last change this resolver saw, and when
	var watched []Service                   // the snapshot the watches were taken against
	for {
		select { // the attempt below sees every change and cancellation made so far
		case <-e.wake:
		default:
		}
		if reason := m.canceled(e); reason != "" {
			return m.resolutionError(e, start, ErrDependencyResolutionCanceled, reason)
		}
		services := m.snapshot()
		done, err := m.attempt(e, services)
		if err != nil {
			return m.resolutionError(e, start, err, "")
		}
		if done {
			return nil
		}
		// A poll of an unchanged mesh keeps the watches it had: that is what
		// keeps a thousand services waiting on the outside cheap.
		if !polled || !sameSnapshot(services, watched) {
			m.watch(e)
			watched = services
		}
		polled = false

		now := time.Now()
		waited := now.Sub(start)
		if c := m.changes.Load(); c != seen {
			seen, seenAt = c, now
		}
		wait := poll
		if limit := time.Duration(m.timeout.Load()); limit > 0 {
			if waited >= limit {
				return m.resolutionError(e, start, ErrDependencyResolutionTimeout, "")
			}
			wait = min(wait, limit-waited)
		}
		if delay := time.Duration(m.warnDelay.Load()); !warned && delay > 0 {
			if waited >= delay {
				warned = true
				m.warnSlow(e, waited, now.Sub(seenAt))
			} else {
				wait = min(wait, delay-waited)
			}
		}
		pollDue := wait == poll
		if pollDue {
			wait = m.alignPoll(now, poll)
		}
		m.schedule(e, now.Add(wait))
		<-e.wake // a change, a cancellation, new settings, or the poller
		if e.polled.Swap(false) {
			polled = true
			if pollDue {
				poll = min(2*poll, maxPoll)
			}
		}
	}
}

// schedule asks the poller to wake e at t, starting the poller if it is not
// running. One poller serves every waiting resolver of the mesh, so a wait
// costs no timer of its own.
func (m *mesh) schedule(e *entry, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.due = t
	m.pollBy(t)
}

// pollBy makes sure the poller runs and wakes by t. The caller holds mu.
func (m *mesh) pollBy(t time.Time) {
	switch {
	case !m.pollerOn:
		m.pollerOn = true
		m.busy.Add(1)
		go m.pollLoop()
	case m.pollerAt.IsZero() || t.Before(m.pollerAt):
		poke(m.pollerWake)
	}
}

// broadcastDelay is how soon after a service is initialized or removed every
// waiting resolver is re-run, not only those that hold it. Changes within it
// share one re-run, so a burst of Inits costs each waiter one attempt.
const broadcastDelay = 100 * time.Microsecond

// requestBroadcast arranges for every waiting resolver to be re-run within
// broadcastDelay. The caller holds mu.
func (m *mesh) requestBroadcast() {
	if m.waiting.Len() == 0 || !m.broadcastAt.IsZero() {
		return
	}
	m.broadcastAt = time.Now().Add(broadcastDelay)
	m.pollBy(m.broadcastAt)
}

// pollLoop wakes waiting resolvers when their due time comes. It runs while
// any resolver waits, counted in busy, and ends with the last of them.
func (m *mesh) pollLoop() {
	defer m.busyDone()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		m.mu.Lock()
		if m.waiting.Len() == 0 {
			m.pollerOn = false
			m.pollerAt = time.Time{}
			m.broadcastAt = time.Time{}
			m.mu.Unlock()
			return
		}
		now := time.Now()
		var next time.Time
		if !m.broadcastAt.IsZero() {
			if now.Before(m.broadcastAt) {
				next = m.broadcastAt
			} else {
				m.broadcastAt = time.Time{}
				m.wakeAll()
			}
		}
		for el := m.waiting.Front(); el != nil; el = el.Next() {
			e := el.Value.(*entry)
			switch {
			case e.due.IsZero():
			case !e.due.After(now):
				e.due = time.Time{}
				e.polled.Store(true)
				poke(e.wake)
			case next.IsZero() || e.due.Before(next):
				next = e.due
			}
		}
		m.pollerAt = next
		m.mu.Unlock()

		if next.IsZero() {
			<-m.pollerWake
			continue
		}
		timer.Reset(next.Sub(now))
		select {
		case <-timer.C:
		case <-m.pollerWake:
		}
	}
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
// the flag and then wakes the resolver, so a resolver that drained its wake-up
// before checking never misses a cancellation.
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

// enqueueWaiting inserts e into waiting, which stays in the order the
// services were added; resolutions mostly begin in that order, so the walk
// from the back is short. The caller holds mu.
func (m *mesh) enqueueWaiting(e *entry) *list.Element {
	for el := m.waiting.Back(); el != nil; el = el.Prev() {
		if el.Value.(*entry).seq < e.seq {
			return m.waiting.InsertAfter(e, el)
		}
	}
	return m.waiting.PushFront(e)
}

// maxNamed bounds how many unresolved services an error or warning names, so
// that a thousand failing services do not each carry a thousand names.
const maxNamed = 10

// unresolved names the first services waiting for dependencies, in the order
// they were added, and counts the others.
func (m *mesh) unresolved() (names []string, more int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for el := m.waiting.Front(); el != nil && len(names) < maxNamed; el = el.Next() {
		names = append(names, el.Value.(*entry).name)
	}
	return names, m.waiting.Len() - len(names)
}

// warnSlow logs, once per service, that e has waited long for its
// dependencies, and says when the mesh looks stuck.
func (m *mesh) warnSlow(e *entry, waited, quiet time.Duration) {
	names, more := m.unresolved()
	running := m.named(StateStarting) // an Init that waits for this service would show here
	m.mu.Lock()
	stuck := m.pending.Load() == int64(m.waiting.Len()) && quiet >= time.Duration(m.warnDelay.Load())
	m.mu.Unlock()
	if stuck {
		m.logger.Warn("service still waiting for dependencies; every unresolved service is waiting and the mesh has not changed since, so a dependency cycle or a missing service is likely",
			"subject", e.name, "waited", waited.Round(time.Millisecond), "unchanged_for", quiet.Round(time.Millisecond), "unresolved", names, "more", more, "initializing", running)
		return
	}
	m.logger.Warn("service still waiting for dependencies",
		"subject", e.name, "waited", waited.Round(time.Millisecond), "unresolved", names, "more", more, "initializing", running)
}

// wakeAll wakes every waiting resolver: a service was added, and any of them
// may be looking for it. The caller holds mu.
func (m *mesh) wakeAll() {
	for el := m.waiting.Front(); el != nil; el = el.Next() {
		poke(el.Value.(*entry).wake)
	}
}

// wakeDependents wakes at once the resolvers that hold x and those that
// hold no service the mesh can see, and every other waiting resolver within
// broadcastDelay: x was initialized or removed. The caller holds mu.
func (m *mesh) wakeDependents(x *entry) {
	for e := range x.watchers {
		poke(e.wake)
	}
	for e := range m.blind {
		poke(e.wake)
	}
	m.requestBroadcast() // and everyone else, shortly
}

// wakeResolvers wakes every waiting resolver, to apply new settings.
func (m *mesh) wakeResolvers() {
	m.mu.Lock()
	m.wakeAll()
	m.mu.Unlock()
}

// alignPoll returns how long to wait for the next poll: at most poll, ending
// on a multiple of poll since the mesh was made. Aligned, the polls of a
// thousand waiting services fall due together and the runtime wakes once for
// all of them rather than once for each, which is most of their CPU cost.
func (m *mesh) alignPoll(now time.Time, poll time.Duration) time.Duration {
	since := now.Sub(m.epoch)
	wait := poll - since%poll
	if wait <= 0 {
		wait = poll
	}
	return wait
}

// sameSnapshot reports whether a and b are the same snapshot of the mesh.
func sameSnapshot(a, b []Service) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// poke sends a wake-up that is never lost and never blocks.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// watch records which services e's resolver now holds, so that e is woken
// when one of them is initialized or removed rather than when any service is.
func (m *mesh) watch(e *entry) {
	addrs := heldAddresses(e.svc)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byAddr == nil {
		m.indexAddresses()
	}
	var entries []*entry
	for _, a := range addrs {
		if x := m.byAddr[a]; x != nil && x != e && !slices.Contains(entries, x) {
			entries = append(entries, x)
		}
	}
	m.setWatching(e, entries)
	if e.waitElem != nil && len(entries) == 0 {
		m.blind[e] = struct{}{}
	} else {
		delete(m.blind, e)
	}
}

// setWatching replaces the set of services e watches. The caller holds mu.
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
