package servicemesh

import "github.com/gravestench/servicemesh/internal/registry"

// The mesh's side of the registry (internal/registry): the set of services,
// their lookup and the snapshot for resolvers, the retire handshake, and
// the start stack. The registry's lock guards, besides its own state, the
// registry's part of each entry (entry.node: its slot, hidden, the retire
// channels and waits) and the entry's dependency edges (dependsOn,
// holdsMesh); the start stack's links are its own.

// Services returns a copy of the mesh's services, the mesh first.
func (m *mesh) Services() []Service { return m.reg.Services() }

// wakeResolvers wakes the waiting resolvers after e was listed: what they
// wait for may be there now. The snapshot they read was stored before, so a
// resolver that begins waiting later sees it on its first attempt. Services
// waiting for their requirements are tried again if e may fill them.
func (m *mesh) wakeResolvers(e *entry) {
	m.sched.Broadcast()
	m.needsChanged(e)
}

// retired notes, at the end of e's lifecycle, that it has ended. Entries
// never removed take no lock here.
func (m *mesh) retired(e *entry) {
	// Remove sets gone and then, under the registry's lock, reads ended;
	// this sets ended and then reads gone. If Remove read ended as false,
	// this sees gone.
	e.ended.Store(true)
	if e.gone.Load() {
		m.reg.LifeOver(&e.node)
	}
	if m.hub.subs.Load() != nil {
		poke(m.hub.wake) // readiness waits for lifecycles to end: look again
	}
}

// stopOrder returns the entries to stop: those whose Init began, that were
// not removed and whose start did not fail, newest Init first.
func (m *mesh) stopOrder() []*entry { return m.starts.Order(toStop) }

// toStop reports whether e, whose Init began, is to be stopped.
func toStop(e *entry) bool { return !e.gone.Load() && !e.startFailed.Load() }

// wasRemoved reports whether e was removed.
func wasRemoved(e *entry) bool { return e.gone.Load() }

// listing is the registry seen under its lock (m.reg.Do).
type listing = registry.Locked[Service, *entry]
