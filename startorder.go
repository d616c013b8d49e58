package servicemesh

import "github.com/gravestench/servicemesh/internal/lane"

// Inits of services without dependencies begin in the order the services
// were added: programs written for the original library rely on it (a
// configuration service added first is initialized first). The lifecycles
// of such services run one after another, in the order added, on one
// goroutine of the mesh, the lane (internal/lane): an Init that returns
// quickly is over before the next service's lifecycle begins.
//
// A service may run its loop inside Init, and a handler may wait for
// something that only a later service provides, so the lane never waits on
// one service for long: when the service it runs has been in Init for 2 to
// 3 ms (timing.LaneInitTicks), or inside SetLogger or its event handlers without
// progress for about 50 ms (timing.LaneStuckTicks), the lane moves on to a new
// goroutine and leaves that service to finish on the old one. That is what
// may still let a later Init begin before an earlier one has returned, or
// (for a handler that waits) before it has begun; the mesh says so at level
// Debug. A handler that merely takes a while delays the later services for
// as long.
//
// A service with dependencies runs its lifecycle on a goroutine of its own
// and begins its Init whenever its dependencies are resolved (while it
// waits it is a record, without a goroutine; it resumes on the goroutine
// that resolved it, see handoff.go and dependencies.go); so does a
// service added again while its previous lifecycle still runs.

// initLane sets up the lane: it runs lifecycles, releases each one's count
// in busy once it is over (the lane's goroutine is counted through the
// entries it runs; the lifecycle itself releases it while Init runs), and
// says at Debug when it leaves a service behind. Called by New.
func (m *mesh) initLane() {
	m.lane.Init(lane.Funcs[*entry]{
		Run:      m.lifecycle,
		Progress: func(e *entry) *lane.Progress { return &e.progress },
		Release:  m.busyDone,
		HandedOn: func(e *entry, why lane.Why) {
			because := "its Init has not returned"
			if why == lane.WhyStuck {
				because = "it is stuck in SetLogger or its event handlers"
			}
			m.debug("later services go ahead of one that is still on its way", "subject", e.name, "because", because)
		},
	})
}

// enqueue adds e's lifecycle to the lane, behind those added before it.
func (m *mesh) enqueue(e *entry) { m.lane.Add(e) }
