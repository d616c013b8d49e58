package servicemesh

// The stop: the services whose Init began stopped in the order of the
// dependency graph (graph.go), concurrently where they do not hold each
// other, within the shutdown's budget (deadline.go). It runs on the
// shutdown goroutine; each stop runs on a goroutine of its own that is left
// behind when the budget runs out.

import (
	"maps"
	"slices"
	"sync"

	"github.com/gravestench/servicemesh/internal/deadline"
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
// When the budget passes, the stops still running are named at level Error,
// recorded as ErrStopTimeout and left behind, and what they depend on is
// still stopped, within the grace; when the grace passes too, what is left
// is named and left.
func (m *mesh) stopAll(order []*entry, clock *deadline.Clock) {
	if len(order) == 0 {
		return
	}
	p := m.planStop(order)
	sequential := m.sequentialStop.Load()
	stopped := make([]bool, len(order))
	var runMu sync.Mutex      // guards running, which warnIfSlow's timer reads
	running := map[int]bool{} // the stops under way
	done := make(chan int, len(order))
	var free []int
	if !sequential {
		for i := range order {
			if p.blockers[i] == 0 {
				free = append(free, i)
			}
		}
	}
	next, left := 0, len(order) // next: the newest Init not yet stopped
	defer m.warnIfSlow("OnShutdown to return", func() []string {
		runMu.Lock()
		defer runMu.Unlock()
		var names []string
		for i := range running {
			if len(names) < maxNamed {
				names = append(names, order[i].name)
			}
		}
		return names
	})()
	finish := func(i int) {
		stopped[i] = true
		runMu.Lock()
		delete(running, i)
		runMu.Unlock()
		left--
		if !sequential {
			free = p.released(i, free)
		}
	}
	for left > 0 {
		for len(free) > 0 && len(running) < maxParallelStops {
			i := free[0]
			free = free[1:]
			if stopped[i] || running[i] {
				continue
			}
			if m.startStop(order[i], i, clock, done) {
				runMu.Lock()
				running[i] = true
				runMu.Unlock()
			} else {
				finish(i)
			}
		}
		if left == 0 {
			break
		}
		if len(running) == 0 {
			if len(free) > 0 {
				continue
			}
			// A cycle, or a sequential stop: the newest Init left goes next.
			for stopped[next] {
				next++
			}
			if !sequential {
				m.debug("dependency cycle: stopping the newest Init of what is left first", "subject", order[next].name)
			}
			free = append(free, next)
			continue
		}
		if i, ok := deadline.WaitUntil(clock, done); ok {
			if !stopped[i] { // not a stop already left behind at the deadline
				finish(i)
			}
			continue
		}
		// The budget, or the grace, ran out: leave the running stops behind.
		var names []string
		for i := range running {
			m.stopTimedOut(order[i])
			if len(names) < maxNamed {
				names = append(names, order[i].name)
			}
		}
		if !clock.OverGrace() {
			m.logger.Error("shutdown deadline passed: leaving behind OnShutdown calls that have not returned, and stopping the services they depend on",
				"timeout", clock.Budget(), "services", names)
			for _, i := range slices.Collect(maps.Keys(running)) {
				finish(i)
			}
			continue
		}
		for i := range order {
			if !stopped[i] && !running[i] {
				m.stopTimedOut(order[i])
				if len(names) < maxNamed {
					names = append(names, order[i].name)
				}
			}
		}
		m.logger.Error("shutdown grace passed: leaving behind the services still stopping or not stopped",
			"timeout", clock.Budget(), "services", names)
		return
	}
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
		m.stepFrom(e, StateStopped, StateStopping) // unless it failed or was removed meanwhile
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
