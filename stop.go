package servicemesh

// The stop: the services whose Init began stopped in the order of the
// dependency graph (graph.go), concurrently where they do not hold each
// other, within the shutdown's budget (deadline.go). It runs on the
// shutdown goroutine; each stop runs on a goroutine of its own that is left
// behind when the budget runs out.

import (
	"sync"

	"github.com/gravestench/servicemesh/internal/deadline"
	"github.com/gravestench/servicemesh/internal/graph"
)

// maxParallelStops bounds how many stops are in flight at once: enough that
// stops which wait on I/O overlap, few enough that a hundred thousand
// services do not need a hundred thousand goroutine stacks at the same
// moment.
const maxParallelStops = 1024

// stopAll stops the services of order (newest Init first) in the order of
// the dependency graph (graph.go): a service stops once every service that
// depends on it has stopped, and services with no such relation stop
// concurrently. Where the graph has a cycle, the newest Init of what is left
// stops first. With SetSequentialStop, one at a time, newest Init first.
// Which service may stop next is graph.Order's to say; stopAll starts the
// stops, waits for them and keeps the clock.
// When the budget passes, the stops still running are named at level Error,
// recorded as ErrStopTimeout and left behind, and what they depend on is
// still stopped, within the grace; when the grace passes too, what is left
// is named and left.
func (m *mesh) stopAll(order []*entry, clock *deadline.Clock) {
	if len(order) == 0 {
		return
	}
	o := graph.NewOrder(m.planStop(order), m.sequentialStop.Load(), maxParallelStops)
	var runMu sync.Mutex // guards o's running stops, which warnIfSlow's timer reads
	done := make(chan int, len(order))
	defer m.warnIfSlow("OnShutdown to return", func() []string {
		runMu.Lock()
		defer runMu.Unlock()
		return namesOf(order, o.Running())
	})()
	stopped := func(i int) {
		runMu.Lock()
		o.Stopped(i) // nothing for a stop already left behind at the deadline
		runMu.Unlock()
	}
	for o.Left() > 0 {
		if i, cycle, ok := o.Next(); ok {
			if cycle {
				m.debug("dependency cycle: stopping the newest Init of what is left first", "subject", order[i].name)
			}
			if m.startStop(order[i], i, clock, done) {
				runMu.Lock()
				o.Started(i)
				runMu.Unlock()
			} else {
				stopped(i)
			}
			continue
		}
		if i, ok := deadline.WaitUntil(clock, done); ok {
			stopped(i)
			continue
		}
		// The budget, or the grace, ran out: leave the running stops behind.
		running := o.Running()
		for _, i := range running {
			m.stopTimedOut(order[i])
		}
		if !clock.OverGrace() {
			m.logger.Error("shutdown deadline passed: leaving behind OnShutdown calls that have not returned, and stopping the services they depend on",
				"timeout", clock.Budget(), "services", namesOf(order, running))
			for _, i := range running {
				stopped(i)
			}
			continue
		}
		waiting := o.Waiting()
		for _, i := range waiting {
			m.stopTimedOut(order[i])
		}
		m.logger.Error("shutdown grace passed: leaving behind the services still stopping or not stopped",
			"timeout", clock.Budget(), "services", namesOf(order, append(running, waiting...)))
		return
	}
}

// namesOf returns the names of the nodes of order, at most maxNamed.
func namesOf(order []*entry, nodes []int) []string {
	var names []string
	for _, i := range nodes[:min(len(nodes), maxNamed)] {
		names = append(names, order[i].name)
	}
	return names
}

// startStop begins the stop of e, node i, and reports whether it runs in the
// background (it sends i on done when over); false means it is over already.
func (m *mesh) startStop(e *entry, i int, clock *deadline.Clock, done chan<- int) bool {
	// An Init that failed since the stop order was taken, a start cut
	// short, or a removal, takes the service out of it. A service whose
	// Serve ended is stopped still, and so is one whose Serve failed for
	// good, which stays StateFailed: what its Init opened is released.
	if e.gone.Load() || e.startFailed.Load() {
		return false
	}
	stepped := m.step(e, StateStopping)
	if !stepped && e.lc.State() != StateFailed {
		return false // removed meanwhile
	}
	_, legacy := e.svc.(HasGracefulShutdown)
	_, withCtx := e.svc.(HasShutdownContext)
	if !legacy && !withCtx && e.serve == nil {
		m.stepFrom(e, StateStopped, StateStopping)
		return false
	}
	ctx, cancel := clock.StopContext() // carries the deadline to OnShutdownContext
	go func() {
		defer cancel()
		returned := false
		defer func() {
			if !returned { // OnShutdown ended with runtime.Goexit
				m.fail(e, "stop", errGoexit)
			}
			done <- i
		}()
		m.debug("stopping service", "subject", e.name)
		if e.serve != nil { // its Serve's context ends, and it returns first
			select {
			case <-e.endServe():
			case <-ctx.Done(): // it ignores its context: its stop ran out of budget
				m.stopTimedOut(e)
			}
		}
		if legacy || withCtx {
			m.callStop(ctx, e)
		}
		returned = true
		// Unless it failed, was removed, or its stop ran out of budget:
		// whoever won stopOver (stopTimedOut) makes it failed, and a stop
		// that lost that race must not make it stopped first.
		if !e.stopOver.Load() {
			m.stepFrom(e, StateStopped, StateStopping)
		}
	}()
	return true
}

// SetSequentialStop makes the shutdown stop strictly one service at a time,
// newest Init first, instead of in the order of the dependency graph with
// independent services stopping concurrently (see Graph): for a mesh whose
// services depend on each other in ways the mesh cannot see. It reports
// false, doing nothing, when m was not made by New.
func SetSequentialStop(m Mesh, on bool) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.sequentialStop.Store(on)
	return true
}
