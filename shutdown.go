package servicemesh

import (
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Run emits EventRuntimeRunLoopInitiated and blocks until SIGINT or SIGTERM
// arrives or Shutdown is called, then returns once shutdown has completed.
// While shutdown runs the mesh no longer catches signals, so a second Ctrl+C
// ends a process whose shutdown hangs. Run after Shutdown returns once that
// shutdown has completed.
func (m *mesh) Run() {
	// A signal ignored when the process started (nohup, a shell's &) is
	// ignored again once Run stops listening: no promise of a second chance.
	ignored := map[os.Signal]bool{
		os.Interrupt:    signal.Ignored(os.Interrupt),
		syscall.SIGTERM: signal.Ignored(syscall.SIGTERM),
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)

	select {
	case <-m.down:
	default:
		m.debug("run loop started")
		m.emit(EventRuntimeRunLoopInitiated)
	}
	select {
	case sig := <-signals:
		msg := "signal received, shutting down; send it again to exit at once"
		if ignored[sig] {
			msg = "signal received, shutting down"
		}
		m.logger.Info(msg, "signal", sig.String())
	case <-m.down:
	}
	signal.Stop(signals)
	m.Shutdown().Wait()
}

// Shutdown starts the shutdown once and returns the WaitGroup every caller
// shares. See Mesh.Shutdown.
func (m *mesh) Shutdown() *sync.WaitGroup {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.shutting {
		m.shutting = true
		m.stopping.Store(true)
		m.wakeAll()
		m.shutdownWG.Add(1)
		close(m.down)
		go m.shutdown()
	}
	return &m.shutdownWG
}

// shutdown cancels pending resolutions (closing down did), tells the
// services, waits for Inits in flight, stops the initialized services newest
// first, and waits for every goroutine the mesh started.
func (m *mesh) shutdown() {
	defer m.shutdownWG.Done()
	m.debug("shutting down")
	m.emit(EventRuntimeShutdownInitiated)

	m.waitIdle("Init to return", func() bool { return m.pending.Load() == 0 }, m.unsettled)

	// Newest first, by when Init began: a dependency may report itself ready
	// from inside its Init, so a dependent's Init can return before its own.
	order := m.initOrder()
	for len(order) > 0 {
		n := 1
		if order[0].resolution == nil {
			for n < len(order) && order[n].resolution == nil {
				n++
			}
		}
		m.stop(order[:n])
		order = order[n:]
	}

	m.waitIdle("lifecycle goroutines to end", func() bool { return m.workers.Load() == 0 }, m.unsettled)
	m.debug("shutdown complete")
}

// maxParallelStops bounds how many OnShutdown calls of one run of services
// without dependencies are in flight at once: enough that stops which wait
// on I/O overlap, few enough that a hundred thousand services do not need a
// hundred thousand goroutine stacks at the same moment.
const maxParallelStops = 1024

// stop calls OnShutdown on the services in group concurrently and waits for
// them all.
func (m *mesh) stop(group []*entry) {
	var stoppers []*entry
	for _, e := range group {
		if _, ok := e.svc.(HasGracefulShutdown); ok && !e.gone.Load() {
			stoppers = append(stoppers, e)
		}
	}
	if len(stoppers) == 0 {
		return
	}

	finished := make([]atomic.Bool, len(stoppers))
	defer m.warnIfSlow("OnShutdown to return", func() []string {
		var names []string
		for i, e := range stoppers {
			if !finished[i].Load() && len(names) < maxNamed {
				names = append(names, e.name)
			}
		}
		return names
	})()

	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(stoppers) {
				return
			}
			e := stoppers[i]
			m.debug("stopping service", "subject", e.name)
			_ = m.guard(e.name, "OnShutdown", e.svc.(HasGracefulShutdown).OnShutdown)
			finished[i].Store(true)
		}
	}
	var wg sync.WaitGroup
	for range min(len(stoppers), maxParallelStops) - 1 {
		wg.Go(work)
	}
	work() // this goroutine is one of the workers; a lone service needs no other
	wg.Wait()
}

// unsettled names the first services whose way to Init has not ended: still
// in their lifecycle events, in a resolver that does not return, or in Init.
func (m *mesh) unsettled() []string {
	return m.named(phaseAdded, phaseResolving, phaseInitializing)
}

// named names the first services, in the order added, in one of phases.
func (m *mesh) named(phases ...phase) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, s := range m.svcs[1:] {
		if e := m.lookup(s); e != nil && slices.Contains(phases, e.phase.load()) {
			if len(names) == maxNamed {
				break
			}
			names = append(names, e.name)
		}
	}
	return names
}

// waitIdle blocks until cond, evaluated under mu, holds. It is re-evaluated
// whenever pending or workers reach zero.
func (m *mesh) waitIdle(what string, cond func() bool, who func() []string) {
	defer m.warnIfSlow(what, who)()
	m.mu.Lock()
	defer m.mu.Unlock()
	for !cond() {
		m.idle.Wait()
	}
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
