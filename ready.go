package servicemesh

// Readiness: whether the mesh is ready (Ready, WaitReady) and the one-time
// EventMeshReady with its Info line. Readiness reads the registry under
// registry.mu without calling service code there, then calls Ready and
// HealthCheck through the services' probes (healthcheck.go, which glues the
// mesh to internal/readiness) with no lock held. The readiness watcher and
// the goroutine that tells EventMeshReady are counted in busy.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gravestench/servicemesh/internal/readiness"
)

// ErrShuttingDown is returned by WaitReady when the mesh's shutdown begins
// before the mesh is ready: it will not become ready any more.
var ErrShuttingDown = errors.New("mesh is shutting down")

// Ready reports whether m is ready: its shutdown has not begun; every
// service in it is StateRunning, or StateStopped because its Serve returned
// nil (none is still being added, resolving or starting, none has failed
// or is backing off) with its lifecycle over, the handlers of its
// EventServiceInitialized having run (so its Add's WaitGroup is done);
// every HasReadiness service reports Ready; and every HasHealthCheck
// service's HealthCheck passes. It stops being ready the moment Shutdown is
// called or a signal arrives.
//
// Ready may wait for health checks, in parallel and never longer than their
// 2 s timeout; a result less than a second old is used without asking the
// service again, and a check still in flight is waited for, never called a
// second time (see HasHealthCheck). It is safe from any goroutine; called
// from a HealthCheck it waits for that check, that is for itself, until the
// timeout and reports false; called from Ready of a HasReadiness service it
// does not call that Ready again but uses its last answer. For a Mesh not
// made by New, nil included, it reports false.
//
// The first time, from Run (or RunContext) on, that Ready, Status,
// WaitReady or the mesh itself finds the mesh ready, EventMeshReady is
// told; before Run, main may still be adding services, and nothing is
// latched.
func Ready(m Mesh) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	return mm.readiness(context.Background(), true)
}

// WaitReady waits until m is ready (see Ready) and returns nil, or returns
// ctx.Err() if ctx ends first. It returns at once once m can no longer
// become ready without help: when m's shutdown has begun it returns an
// error wrapping ErrShuttingDown and, when a service's failure began the
// shutdown, that failure too (a *ServiceError, for errors.As); a service
// that failed for good begins the shutdown unless the mesh is kept running
// (RestartPolicy.KeepRunning), in which case WaitReady goes on waiting, for
// the failed service may be removed. It looks at the mesh again after 1 ms,
// then backing off to every 50 ms, so readiness is noticed within about
// 50 ms at little cost. A nil ctx means context.Background(). For a Mesh
// not made by New, nil included, which is never ready, it returns
// ctx.Err() once ctx ends.
func WaitReady(ctx context.Context, m Mesh) error {
	if ctx == nil {
		ctx = context.Background()
	}
	mm, ok := m.(*mesh)
	if !ok {
		<-ctx.Done()
		return ctx.Err()
	}
	return mm.waitReady(ctx)
}

func (m *mesh) waitReady(ctx context.Context) error {
	var t *time.Timer
	var b readiness.Backoff
	for {
		if err := m.unreachable(); err != nil {
			return err
		}
		if m.readiness(ctx, true) {
			return nil
		}
		if err := m.unreachable(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if t == nil {
			t = time.NewTimer(b.Next())
			defer t.Stop()
		} else {
			t.Reset(b.Next())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.down:
			return m.unreachable()
		case <-t.C:
		}
	}
}

// unreachable returns why the mesh can no longer become ready without
// help, or nil: its shutdown began (ErrShuttingDown, wrapping as well the
// failure that began it, when one did), or a service failed for good and
// the mesh is not kept running (which begins the shutdown too). stopping
// is read first: failFast notes the cause before the shutdown begins, so
// that a shutdown seen begun shows its cause too.
func (m *mesh) unreachable() error {
	if !m.stopping.Load() {
		return nil
	}
	if se := m.failures.cause.Load(); se != nil {
		return fmt.Errorf("%w: %w", ErrShuttingDown, se)
	}
	return ErrShuttingDown
}

// readiness reports whether the mesh is ready (see Ready). With wait, it
// waits for stale health checks to be run again; without, it uses their
// latest results and has the stale ones run again in the background. It
// notes that the mesh was ready, and has EventMeshReady told the first time.
// ctx bounds the wait for health checks.
//
// The service that kept the mesh from being ready last time is looked at
// first, alone: while it is still not ready, the answer costs the same with
// ten services as with a hundred thousand, so the watcher and the probes of
// a mesh that is not ready do not scan every service again and again.
func (m *mesh) readiness(ctx context.Context, wait bool) bool {
	if !m.readyNow(ctx, wait) {
		return false
	}
	// First readiness is latched only from Run on: before, main may
	// still be adding services (DESIGN §8).
	if m.running.Load() {
		m.health.wasReady.Store(true)
		m.tellReady()
	}
	return true
}

// readyNow is readiness without latching anything.
func (m *mesh) readyNow(ctx context.Context, wait bool) bool {
	if m.stopping.Load() {
		return false
	}
	h := &m.health
	// The service that blocked readiness last time is looked at first,
	// without waiting: when only its health check is under way, the scan
	// below waits for it together with the others, in parallel.
	if h.blocker.Blocks(func(b *entry) bool {
		return !b.gone.Load() && !m.serviceReady(ctx, b, false) && !(wait && h.probes.UnderWay(b))
	}) {
		return false
	}
	probed, blocker, ok := m.runningServices()
	if !ok {
		if blocker != nil {
			h.blocker.Set(blocker)
		}
		return false
	}
	if len(probed) > 0 {
		ps := h.probes.For(probed, true)
		for i, e := range probed {
			if r, ok := e.svc.(HasReadiness); ok && !m.callReady(e, r, ps[i]) {
				h.blocker.Set(e)
				return false
			}
		}
		if e, failing := h.probes.Failing(ctx, probed, ps, wait); failing {
			h.blocker.Set(e)
			return false
		}
	}
	return !m.stopping.Load()
}

// runningServices reports whether every service is listed and running, its
// lifecycle over (its EventServiceInitialized told, so that EventMeshReady
// comes after every one of them), and if so returns those with Ready or
// HealthCheck, in the order added; if not, the first service that is not,
// if there is one. A service whose Add has reserved it but not listed it
// yet (its SetLogger runs, or its previous lifecycle is retiring) is not
// running.
func (m *mesh) runningServices() (probed []*entry, blocker *entry, ok bool) {
	m.reg.Do(func(l listing) {
		if !l.AllListed() {
			return // reserved, not yet listed
		}
		for e := range l.Entries() {
			if !e.up() {
				blocker = e
				return
			}
			_, r := e.svc.(HasReadiness)
			_, c := e.svc.(HasHealthCheck)
			if r || c {
				probed = append(probed, e)
			}
		}
		ok = true
	})
	if !ok {
		return nil, blocker, false
	}
	return probed, nil, true
}

// up reports whether e counts as running for readiness: its lifecycle
// over, and running, or stopped because its Serve returned nil (outside a
// shutdown, when readiness is false anyway, nothing else stops a service).
func (e *entry) up() bool {
	st := e.lc.State()
	return (st == StateRunning || st == StateStopped) && e.ended.Load()
}

// noteSettled is called whenever a service's way to Init has ended. Once
// none is pending, it starts the readiness watcher, once per mesh, or wakes
// it: the watcher tells EventMeshReady when the mesh is first ready.
func (m *mesh) noteSettled() {
	h := &m.health
	if m.pending.Load() != 0 || h.told.Load() || !m.running.Load() {
		return // Run calls it again
	}
	if !h.watcher.Start() {
		h.watcher.Wake()
		return
	}
	m.busy.Add(1) // before stopping is read, as in beginCheck
	if m.stopping.Load() {
		m.busyDone()
		return
	}
	go m.watchReady()
}

// watchReady looks at the mesh until it is ready, backing off from
// timing.ReadyPollMin to timing.ReadyPollMax and starting again from
// timing.ReadyPollMin when noteSettled wakes it (readiness.Watcher), and
// ends once EventMeshReady was told or the shutdown begins: it holds the
// shutdown up only while a Ready it called runs (a wait for health checks
// ends with m.ctx). It runs on a goroutine of the mesh counted in busy.
func (m *mesh) watchReady() {
	defer m.busyDone()
	h := &m.health
	// readiness has EventMeshReady told when it finds the mesh ready.
	h.watcher.Watch(m.down, func() bool { return h.told.Load() || m.readiness(m.ctx, true) })
}

// tellReady tells EventMeshReady, and logs that the mesh is ready, the
// first time it is called and unless the shutdown has begun, on a goroutine
// of the mesh counted in busy: the caller does not wait for the handlers.
func (m *mesh) tellReady() {
	h := &m.health
	if h.told.Load() || !h.told.CompareAndSwap(false, true) {
		return
	}
	m.busy.Add(1) // before stopping is read, as in beginCheck
	if m.stopping.Load() {
		m.busyDone()
		return
	}
	go func() {
		defer m.busyDone()
		m.logReady()
		m.emit(EventMeshReady)
	}()
}

// logReady logs, at Info, that the mesh is ready: how many services, how
// long since New, and the slowest Inits.
func (m *mesh) logReady() {
	type took struct {
		name string
		d    time.Duration
	}
	var inits []took
	for e := range m.reg.Entries() {
		inits = append(inits, took{e.name, e.lc.Took(StateStarting)})
	}
	n := len(inits)
	slices.SortStableFunc(inits, func(a, b took) int { return cmp.Compare(b.d, a.d) })
	slowest := make([]string, 0, slowestNamed)
	for _, x := range inits[:min(n, slowestNamed)] {
		slowest = append(slowest, x.name+"="+x.d.Round(time.Microsecond).String())
	}
	m.logger.Info("mesh ready", "services", n, "took", time.Since(m.epoch).Round(time.Microsecond), "slowest", slowest)
}
