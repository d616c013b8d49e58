package servicemesh

import (
	"sync"

	"github.com/gravestench/servicemesh/internal/registry"
)

// Add and Remove: the steps a service goes through as it enters and leaves
// the mesh, through the registry (internal/registry), the fan-outs of its
// handlers (events.go) and its lifecycle (lifecycle.go). Neither holds a
// lock while service code runs.

// Add registers svc and starts its lifecycle. See Mesh.Add.
func (m *mesh) Add(svc Service) *sync.WaitGroup {
	if registry.IsNil(svc) {
		m.logger.Warn("Add ignored: the service is nil")
		return doneWaitGroup()
	}
	name, err := m.serviceName(svc)
	if err != nil {
		return doneWaitGroup()
	}
	e := newEntry(svc, name)
	e.policy = m.ownPolicy(svc, name) // read once, at Add (DESIGN §8)
	e.reqs = m.readRequirements(svc, name)
	if bs := m.listenersFor(svc, name); len(bs) > 0 {
		e.handlers = &handlerSet{listeners: bs}
	}
	// Counted before the entry can be found: a Remove and Add of the same
	// service that race with this one wait for this lifecycle through it.
	e.done.Add(1)

	listed, refused := m.reg.Admit(&e.node, func(seq uint64, prev *entry) bool {
		// Reserved: a concurrent Add of the same service is now a
		// duplicate, and shutdown waits for this one. A service with a
		// logger becomes visible to others only once SetLogger has run, so
		// that no resolver finds it, and no Init uses it, without its
		// logger.
		e.seq, e.prev = seq, prev
		m.pending.Add(1)
		m.busy.Add(1)
		return !e.hasLogger && prev == nil
	})
	switch refused {
	case registry.ShuttingDown:
		m.logger.Warn("Add ignored: the mesh is shutting down", "subject", name)
		return doneWaitGroup()
	case registry.Duplicate:
		m.logger.Warn("Add ignored: the service is already in the mesh", "subject", name)
		return doneWaitGroup()
	}
	if e.reqs != nil {
		m.needs.active.Add(1) // until its requirements are met, or can no longer be
	}
	if listed {
		m.wakeResolvers(e)
	}

	// A service added again while its previous lifecycle or Serve still
	// runs, or while its removal is still being told, is set up by its new
	// lifecycle once all are over: its methods never run concurrently with
	// themselves, and it never hears of its own removal.
	if e.prev == nil {
		m.attach(e, e.hasLogger)
	}
	m.changed()

	if onLane(e, fromStart) {
		m.enqueue(e)
	} else {
		go m.lifecycle(e)
	}
	return &e.done
}

// attach binds e's handler interfaces and gives it its logger, then lists it
// where others see it if publish is set. Nothing happens for a service
// removed meanwhile.
func (m *mesh) attach(e *entry, publish bool) {
	if hs := e.handlers; hs != nil {
		hs.mu.Lock()
		if !hs.removed {
			m.bind(hs.listeners)
			hs.bound = true
		}
		hs.mu.Unlock()
	}
	if e.hasLogger && !e.gone.Load() {
		logger := m.logs.Logger(e.name)
		e.progress.Steps.Add(1)
		e.progress.InUserCode.Store(true)
		_ = m.guard(e.name, "SetLogger", func() { e.svc.(HasLogger).SetLogger(logger) })
		e.progress.InUserCode.Store(false)
		e.progress.Steps.Add(1)
	}
	if publish && m.reg.Publish(&e.node) {
		m.wakeResolvers(e)
	}
}

// Remove takes svc out of the mesh. See Mesh.Remove.
func (m *mesh) Remove(svc Service) *sync.WaitGroup {
	if registry.IsNil(svc) {
		m.logger.Warn("Remove ignored: the service is nil")
		return doneWaitGroup()
	}
	// Wait only for a resolution under way: one that has not begun sees the
	// flag and never calls the resolver, and waiting for it could wait on
	// the very handler that called Remove.
	var resolving <-chan struct{}
	e, ok := m.reg.Remove(svc, func(e *entry) (awaitLife, awaitServe bool) {
		e.gone.Store(true)
		awaitLife, awaitServe = !e.ended.Load(), e.serveRunning() // see retired, serveReturned
		m.step(e, StateRemoved)                                   // from any state but failed: it is never acted on again
		resolving = m.sched.Removed(e.resolution, &e.watchers)
		m.busy.Add(1)
		return awaitLife, awaitServe
	})
	if !ok {
		if name, err := m.serviceName(svc); err == nil {
			m.logger.Warn("Remove ignored: the service is not in the mesh", "subject", name)
		}
		return doneWaitGroup()
	}
	m.changed()
	m.unparkRemoved(e) // a wait for its requirements ends
	m.needsChanged(e)  // its requirers choose again

	if e.serve != nil {
		e.endServe() // its Serve's context ends; Remove does not wait for it
	}
	if hs := e.handlers; hs != nil {
		hs.mu.Lock()
		hs.removed = true
		if hs.bound {
			m.unbind(hs.listeners)
		}
		hs.mu.Unlock()
	}

	m.starts.Removed(wasRemoved)

	resolved := resolving // captured by value, so that resolving, set under the lock, stays on the stack
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer m.busyDone()
		defer wg.Done()
		m.debug("service removed", "subject", e.name)
		m.emit(EventServiceRemoved, svc)
		if resolved != nil {
			<-resolved
		}
		m.reg.Told(&e.node)
	}()
	return &wg
}
