package servicemesh

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Parking a service for its requirements (parkLocked, and the cycle its
// wait may close, cycleThrough), and waking it (requirements.go says what
// it waits for): when a provider changes, when the shutdown or Remove cuts a wait short,
// at the resolution timeout, and once the mesh has settled, to name what
// no service can fill. Guarded by needsState.mu, as requirements.go says.

// resumeLocked takes e out of the index and resumes its lifecycle on a
// goroutine of its own, counted in busy. The caller holds needs.mu.
func (m *mesh) resumeLocked(e *entry) {
	if m.unparkLocked(e) {
		m.busy.Add(1)
		go m.runLifecycle(e, afterRequirements)
	}
}

// unparkLocked takes e out of the index, and reports whether it was
// parked. The caller holds needs.mu.
func (m *mesh) unparkLocked(e *entry) bool {
	n := &m.needs
	rs := e.reqs
	if !rs.parked {
		return false
	}
	rs.parked = false
	n.parked.Add(-1)
	for i, q := range rs.list {
		if !rs.filled[i] {
			n.index.Remove(q.r.typ, e)
		}
	}
	if rs.timer != nil && rs.err == nil {
		rs.timer.Stop()
	}
	return true
}

// needsChanged tries again the waiters that x may concern: x started
// running, failed, was added or was removed. Called without a lock.
func (m *mesh) needsChanged(x *entry) {
	n := &m.needs
	if n.active.Load() == 0 && n.nones.Load() == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nones.Load() > 0 {
		m.forgetNonesLocked(x)
	}
	if n.active.Load() == 0 {
		return
	}
	var types []reflect.Type
	n.index.Keys(func(t reflect.Type) bool {
		if n.fits[t](x.svc) {
			types = append(types, t)
		}
		return true
	})
	for _, t := range types {
		for _, w := range n.index.Waiters(t) {
			if !w.reqs.parked || w == x {
				continue
			}
			if done, err := m.fillLocked(w); done || err != nil {
				w.reqs.err = err
				m.resumeLocked(w)
			}
		}
	}
	m.quietAgainLocked()
}

// cutParked resumes every parked waiter, which finds its wait cut short:
// the shutdown began (called by it, once stopping is set).
func (m *mesh) cutParked() {
	n := &m.needs
	if n.parked.Load() == 0 {
		return
	}
	n.mu.Lock()
	var all []*entry
	n.index.Keys(func(t reflect.Type) bool {
		all = append(all, n.index.Waiters(t)...)
		return true
	})
	for _, w := range all {
		m.unparkLocked(w)
	}
	if n.settled != nil {
		n.settled.Stop()
	}
	n.mu.Unlock()
	// Each finds its start cut short and ends at once, without service
	// code: on this goroutine, rather than ten thousand new ones.
	for _, w := range all {
		m.busy.Add(1)
		m.runLifecycle(w, afterRequirements)
	}
}

// unparkRemoved resumes e if it is parked: Remove cut its wait short.
func (m *mesh) unparkRemoved(e *entry) {
	if e.reqs == nil || m.needs.parked.Load() == 0 {
		return
	}
	m.needs.mu.Lock()
	m.resumeLocked(e)
	m.needs.mu.Unlock()
}

// requirementTimedOut ends e's wait at the resolution timeout, with an
// error that names the types it still waits for.
func (m *mesh) requirementTimedOut(e *entry) {
	n := &m.needs
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := e.reqs
	if !rs.parked {
		return
	}
	var missing []string
	for i, q := range rs.list {
		if !rs.filled[i] {
			missing = append(missing, q.r.typ.String())
		}
	}
	rs.err = fmt.Errorf("%w after %v: %q requires %s, and no running service of the mesh is one",
		ErrDependencyResolutionTimeout, time.Since(rs.since).Round(time.Millisecond), e.name, strings.Join(missing, ", "))
	m.resumeLocked(e)
}

// quietAgainLocked (re)starts the wait for the mesh to settle, after which
// requirements that no service can fill are named. The caller holds
// needs.mu.
func (m *mesh) quietAgainLocked() {
	n := &m.needs
	if n.parked.Load() == 0 {
		return
	}
	if n.settled == nil {
		n.settled = time.AfterFunc(timing.MeshSettled, m.warnMissing)
		return
	}
	n.settled.Reset(timing.MeshSettled)
}

// warnMissing names, once each, the requirements of parked waiters that no
// service of the mesh can fill, once the mesh has settled.
func (m *mesh) warnMissing() {
	if m.stopping.Load() {
		return
	}
	type missing struct{ name, typ string }
	var lines []missing
	n := &m.needs
	n.mu.Lock()
	var all []*entry
	n.index.Keys(func(t reflect.Type) bool {
		all = append(all, n.index.Waiters(t)...)
		return true
	})
	for _, w := range all {
		rs := w.reqs
		if rs.warned || !rs.parked {
			continue
		}
		for i, q := range rs.list {
			if !rs.filled[i] && m.firstOfLocked(q.r, w) == nil {
				rs.warned = true
				lines = append(lines, missing{w.name, q.r.typ.String()})
			}
		}
	}
	n.mu.Unlock()
	for _, l := range lines {
		m.logger.Warn(fmt.Sprintf("%q requires %s: no service in the mesh is one", l.name, l.typ),
			"subject", l.name, "requires", l.typ)
	}
}

// parkLocked parks e under the types it still waits for, and returns the
// error of a cycle that e's wait closes, having failed the others on it.
// The caller holds needs.mu.
func (m *mesh) parkLocked(e *entry) error {
	n := &m.needs
	rs := e.reqs
	if rs.since.IsZero() {
		rs.since = time.Now()
		m.stepFrom(e, StateResolving, StateAdded)
		if d := m.sched.Timeout(); d > 0 {
			rs.timer = time.AfterFunc(d, func() { m.requirementTimedOut(e) })
		}
	}
	if cycle := cycleThrough(e); cycle != nil {
		names := make([]string, 0, len(cycle)+1)
		for _, x := range cycle {
			names = append(names, x.name)
		}
		names = append(names, e.name)
		err := fmt.Errorf("%w: %s", ErrDependencyCycle, strings.Join(names, " → "))
		for _, x := range cycle[1:] {
			x.reqs.err = err
			m.resumeLocked(x)
		}
		if rs.timer != nil {
			rs.timer.Stop()
		}
		return err
	}
	if n.fits == nil {
		n.fits = make(map[reflect.Type]func(Service) bool)
	}
	for i, q := range rs.list {
		if !rs.filled[i] {
			n.index.Add(q.r.typ, e)
			n.fits[q.r.typ] = q.r.fits
		}
	}
	if !rs.parked {
		rs.parked = true
		n.parked.Add(1)
	}
	m.quietAgainLocked()
	return nil
}

// cycleThrough returns the services of a cycle of waits that e closes, e
// first, or nil: e waits for a provider that is parked waiting, through
// others parked, for e. The caller holds needs.mu.
func cycleThrough(e *entry) []*entry {
	seen := map[*entry]bool{}
	var path []*entry
	var walk func(x *entry) bool
	walk = func(x *entry) bool {
		path = append(path, x)
		for _, y := range x.reqs.waiting {
			if y == e {
				return true
			}
			if y.reqs != nil && y.reqs.parked && !seen[y] {
				seen[y] = true
				if walk(y) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(e) {
		return path
	}
	return nil
}
