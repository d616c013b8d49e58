package servicemesh

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// Shutdown: Run, Shutdown, the stop of the services in order within the
// budget, and what is reported when something does not stop. All of it runs
// on the shutdown goroutine the first Shutdown call starts, except Run and
// Shutdown themselves; its clock (stopClock) is that goroutine's alone.

// Run emits EventRuntimeRunLoopInitiated and blocks until SIGINT or SIGTERM
// arrives or Shutdown is called, then returns once shutdown has completed.
// A signal that arrived before Run was called (the mesh listens from New on)
// has already started the shutdown: Run then emits nothing and returns once
// it has completed, as it does after Shutdown.
func (m *mesh) Run() {
	select {
	case <-m.down:
	default:
		m.debug("run loop started")
		m.emit(EventRuntimeRunLoopInitiated)
	}
	<-m.down
	m.Shutdown().Wait()
}

// Shutdown starts the shutdown once and returns the WaitGroup every caller
// shares. See Mesh.Shutdown.
func (m *mesh) Shutdown() *sync.WaitGroup {
	m.reg.mu.Lock()
	defer m.reg.mu.Unlock()
	if !m.reg.shutting {
		m.reg.shutting = true
		m.stopping.Store(true)
		m.cancel()
		m.queueAll() // to cancel them
		m.shutdownWG.Add(1)
		close(m.down)
		go m.shutdown()
	}
	return &m.shutdownWG
}

// shutdown cancels pending resolutions (setting stopping did), tells the
// services, stops every service whose Init began (and did not fail) in the
// order of the dependency graph, without
// waiting for Inits still running, and waits for the goroutines the mesh
// started, all within the shutdown's budget (SetShutdownTimeout).
func (m *mesh) shutdown() {
	clock := &stopClock{m: m, start: time.Now()}
	defer clock.stop()
	defer func() {
		close(m.finished)
		<-m.sigDone // the signal goroutine ends on finished
		m.shutdownWG.Done()
	}()
	m.debug("shutting down")
	if d := time.Duration(m.drainDelay.Load()); d > 0 {
		// Not ready from the start of the shutdown (stopping is set), still
		// serving: a load balancer notices and stops sending traffic.
		m.logger.Info("draining before the services stop", "for", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-clock.expiredOrNever():
		}
		t.Stop()
	}
	told := make(chan struct{})
	go func() {
		defer close(told)
		m.emit(EventRuntimeShutdownInitiated)
	}()
	if !clock.wait(told) {
		m.logger.Error("shutdown deadline passed in the handlers of EventRuntimeShutdownInitiated; stopping the services without them",
			"timeout", clock.budget())
	}

	// No Init begins from here on, and every one that began is on the stack.
	m.starts.fence.Lock()
	m.starts.fence.Unlock() //nolint:staticcheck // an empty critical section: a fence
	m.stopAll(m.stopOrder(), clock)

	m.waitBusy(clock)
	if m.settleInits(clock) {
		m.waitBusy(clock) // the lifecycles of the Inits that returned: their last events
	}
	if names := m.stillInInit(); len(names) > 0 {
		m.logger.Warn("shutdown complete, leaving behind Inits that have not returned", "services", names)
	}
	stopped, failures := m.stopReport()
	m.logger.Info("shutdown complete", "stopped", stopped, "took", time.Since(clock.start).Round(time.Microsecond), "failures", failures)
}

// stopReport counts the services stopped and the failures of the run.
func (m *mesh) stopReport() (stopped, failures int) {
	m.reg.mu.Lock()
	for _, e := range m.reg.slots {
		if e != nil && e.state.load() == StateStopped {
			stopped++
		}
	}
	m.reg.mu.Unlock()
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
func (m *mesh) stopAll(order []*entry, clock *stopClock) {
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
		if i, ok := waitUntilDeadline(clock, done); ok {
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
		if !clock.overGrace() {
			m.logger.Error("shutdown deadline passed: leaving behind OnShutdown calls that have not returned, and stopping the services they depend on",
				"timeout", clock.budget(), "services", names)
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
			"timeout", clock.budget(), "services", names)
		return
	}
}

// startStop begins the stop of e, node i, and reports whether it runs in the
// background (it sends i on done when over); false means it is over already.
func (m *mesh) startStop(e *entry, i int, clock *stopClock, done chan<- int) bool {
	// An Init that failed since the stop order was taken, or a removal,
	// takes the service out of it. A service whose Serve ended, or failed
	// for good, is stopped still: what its Init opened is released.
	if e.gone.Load() || e.startFailed.Load() || !e.state.from(StateStopping, StateStarting, StateRunning, StateStopped, StateFailed) {
		return false
	}
	_, legacy := e.svc.(HasGracefulShutdown)
	_, withCtx := e.svc.(HasShutdownContext)
	if !legacy && !withCtx && e.serve == nil {
		e.state.store(StateStopped)
		return false
	}
	ctx, cancel := clock.context() // carries the deadline to OnShutdownContext
	go func() {
		defer cancel()
		m.debug("stopping service", "subject", e.name)
		began := time.Now()
		if e.serve != nil { // its Serve's context ends, and it returns first
			select {
			case <-e.endServe():
			case <-ctx.Done(): // it ignores its context: the deadline names it
			}
		}
		if legacy || withCtx {
			m.callStop(ctx, e)
		}
		e.stopTook.Store(int64(time.Since(began)))
		e.state.from(StateStopped, StateStopping)
		done <- i
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

// waitBusy waits, within the deadline, for the goroutines the mesh started
// other than Inits: lifecycles on their way to Init, removals, the poller.
func (m *mesh) waitBusy(clock *stopClock) {
	defer m.warnIfSlow("lifecycle goroutines to end", m.unsettled)()
	for m.busy.Load() > 0 {
		if !clock.wait(m.idleWake) {
			m.logger.Error("shutdown deadline passed: leaving behind lifecycles stuck in service code",
				"timeout", clock.budget(), "services", m.unsettled())
			return
		}
	}
}

// initSettle is how long shutdown gives the Inits of stopped services, once
// every service was stopped, to return: a service that runs its loop inside
// Init has just been told by its OnShutdown to end it. An Init that nothing
// told to end is not waited for.
const initSettle = 100 * time.Millisecond

// settleInits waits, at most initSettle and within the deadline, for the
// Inits of services whose OnShutdown has returned to return as well. It
// reports whether it waited.
func (m *mesh) settleInits(clock *stopClock) bool {
	told := func() bool {
		m.starts.mu.Lock()
		defer m.starts.mu.Unlock()
		for e := m.starts.stack.Load(); e != nil; e = e.nextStarted {
			_, legacy := e.svc.(HasGracefulShutdown)
			_, withCtx := e.svc.(HasShutdownContext)
			if (legacy || withCtx) && e.inInit.Load() && e.state.load() == StateStopped {
				return true
			}
		}
		return false
	}
	if m.starts.running.Load() == 0 || !told() {
		return false
	}
	settled := time.NewTimer(initSettle)
	defer settled.Stop()
	for told() {
		timeout, passed := clock.expired()
		if passed {
			return true
		}
		select {
		case <-m.idleWake:
		case <-settled.C:
			return true
		case <-timeout:
			clock.at = time.Time{}
			return true
		}
	}
	return true
}

// stopClock keeps a shutdown's deadline with one timer for the whole
// shutdown. It is used by the shutdown goroutine only.
type stopClock struct {
	m     *mesh
	start time.Time
	// graceEnd is zero until the budget has passed; then it is the end of
	// the grace within which the remaining services are still stopped.
	graceEnd time.Time
	timer    *time.Timer // fires at the deadline; nil when there is none
	at       time.Time   // when timer fires
}

// maxStopGrace bounds the grace after the shutdown's budget has passed.
const maxStopGrace = time.Second

// budget is the shutdown's budget now; zero or less means none.
func (c *stopClock) budget() time.Duration { return time.Duration(c.m.stopTimeout.Load()) }

// deadline returns when waiting must end, and false if never.
func (c *stopClock) deadline() (time.Time, bool) {
	if !c.graceEnd.IsZero() {
		return c.graceEnd, true
	}
	if b := c.budget(); b > 0 {
		return c.start.Add(b), true
	}
	return time.Time{}, false
}

// expired returns a channel that delivers at the deadline, or nil if there
// is none, and whether the deadline has already passed.
func (c *stopClock) expired() (<-chan time.Time, bool) {
	at, ok := c.deadline()
	if !ok {
		if c.timer != nil {
			c.timer.Stop()
			c.at = time.Time{} // so that a deadline set again re-arms it
		}
		return nil, false
	}
	d := time.Until(at)
	if d <= 0 {
		return nil, true
	}
	switch {
	case c.timer == nil:
		c.timer = time.NewTimer(d)
	case !at.Equal(c.at):
		c.timer.Reset(d)
	}
	c.at = at
	return c.timer.C, false
}

// wait waits for ch until the deadline and reports whether ch came first.
// When the budget passes, the grace begins: a tenth of the budget, at most
// maxStopGrace. A change of the budget takes effect at once.
func (c *stopClock) wait(ch <-chan struct{}) bool {
	_, ok := waitUntilDeadline(c, ch)
	return ok
}

// waitUntilDeadline receives from ch until c's deadline, and reports
// whether it received before it.
func waitUntilDeadline[T any](c *stopClock, ch <-chan T) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
	}
	for {
		timeout, passed := c.expired()
		if passed {
			c.expire()
			var zero T
			return zero, false
		}
		select {
		case v := <-ch:
			return v, true
		case <-timeout:
			c.at = time.Time{} // the timer has fired: re-arm it next time
			c.expire()
			var zero T
			return zero, false
		case <-c.m.stopTimeoutChanged:
		}
	}
}

// expiredOrNever returns a channel that delivers at the deadline now in
// force, or never when there is none; for a single wait.
func (c *stopClock) expiredOrNever() <-chan time.Time {
	timeout, passed := c.expired()
	if passed {
		ch := make(chan time.Time, 1)
		ch <- time.Now()
		return ch
	}
	return timeout
}

// overGrace reports whether the grace has begun and ended.
func (c *stopClock) overGrace() bool {
	return !c.graceEnd.IsZero() && !time.Now().Before(c.graceEnd)
}

// context returns a context that ends at the deadline now in force.
func (c *stopClock) context() (context.Context, context.CancelFunc) {
	if at, ok := c.deadline(); ok {
		return context.WithDeadline(context.Background(), at)
	}
	return context.WithCancel(context.Background())
}

// expire starts the grace, once.
func (c *stopClock) expire() {
	if c.graceEnd.IsZero() {
		c.graceEnd = time.Now().Add(min(c.budget()/10, maxStopGrace))
	}
}

// stop releases the clock's timer.
func (c *stopClock) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// unsettled names the first services whose way to Init has not ended: still
// in their lifecycle events, in a resolver that does not return, or in Init.
func (m *mesh) unsettled() []string {
	return m.named(StateAdded, StateResolving, StateStarting)
}

// stillInInit names the first services, newest Init first, whose Init has
// begun and not returned.
func (m *mesh) stillInInit() []string {
	m.starts.mu.Lock()
	defer m.starts.mu.Unlock()
	var names []string
	for e := m.starts.stack.Load(); e != nil && len(names) < maxNamed; e = e.nextStarted {
		if e.inInit.Load() {
			names = append(names, e.name)
		}
	}
	return names
}

// named names the first services, in the order added, in one of states.
func (m *mesh) named(states ...State) []string {
	m.reg.mu.Lock()
	defer m.reg.mu.Unlock()
	var names []string
	for _, e := range m.reg.slots {
		if e != nil && slices.Contains(states, e.state.load()) {
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
