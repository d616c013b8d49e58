package servicemesh

import (
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Run emits EventRuntimeRunLoopInitiated and blocks until SIGINT or SIGTERM
// arrives or Shutdown is called, then returns once shutdown has completed.
// While shutdown runs the mesh no longer catches signals, so a second Ctrl+C
// ends a process whose shutdown hangs. Run after Shutdown returns once that
// shutdown has completed.
func (m *mesh) Run() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)

	select {
	case <-m.down:
	default:
		m.logger.Debug("run loop started")
		m.emit(EventRuntimeRunLoopInitiated)
	}
	select {
	case sig := <-signals:
		m.logger.Info("signal received, shutting down; send it again to exit at once", "signal", sig.String())
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
	m.logger.Debug("shutting down")
	m.emit(EventRuntimeShutdownInitiated)

	m.waitIdle("Init to return", func() bool { return m.pending == 0 }, m.initializing)

	m.mu.Lock()
	order := slices.Clone(m.initOrder)
	m.mu.Unlock()
	slices.Reverse(order)
	for len(order) > 0 {
		n := 1
		if order[0].deps == nil {
			for n < len(order) && order[n].deps == nil {
				n++
			}
		}
		m.stop(order[:n])
		order = order[n:]
	}

	m.waitIdle("lifecycle goroutines to end", func() bool { return m.workers == 0 }, m.initializing)
	m.logger.Debug("shutdown complete")
}

// stop calls OnShutdown on every service in group at once and waits for them.
func (m *mesh) stop(group []*entry) {
	var stoppers []HasGracefulShutdown
	var names []string
	for _, e := range group {
		if s, ok := e.svc.(HasGracefulShutdown); ok && !m.wasRemoved(e) {
			stoppers = append(stoppers, s)
			names = append(names, e.name)
		}
	}
	if len(stoppers) == 0 {
		return
	}
	defer m.warnIfSlow("OnShutdown to return", func() []string { return names })()
	call := func(i int) {
		m.logger.Debug("stopping service", "stopping", names[i])
		_ = m.guard(names[i], "OnShutdown", stoppers[i].OnShutdown)
	}
	if len(stoppers) == 1 {
		call(0) // a lone service needs no goroutine
		return
	}
	var wg sync.WaitGroup
	wg.Add(len(stoppers))
	for i := range stoppers {
		go func() {
			defer wg.Done()
			call(i)
		}()
	}
	wg.Wait()
}

// wasRemoved reports whether e was removed from the mesh.
func (m *mesh) wasRemoved(e *entry) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.removed
}

// initializing names the services whose way to Init has not yet ended.
func (m *mesh) initializing() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, e := range m.entries {
		if e.phase == phaseAdded || e.phase == phaseInitializing {
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
	t := time.AfterFunc(delay, func() {
		m.logger.Warn("shutdown is still waiting", "for", what, "waited", delay, "services", who())
	})
	return func() { t.Stop() }
}
