package servicemesh

// Health checks: HasHealthCheck, and the glue between the mesh and the
// probes of internal/readiness, which run the checks (in parallel, each
// bounded by a timeout, one in flight per service, results cached briefly).
// healthState's fields are atomics or safe for concurrent use on their own;
// the probes' lock (readiness.Probes) is never held while service code runs,
// while the event bus is waited on, or while registry.mu is taken. A health
// check runs on a goroutine of its own, counted in busy.

import (
	"context"
	"sync/atomic"

	"github.com/gravestench/servicemesh/internal/readiness"
)

// HasHealthCheck is implemented by services that can tell whether they are
// healthy now, for example by pinging the database they hold. A mesh is
// ready (see Ready) only while every HealthCheck passes.
//
// HealthCheck returns nil when the service is healthy. The mesh calls it
// when readiness is asked for (Ready, WaitReady, Status, the probes of
// package health, and the mesh itself until it is first ready), once the
// service runs and, if it has Ready, reports ready; usually only once every
// other service does too. It calls it on a goroutine of its own, the checks
// of different services in parallel, never more than one call in flight per
// service, and at most about once per second per service: a result is used
// for a second before the service is asked again, however often readiness
// is asked for. ctx ends after 2 s or when the shutdown begins, whichever
// comes first; a call that has not returned after 2 s counts as failing
// (and keeps counting as failing, without another call, until it returns),
// and so does a panic, which is recovered and logged. HealthCheck should
// return when ctx ends: the shutdown waits for a call in flight, within its
// budget (SetShutdownTimeout). A check that starts failing is logged at
// level Warn, one that passes again at Info.
type HasHealthCheck interface {
	Service
	HealthCheck(ctx context.Context) error
}

// healthState is the mesh's part for readiness: the probes of its services,
// the memo of the service that blocked readiness, the readiness watcher,
// and whether the mesh was ready and EventMeshReady told.
type healthState struct {
	// wasReady is set once the mesh was found ready from Run on; told once
	// EventMeshReady was told (or skipped, the shutdown having begun).
	wasReady, told atomic.Bool
	// watcher looks at the mesh until it is first ready (ready.go).
	watcher readiness.Watcher
	// blocker is the service that kept the mesh from being ready when it
	// was last looked at, or nil: readiness looks at it first.
	blocker readiness.Blocker[entry]
	// probes holds what the mesh keeps for each service with Ready or
	// HealthCheck that readiness has looked at; its hooks are set by
	// initHealth.
	probes readiness.Probes[*entry]
}

const (
	// slowestNamed is how many of the slowest Inits the "mesh ready" line
	// names.
	slowestNamed = 3
)

// initHealth gives the probes their hooks: the checks' context, the
// counting of their goroutines in busy, the guarded call of HealthCheck and
// the log lines of checks that start failing or pass again. New calls it,
// once m.ctx is set.
func (m *mesh) initHealth() {
	m.health.probes.Init(readiness.Hooks[*entry]{
		Ctx:     m.ctx,
		Begin:   m.beginCheck,
		Done:    m.busyDone,
		Check:   m.callHealthCheck,
		Changed: m.healthChanged,
	})
}

// beginCheck counts a health check's goroutine in busy and reports true,
// or false, counting nothing, once the shutdown has begun.
func (m *mesh) beginCheck() bool {
	// Counted before stopping is read: a shutdown that begins after this
	// read waits for the check.
	m.busy.Add(1)
	if m.stopping.Load() {
		m.busyDone()
		return false
	}
	return true
}

// callHealthCheck calls e's HealthCheck with ctx, guarded: a panic is its
// error, logged unless quiet.
func (m *mesh) callHealthCheck(ctx context.Context, e *entry, quiet bool) (panicked bool, err error) {
	hc := e.svc.(HasHealthCheck)
	if perr := m.probeGuard(quiet, e.name, "HealthCheck", func() { err = hc.HealthCheck(ctx) }); perr != nil {
		return true, perr
	}
	return false, err
}

// healthChanged logs a health check of e that started failing (err) or
// passes again (nil), unless the shutdown has begun: a context ended by the
// shutdown is no news.
func (m *mesh) healthChanged(e *entry, err error) {
	switch {
	case m.stopping.Load():
	case err != nil:
		m.logger.Warn("health check failing", "subject", e.name, "error", err)
	default:
		m.logger.Info("health check passing again", "subject", e.name)
	}
}

// readyButForShutdown reports whether the mesh would be ready but for its
// shutdown having begun: every service running, and the latest answer of
// every Ready and the latest result of every HealthCheck, however old,
// passing. It tells the shutdown whether there is anything to drain. It
// calls no service code (Shutdown's caller may be anywhere), so a Ready
// never asked counts as not ready: nobody was told the mesh was ready.
func (m *mesh) readyButForShutdown() bool {
	probed, _, ok := m.runningServices()
	if !ok {
		return false
	}
	h := &m.health
	ps := h.probes.For(probed, false)
	for i, e := range probed {
		if _, ok := e.svc.(HasReadiness); ok && !ps[i].LastReady() {
			return false
		}
		if e.HasCheck() && !h.probes.Passed(ps[i]) {
			return false
		}
	}
	return true
}

// serviceReady reports whether e alone is ready: running, its lifecycle
// over, Ready if it has Ready, passing its HealthCheck if it has one.
func (m *mesh) serviceReady(ctx context.Context, e *entry, wait bool) bool {
	if !e.up() {
		return false
	}
	r, isR := e.svc.(HasReadiness)
	if !isR && !e.HasCheck() {
		return true
	}
	es := []*entry{e}
	ps := m.health.probes.For(es, false)
	if isR && !m.callReady(e, r, ps[0]) {
		return false
	}
	_, failing := m.health.probes.Failing(ctx, es, ps, wait)
	return !failing
}

// callReady calls r.Ready through e's probe p, guarded: a panic counts as
// not ready, and is logged unless the previous call panicked too; a call
// from inside that Ready gets its last answer (readiness.Probe.Ready).
func (m *mesh) callReady(e *entry, r HasReadiness, p *readiness.Probe[*entry]) bool {
	return p.Ready(func(quiet bool) (ready, panicked bool) {
		err := m.probeGuard(quiet, e.name, "Ready", func() { ready = r.Ready() })
		return ready, err != nil
	})
}

// probeGuard runs fn, a call of the service's Ready or HealthCheck, as
// guard does, except that with quiet, when the last call of it panicked, a
// panic is recovered without being logged again.
func (m *mesh) probeGuard(quiet bool, name, call string, fn func()) (err error) {
	if !quiet {
		return m.guard(name, call, fn)
	}
	defer func() {
		if v := recover(); v != nil {
			m.recovered.Add(1)
			err = &PanicError{Service: name, Call: call, Value: v}
		}
	}()
	fn()
	return nil
}

// ProbeKey is what e's probe is kept under (readiness.Owner): the service
// itself where Go can compare it, so that the probe outlives a removal and
// a new Add, or else e.
func (e *entry) ProbeKey() any {
	if e.node.ByValue() {
		return e.svc
	}
	return e
}

// Gone reports whether e was removed (readiness.Owner).
func (e *entry) Gone() bool { return e.gone.Load() }

// HasCheck reports whether e's service has a HealthCheck (readiness.Owner).
func (e *entry) HasCheck() bool {
	_, ok := e.svc.(HasHealthCheck)
	return ok
}
