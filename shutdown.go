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

	m.waitIdle("lifecycle goroutines to end", func() bool { return m.workers == 0 }, func() []string { return nil })
	m.logger.Debug("shutdown complete")
}

// stop calls OnShutdown on every service in group at once and waits for them.
func (m *mesh) stop(group []*entry) {
	var wg sync.WaitGroup
	for _, e := range group {
		s, ok := e.svc.(HasGracefulShutdown)
		if !ok || e.isRemoved(m) {
			continue
		}
		call := func() {
			m.logger.Debug("stopping service", "stopping", e.name)
			_ = m.guard(e.name, "OnShutdown", s.OnShutdown)
		}
		if len(group) == 1 {
			m.watchdog("OnShutdown to return", []string{e.name}, call)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			call()
		}()
	}
	names := make([]string, 0, len(group))
	for _, e := range group {
		names = append(names, e.name)
	}
	m.watchdog("OnShutdown to return", names, wg.Wait)
}

// isRemoved reports whether e was removed from m.
func (e *entry) isRemoved(m *mesh) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.removed
}

// initializing names the services whose Init has not yet returned.
func (m *mesh) initializing() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, e := range m.entries {
		if e.phase == phaseInitializing || e.phase == phaseAdded {
			names = append(names, e.name)
		}
	}
	return names
}

// waitIdle blocks until cond, evaluated under mu, holds.
func (m *mesh) waitIdle(what string, cond func() bool, who func() []string) {
	wait := func() {
		m.mu.Lock()
		for !cond() {
			m.idle.Wait()
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	ready := cond()
	m.mu.Unlock()
	if !ready {
		m.watchdog(what, nil, wait, who)
	}
}

// watchdog runs wait and, if it takes longer than the warning delay, logs
// once what shutdown is waiting for, so that a hung service can be found.
func (m *mesh) watchdog(what string, names []string, wait func(), who ...func() []string) {
	delay := time.Duration(m.warnDelay.Load())
	if delay <= 0 {
		wait()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait()
	}()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	if len(who) > 0 {
		names = who[0]()
	}
	m.logger.Warn("shutdown is still waiting", "for", what, "waited", delay, "services", names)
	<-done
}
