package servicemesh

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	defaultResolutionTimeout = 30 * time.Second
	defaultWarnDelay         = 5 * time.Second
	firstPoll                = time.Millisecond
	maxPoll                  = 50 * time.Millisecond
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
	Unresolved []string      // services still unresolved in the mesh at that moment, itself included
	Reason     string        // for a cancellation: what canceled it
	Err        error
}

// Error describes the failure, naming the service and what it waited for.
func (e *ResolutionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "servicemesh: %v: service %q", e.Err, e.Service)
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	fmt.Fprintf(&b, " after %v", e.Waited.Round(time.Microsecond))
	if len(e.Unresolved) > 0 {
		fmt.Fprintf(&b, "; unresolved in the mesh: %s", strings.Join(e.Unresolved, ", "))
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
// shutdown held up by an Init or OnShutdown that does not return.
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
func (m *mesh) resolve(e *entry) bool {
	m.emit(EventDependencyResolutionStarted, e.svc)
	err := m.await(e)
	if err != nil {
		level := errorLevel(err)
		m.logger.Log(context.Background(), level, "dependency resolution failed", "failed", e.name, "error", err)
		m.emit(EventDependencyResolutionFailed, e.svc, err)
		return false
	}
	m.logger.Debug("dependencies resolved", "resolved", e.name)
	m.emit(EventDependencyResolutionEnded, e.svc)
	return true
}

// await calls e's resolver until its dependencies are resolved, the timeout
// passes, or the resolution is canceled. It re-runs the resolver at once
// after a change it may care about and otherwise polls, backing off from
// firstPoll to maxPoll, for dependencies that arrive from outside the mesh.
func (m *mesh) await(e *entry) (err error) {
	start := time.Now()
	m.mu.Lock()
	e.phase = phaseResolving
	e.since = start
	m.waiting[e] = struct{}{}
	m.blind[e] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.waiting, e)
		delete(m.blind, e)
		m.setWatching(e, nil)
		if err != nil && e.phase == phaseResolving {
			e.phase = phaseFailed
		}
		m.mu.Unlock()
		close(e.resolved)
	}()

	poll := firstPoll
	warned := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if reason := m.canceled(e); reason != "" {
			return m.resolutionError(e, start, ErrDependencyResolutionCanceled, reason)
		}
		select { // the attempt below sees every change made so far
		case <-e.wake:
		default:
		}
		done, err := m.attempt(e, m.snapshot())
		if err != nil {
			return m.resolutionError(e, start, err, "")
		}
		if done {
			return nil
		}
		m.watch(e)

		now := time.Now()
		waited := now.Sub(start)
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
				m.warnSlow(e, waited)
			} else {
				wait = min(wait, delay-waited)
			}
		}
		timer.Reset(wait)
		select {
		case <-e.wake:
		case <-timer.C:
			if wait == poll {
				poll = min(2*poll, maxPoll)
			}
		case <-e.cancel:
		case <-m.down:
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

// canceled returns why e's resolution must stop, or "".
func (m *mesh) canceled(e *entry) string {
	select {
	case <-e.cancel:
		return "the service was removed"
	case <-m.down:
		return "the mesh is shutting down"
	default:
		return ""
	}
}

// resolutionError builds the error for a failed resolution of e.
func (m *mesh) resolutionError(e *entry, start time.Time, err error, reason string) *ResolutionError {
	return &ResolutionError{
		Service:    e.name,
		Waited:     time.Since(start),
		Unresolved: m.unresolved(),
		Reason:     reason,
		Err:        err,
	}
}

// unresolved names the services waiting for dependencies, in the order added.
func (m *mesh) unresolved() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, x := range m.entries {
		if _, ok := m.waiting[x]; ok {
			names = append(names, x.name)
		}
	}
	return names
}

// warnSlow logs, once per service, that e has waited long for its
// dependencies, and says when the mesh looks stuck.
func (m *mesh) warnSlow(e *entry, waited time.Duration) {
	names := m.unresolved()
	m.mu.Lock()
	quiet := time.Since(m.lastChange)
	stuck := m.pending == len(m.waiting) && quiet >= time.Duration(m.warnDelay.Load())
	m.mu.Unlock()
	if stuck {
		m.logger.Warn("service still waiting for dependencies; every unresolved service is waiting and the mesh has not changed since, so a dependency cycle or a missing service is likely",
			"waiting", e.name, "waited", waited.Round(time.Millisecond), "unchanged_for", quiet.Round(time.Millisecond), "unresolved", names)
		return
	}
	m.logger.Warn("service still waiting for dependencies",
		"waiting", e.name, "waited", waited.Round(time.Millisecond), "unresolved", names)
}

// wakeAll wakes every waiting resolver: a service was added, and any of them
// may be looking for it. The caller holds mu.
func (m *mesh) wakeAll() {
	for e := range m.waiting {
		poke(e.wake)
	}
}

// wakeDependents wakes the resolvers that hold x, and those that hold no
// service the mesh can see: x was initialized or removed. The caller holds mu.
func (m *mesh) wakeDependents(x *entry) {
	for e := range x.watchers {
		poke(e.wake)
	}
	for e := range m.blind {
		poke(e.wake)
	}
}

// wakeResolvers wakes every waiting resolver, to apply new settings.
func (m *mesh) wakeResolvers() {
	m.mu.Lock()
	m.wakeAll()
	m.mu.Unlock()
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
	var held []*entry
	for _, a := range addrs {
		if x := m.ptrs[a]; x != nil && x != e && !slices.Contains(held, x) {
			held = append(held, x)
		}
	}
	m.setWatching(e, held)
	if _, ok := m.waiting[e]; ok && len(held) == 0 {
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

// maxHeldPerField bounds how many elements of one slice field are inspected.
const maxHeldPerField = 64

// heldAddresses returns the addresses held by the pointer, interface, and
// slice-of-those fields of the struct svc points to. Unexported fields count.
func heldAddresses(svc Service) []uintptr {
	v := reflect.ValueOf(svc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	var out []uintptr
	for _, i := range refFields(v.Type()) {
		f := v.Field(i)
		if f.Kind() == reflect.Slice {
			for j := range min(f.Len(), maxHeldPerField) {
				out = appendAddress(out, f.Index(j))
			}
			continue
		}
		out = appendAddress(out, f)
	}
	return out
}

func appendAddress(out []uintptr, v reflect.Value) []uintptr {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return out
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		out = append(out, v.Pointer())
	}
	return out
}

// refFieldCache maps a struct type to the indices of its fields that can
// hold a service: pointers, interfaces, and slices of either.
var refFieldCache sync.Map // reflect.Type -> []int

func refFields(t reflect.Type) []int {
	if c, ok := refFieldCache.Load(t); ok {
		return c.([]int)
	}
	var idx []int
	for i := range t.NumField() {
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Interface {
			idx = append(idx, i)
		}
	}
	refFieldCache.Store(t, idx)
	return idx
}
