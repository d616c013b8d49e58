package servicemesh

import (
	"github.com/gravestench/servicemesh/internal/graph"
	"github.com/gravestench/servicemesh/internal/sched"
)

// One attempt of a waiting resolver (attemptOnce, attempt), run by whoever
// runs it (the lifecycle, the scheduler, a hand-off), and what the mesh
// learns from one that did not resolve: which services the resolver holds
// (watch).

// attemptOnce asks w's resolver once, with the shared snapshot of the
// services; when it did not resolve, it records which services the resolver
// now holds, except on a poll of an unchanged mesh, which keeps the watches
// it had: that is what keeps a thousand services waiting on the outside
// cheap. Called by whoever runs w's attempt.
func (m *mesh) attemptOnce(w *resolution, polled bool) (done bool, err error) {
	r := &w.Data
	services := m.reg.Snapshot()
	done, err = m.attempt(w.Name(), r.deps, services)
	if err != nil || done {
		return done, err
	}
	if !polled || !sameSnapshot(services, r.watched) {
		m.watch(w)
		r.watched = services
	}
	return false, nil
}

// attempt asks the resolver d of the service called name once, containing
// panics: resolved already, or resolved after being handed the services.
func (m *mesh) attempt(name string, d HasDependencies, services []Service) (done bool, err error) {
	err = m.guard(name, "DependenciesResolved", func() { done = d.DependenciesResolved() })
	if err != nil || done {
		return done, err
	}
	err = m.guard(name, "ResolveDependencies", func() { d.ResolveDependencies(services) })
	if err != nil {
		return false, err
	}
	err = m.guard(name, "DependenciesResolved", func() { done = d.DependenciesResolved() })
	return done, err
}

// sameSnapshot reports whether a and b are the same snapshot of the mesh.
func sameSnapshot(a, b []Service) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// Which services does a waiting resolver hold? After an attempt that did not
// resolve, the mesh reads the words of the resolver's struct that can hold a
// service's address (graph.HeldAddresses, which says how deep it looks and
// what it does not see) and wakes the resolver when one of those services is
// initialized or removed. The answer is only a hint for whom to wake first:
// every waiting resolver is also re-run shortly after any change (in a
// broadcast, see internal/sched), and polled.
//
// It earns its place on chains of dependencies: each link is re-run the
// moment the service it holds is initialized, on a goroutine started for
// it that goes on with its Init (a hand-off, see internal/sched), not at
// the next broadcast, which with thousands of waiters may be tens of
// milliseconds away. What it does not see only delays a re-run to the next
// broadcast. The same addresses are the edges of the dependency graph
// (graph.go).

// watch tells the scheduler which services w's resolver now holds (see
// above), so that w is attempted at once when one of them is initialized or
// removed. Called by whoever runs w's attempt.
// Every attempt of a broadcast that does not resolve comes here: the lists
// are on the stack (most resolvers hold a few words), and the scheduler
// changes nothing when the resolver holds what it held.
func (m *mesh) watch(w *resolution) {
	e := w.Data.e
	var addrBuf [8]uintptr
	var entryBuf [4]*entry
	var heldBuf [4]*sched.Watchers[resolverState]
	addrs := graph.AppendHeldAddresses(addrBuf[:0], e.svc)
	held := heldBuf[:0]
	for _, x := range m.reg.AppendHeld(entryBuf[:0], addrs, e) {
		held = append(held, &x.watchers)
	}
	m.sched.Watch(w, held)
}
