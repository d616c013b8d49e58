package servicemesh

// Warnings of slow resolutions: the line logged for a service that has
// waited SetDependencyWarningDelay for its dependencies. The cache of the names
// of Inits under way is guarded by its own mutex (initNames.mu), taken
// before registry.mu; everything else is read from the other parts.

import (
	"sync"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// warnSlow logs, once per service (the scheduler calls it once), that w
// has waited long for its dependencies, and says when the mesh looks stuck.
func (m *mesh) warnSlow(w *resolution, waited, quiet time.Duration) {
	names, more := m.sched.Unresolved()
	running := m.initializing() // an Init that waits for this service would show here
	stuck := m.pending.Load() == m.sched.Waiting() && quiet >= time.Duration(m.warnDelay.Load())
	if stuck {
		m.logger.Warn("service still waiting for dependencies; every unresolved service is waiting and the mesh has not changed since, so a dependency cycle or a missing service is likely",
			"subject", w.Name(), "waited", waited.Round(time.Millisecond), "unchanged_for", quiet.Round(time.Millisecond), "unresolved", names, "more", more, "initializing", running)
		return
	}
	m.logger.Warn("service still waiting for dependencies",
		"subject", w.Name(), "waited", waited.Round(time.Millisecond), "unresolved", names, "more", more, "initializing", running)
}

// initNames is the names of the services in Init, as last read for the
// warnings of slow resolutions, and when they were read.
type initNames struct {
	mu    sync.Mutex // guards names and at; taken before registry.mu
	names []string   // shared by the warnings: never modified
	at    time.Time
}

// initializing names the first services whose Init is under way, for a
// warning of a slow resolution. Reading them walks every service, and ten
// thousand services that began waiting together warn together: the names
// are read at most once per timing.InitNamesTTL for all of them, and not at all
// while no Init runs.
func (m *mesh) initializing() []string {
	if m.starts.Running() == 0 {
		return nil
	}
	c := &m.inits
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.at.IsZero() || now.Sub(c.at) >= timing.InitNamesTTL {
		c.names, c.at = m.named(StateStarting), now
	}
	return c.names
}
