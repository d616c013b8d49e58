package servicemesh

import (
	"slices"
	"sync"
	"time"

	"github.com/gravestench/servicemesh/internal/deadline"
	"github.com/gravestench/servicemesh/internal/timing"
)

// Shutdown: Run, Shutdown and the shutdown goroutine's steps (drain, tell,
// stop in order (stop.go) within the budget (deadline.go), wait for the
// mesh's goroutines), and what is reported when something does not stop. All of it runs
// on the shutdown goroutine the first Shutdown call starts, except Run and
// Shutdown themselves; its clock (deadline.Clock) is that goroutine's alone.

// Run emits EventRuntimeRunLoopInitiated and blocks until SIGINT or SIGTERM
// arrives or Shutdown is called, then returns once shutdown has completed.
// A signal that arrived before Run was called (the mesh listens from New on)
// has already started the shutdown: Run then emits nothing and returns once
// it has completed, as it does after Shutdown.
//
// From Run on, the mesh's first readiness is latched: EventMeshReady, the
// "mesh ready" line, Report.Started and the health package's /startupz
// wait for it, since before Run main may still be adding services. When a
// service failed for good, Run logs the failures at level Error before it
// returns; it never exits the process because of them (RunContext returns
// them to main).
func (m *mesh) Run() {
	m.running.Store(true)
	select {
	case <-m.down:
	default:
		m.debug("run loop started")
		m.emit(EventRuntimeRunLoopInitiated)
		m.noteSettled() // the mesh may be ready already
	}
	<-m.down
	m.Shutdown().Wait()
	if err := m.failed(); err != nil {
		m.logger.Error("run ended with errors", "error", err)
	}
}

// Shutdown starts the shutdown once and returns the WaitGroup every caller
// shares. See Mesh.Shutdown.
func (m *mesh) Shutdown() *sync.WaitGroup {
	// Whether there is anything to drain is what the mesh was when the
	// shutdown began, not what it became while the shutdown canceled its
	// starts: read from what the mesh knows, only when a drain is to come.
	drain := !m.stopping.Load() && m.drainDelay.Load() > 0 && m.readyButForShutdown()
	m.reg.BeginShutdown(func() { // no Add is accepted from here on
		m.drain = drain
		m.stopping.Store(true)
		m.tellMesh(MeshShuttingDown)
		m.cancel()
		m.sched.QueueAll() // to cancel them
		m.shutdownWG.Add(1)
		close(m.down)
		go m.shutdown()
	})
	return &m.shutdownWG
}

// shutdown cancels pending resolutions (setting stopping did), tells the
// services, stops every service whose Init began (and did not fail) in the
// order of the dependency graph, without
// waiting for Inits still running, and waits for the goroutines the mesh
// started, all within the shutdown's budget (SetShutdownTimeout).
func (m *mesh) shutdown() {
	clock := deadline.NewClock(time.Now(), (*shutdownOwner)(m), m.stopTimeoutChanged)
	m.startBudget(&clock)
	m.cutParked() // services waiting for their requirements: their starts are cut short
	defer func() {
		m.over.Store(true) // no event from here on
		m.waitLate()       // what began before over: late lifecycles, removals
		m.closeHub()       // subscribers hear that the mesh stopped
		m.lane.Close()
		clock.Stop() // its timers, the budget context's too
		close(m.finished)
		<-m.sigDone // the signal goroutine ends on finished
		m.shutdownWG.Done()
	}()
	m.debug("shutting down")
	// Drain only a mesh that was ready: otherwise nothing is routed to it.
	if d := time.Duration(m.drainDelay.Load()); d > 0 && m.drain {
		// Not ready from the start of the shutdown (stopping is set), still
		// serving: a load balancer notices and stops sending traffic.
		m.logger.Info("draining before the services stop", "for", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-clock.ExpiredOrNever():
		}
		t.Stop()
	}
	told := make(chan struct{})
	go func() {
		defer close(told)
		m.emit(EventRuntimeShutdownInitiated)
	}()
	if !clock.Wait(told) {
		m.logger.Error("shutdown deadline passed in the handlers of EventRuntimeShutdownInitiated; stopping the services without them",
			"timeout", clock.Budget())
	}

	// No Init begins from here on, and every one that began is on the stack.
	m.starts.Seal()
	m.stopAll(m.stopOrder(), &clock)

	m.waitBusy(&clock)
	if m.settleInits(&clock) {
		m.waitBusy(&clock) // the lifecycles of the Inits that returned: their last events
	}
	m.waitTells()
	m.stopStartTimers()
	if names := m.stillInInit(); len(names) > 0 {
		m.logger.Warn("shutdown complete, leaving behind Inits that have not returned", "services", names)
	}
	stopped, failures := m.stopReport()
	m.logger.Info("shutdown complete", "stopped", stopped, "took", time.Since(clock.Start()).Round(time.Microsecond), "failures", failures)
}

// stopReport counts the services stopped and the failures of the run.
func (m *mesh) stopReport() (stopped, failures int) {
	for e := range m.reg.Entries() {
		if e.lc.State() == StateStopped {
			stopped++
		}
	}
	m.failures.mu.Lock()
	failures = len(m.failures.errs)
	m.failures.mu.Unlock()
	return stopped, failures
}

// SetDrainDelay sets how long a shutdown waits, once begun, before it stops
// anything (default 0): the mesh is no longer ready (see Ready) the moment
// the shutdown begins, but its services go on serving for d, so that a load
// balancer probing readiness stops sending traffic first. It counts against
// the shutdown's budget (SetShutdownTimeout). It reports false, doing
// nothing, when m was not made by New.
func SetDrainDelay(m Mesh, d time.Duration) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.drainDelay.Store(int64(d))
	return true
}

// waitBusy waits, within the deadline, for the goroutines the mesh started
// other than Inits: lifecycles on their way to Init, removals, the poller.
func (m *mesh) waitBusy(clock *deadline.Clock) {
	defer m.warnIfSlow("lifecycle goroutines to end", m.unsettled)()
	for m.busy.Load() > 0 {
		if !clock.Wait(m.idleWake) {
			m.logger.Error("shutdown deadline passed: leaving behind lifecycles stuck in service code",
				"timeout", clock.Budget(), "services", m.unsettled())
			return
		}
	}
}

// settleInits waits, at most timing.InitSettle and within the deadline, for the
// Inits of services whose OnShutdown has returned to return as well. It
// reports whether it waited.
func (m *mesh) settleInits(clock *deadline.Clock) bool {
	told := func() bool {
		for e := range m.starts.All() {
			_, legacy := e.svc.(HasGracefulShutdown)
			_, withCtx := e.svc.(HasShutdownContext)
			_, initCtx := e.svc.(HasInitContext) // its context ended with the shutdown's start
			if e.progress.InInit.Load() && (initCtx || (legacy || withCtx) && e.lc.State() == StateStopped) {
				return true
			}
		}
		return false
	}
	if m.starts.Running() == 0 || !told() {
		return false
	}
	settled := time.NewTimer(timing.InitSettle)
	defer settled.Stop()
	for told() {
		timeout, passed := clock.Expired()
		if passed {
			return true
		}
		select {
		case <-m.idleWake:
		case <-settled.C:
			return true
		case <-timeout:
			clock.Fired()
			return true
		}
	}
	return true
}

// unsettled names the first services whose way to Init has not ended: still
// in their lifecycle events, in a resolver that does not return, or in Init.
func (m *mesh) unsettled() []string {
	return m.named(StateAdded, StateResolving, StateStarting)
}

// stopStartTimers stops the start timeouts of the Inits left behind: they
// would fire once the shutdown completed, and nothing of the mesh runs then.
// Their Add's WaitGroups are done, as the timeout would have done.
func (m *mesh) stopStartTimers() {
	for e := range m.starts.All() {
		if t := e.startTimer.Load(); t != nil && e.progress.InInit.Load() && t.Stop() {
			e.addDone()
		}
	}
}

// stillInInit names the first services, newest Init first, whose Init has
// begun and not returned.
func (m *mesh) stillInInit() []string {
	var names []string
	for e := range m.starts.All() {
		if len(names) == maxNamed {
			break
		}
		if e.progress.InInit.Load() {
			names = append(names, e.name)
		}
	}
	return names
}

// named names the first services, in the order added, in one of states.
func (m *mesh) named(states ...State) []string {
	var names []string
	for e := range m.reg.Entries() {
		if slices.Contains(states, e.lc.State()) {
			if len(names) == maxNamed {
				break
			}
			names = append(names, e.name)
		}
	}
	return names
}

// warnIfSlow arranges for a warning naming what shutdown waits for, and on
// whom, if the wait outlasts the warning delay, so that hung service code can
// be found. Call the returned function when the wait is over.
func (m *mesh) warnIfSlow(what string, who func() []string) (stop func()) {
	delay := time.Duration(m.warnDelay.Load())
	if delay <= 0 {
		return func() {}
	}
	fired := make(chan struct{})
	t := time.AfterFunc(delay, func() {
		defer close(fired)
		m.logger.Warn("shutdown is still waiting", "for", what, "waited", delay, "services", who())
	})
	return func() {
		if !t.Stop() {
			<-fired // the warning is being logged: no goroutine outlives shutdown
		}
	}
}

// waitLate waits, at most timing.TellBound and whatever the deadline, for the work
// counted in busy that began before over was set: the lifecycles of Inits
// that returned late and removals, whose events are being told.
func (m *mesh) waitLate() {
	late := func() bool {
		return m.emitting.Load() > m.abandoned.Load() || m.busy.Load() > m.abandonedBusy.Load()
	}
	if !late() {
		return
	}
	t := time.NewTimer(timing.TellBound)
	defer t.Stop()
	// busyDone wakes idleWake only at zero: past the deadline, the count
	// stays above it (what was left behind), so look again every tick.
	tick := time.NewTicker(timing.LateLook)
	defer tick.Stop()
	for late() {
		select {
		case <-m.idleWake:
		case <-tick.C:
		case <-t.C:
			m.logger.Error("shutdown leaves behind handlers that have not returned", "waited", timing.TellBound)
			return
		}
	}
}
