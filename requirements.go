package servicemesh

// Filling declared requirements (require.go). A service whose requirements
// are not met parks: its lifecycle goroutine ends, and the service is a
// record in the index of needs (internal/sched.Needs) under each type it
// still waits for. A service of such a type that starts running, fails,
// is added or is removed looks its waiters up there and tries them again
// on its own goroutine; a waiter whose requirements are then met, or can
// no longer be, resumes its lifecycle on a goroutine of its own. The
// shutdown and Remove resume the waiters they cut short; a timer per
// waiter ends it at the resolution timeout.
//
// needsState's fields, and each entry's reqState, are guarded by
// needsState.mu, which is taken before the registry's lock (never after)
// and is never held while service code runs: filling a requirement is an
// assignment to the requirer's field, and telling whether a service is a T
// a type assertion.

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/sched"
)

// needsState is the mesh's part for requirements.
type needsState struct {
	mu     sync.Mutex
	index  sched.Needs[reflect.Type, *entry] // parked waiters by the types they wait for
	fits   map[reflect.Type]func(Service) bool
	parked atomic.Int64 // parked waiters, read without mu
	// active counts the services whose requirements are not met, failed
	// or cut short yet, parked or not: a provider that changes takes mu
	// while any is, so that a requirer between its look at the providers
	// and its parking (both under mu) never misses the change.
	active  atomic.Int64
	settled *time.Timer // fires when the mesh has been quiet for timing.MeshSettled
	// first remembers the first service of each type, in the order added
	// (firstOfLocked), or that there is none; nones counts the latter,
	// which an Add of a service of that type forgets (needsChanged).
	first map[reflect.Type]firstMemo
	nones atomic.Int64
}

// firstMemo is what firstOfLocked found for one type.
type firstMemo struct {
	p    *entry             // nil: none
	fits func(Service) bool // is a service of the type
}

// reqState is what the mesh keeps about one service's requirements.
type reqState struct {
	list    []Requirement // its non-zero requirements, read at Add
	invalid error         // a requirement that can never be filled: fails at once
	// Guarded by needsState.mu:
	filled  []bool
	parked  bool
	waiting []*entry // the first providers it waits for, not yet running
	since   time.Time
	timer   *time.Timer // ends the wait at the resolution timeout
	err     error       // why it can no longer be met: set before it resumes
	warned  bool
	chosen  []string // "type=provider" of each requirement filled, for the log
	// over is set once its requirements were met, failed or cut short, or
	// its lifecycle ended before: it no longer counts in needsState.active.
	over atomic.Bool
}

// needsOver notes, once, that e no longer waits for its requirements.
func (m *mesh) needsOver(e *entry) {
	if e.reqs != nil && e.reqs.over.CompareAndSwap(false, true) {
		m.needs.active.Add(-1)
	}
}

// readRequirements reads svc's requirements once, at Add. A panicking
// Requirements counts as an invalid requirement: the service fails.
func (m *mesh) readRequirements(svc Service, name string) *reqState {
	h, ok := svc.(HasRequirements)
	if !ok {
		return nil
	}
	var list []Requirement
	rs := &reqState{}
	if err := m.guard(name, "Requirements", func() { list = h.Requirements() }); err != nil {
		rs.invalid = err
		return rs
	}
	for _, q := range list {
		if q.r == nil {
			continue
		}
		if err := q.invalid(name); err != nil && rs.invalid == nil {
			rs.invalid = err
		}
		rs.list = append(rs.list, q)
	}
	if len(rs.list) == 0 && rs.invalid == nil {
		return nil
	}
	rs.filled = make([]bool, len(rs.list))
	return rs
}

// reqOutcome is what meetRequirements found.
type reqOutcome uint8

const (
	reqMet    reqOutcome = iota // every requirement is filled: on to Init
	reqFailed                   // they can never be met: the service failed
	reqCut                      // removed, or the shutdown began
	reqParked                   // waiting: the lifecycle ends here and resumes later
)

// meetRequirements fills e's requirements from running providers, or parks
// e until they can be, or fails it.
func (m *mesh) meetRequirements(e *entry) (out reqOutcome) {
	defer func() {
		if out != reqParked {
			m.needsOver(e)
		}
	}()
	rs := e.reqs
	if rs.invalid != nil {
		m.fail(e, "resolve", rs.invalid)
		return reqFailed
	}
	n := &m.needs
	n.mu.Lock()
	err := rs.err
	if err == nil {
		if e.gone.Load() || m.stopping.Load() {
			n.mu.Unlock()
			return reqCut
		}
		var done bool
		done, err = m.fillLocked(e)
		if err == nil && done {
			n.mu.Unlock()
			// Which provider was chosen, by Add order (logged without the
			// lock: the log handler is the application's).
			m.debug("requirements filled", "subject", e.name, "providers", strings.Join(rs.chosen, ", "))
			return reqMet
		}
	}
	if err != nil {
		n.mu.Unlock()
		m.fail(e, "resolve", err)
		return reqFailed
	}
	cycle := m.parkLocked(e)
	n.mu.Unlock()
	if cycle != nil {
		m.fail(e, "resolve", cycle)
		return reqFailed
	}
	return reqParked
}

// fillLocked fills what it can of e's requirements and reports whether all
// are filled, or why they never will be. The caller holds needs.mu.
func (m *mesh) fillLocked(e *entry) (done bool, err error) {
	rs := e.reqs
	rs.waiting = rs.waiting[:0]
	done = true
	for i, q := range rs.list {
		if rs.filled[i] {
			continue
		}
		p := m.firstOfLocked(q.r, e)
		switch {
		case p == nil:
			done = false
		case p.lc.State() == StateFailed:
			return false, fmt.Errorf("%w: %q, the %s that %q requires, failed", ErrDependencyFailed, p.name, q.r.typ, e.name)
		case p.provides.Load():
			q.r.set(p.svc)
			rs.filled[i] = true
			rs.chosen = append(rs.chosen, q.r.typ.String()+"="+p.name)
			m.declare(e, p)
		default:
			done = false
			rs.waiting = append(rs.waiting, p)
		}
	}
	return done, nil
}

// firstOfLocked returns the first service added that is a T of r, other
// than e and not removed, or nil. The caller holds needs.mu.
//
// What it found is remembered: a first service stays the first until it is
// removed (no later Add comes before it), and "none" until a service of
// the type is added; so ten thousand requirers of one type look through
// the services once, not once each.
func (m *mesh) firstOfLocked(r *requirement, e *entry) *entry {
	n := &m.needs
	if memo, ok := n.first[r.typ]; ok {
		switch {
		case memo.p == nil:
			return nil
		case memo.p != e && !memo.p.gone.Load():
			return memo.p
		}
	}
	var first *entry
	self := false // e itself is the first: what is found past it is e's alone
	m.reg.Do(func(l listing) {
		for x := range l.Entries() {
			if x.gone.Load() || !r.fits(x.svc) {
				continue
			}
			if x == e {
				self = true
				continue
			}
			first = x
			return
		}
	})
	if self {
		return first
	}
	if n.first == nil {
		n.first = make(map[reflect.Type]firstMemo)
	}
	if old, ok := n.first[r.typ]; ok && old.p == nil {
		n.nones.Add(-1)
	}
	n.first[r.typ] = firstMemo{p: first, fits: r.fits}
	if first == nil {
		n.nones.Add(1)
	}
	return first
}

// forgetNonesLocked forgets that no service of a type was there, for the
// types x, just added, is of. The caller holds needs.mu.
func (m *mesh) forgetNonesLocked(x *entry) {
	n := &m.needs
	for t, memo := range n.first {
		if memo.p == nil && memo.fits(x.svc) {
			delete(n.first, t)
			n.nones.Add(-1)
		}
	}
}

// declare records that e depends on p, which it declared: an exact edge of
// the graph (Status, Graph, the stop order).
func (m *mesh) declare(e, p *entry) {
	m.reg.Do(func(listing) {
		if !slices.Contains(e.dependsOn, p) {
			e.dependsOn = append(e.dependsOn, p)
		}
		if !slices.Contains(e.declared, p) {
			e.declared = append(e.declared, p)
		}
	})
}
