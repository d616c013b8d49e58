package servicemesh

// Health checks: HasHealthCheck, run in parallel, each bounded by a timeout,
// one in flight per service, results cached briefly (healthState).
// healthState's flags are atomics; its probes, and the fields of each probe
// said to be, are guarded by healthState.mu, which is never held while
// service code runs, while the event bus is waited on, or while registry.mu
// is taken. A health check runs on a goroutine of its own, counted in busy.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

const (
	// slowestNamed is how many of the slowest Inits the "mesh ready" line
	// names.
	slowestNamed = 3
)

// errHealthCheckTimeout is the failure of a HealthCheck that did not return
// within timing.HealthCheckTimeout.
var errHealthCheckTimeout = fmt.Errorf("health check did not return within %v", timing.HealthCheckTimeout)

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

// healthState is the mesh's part for readiness: the probes of its services
// and whether EventMeshReady was told.
type healthState struct {
	// wasReady is set once the mesh was found ready; told once
	// EventMeshReady was told (or skipped, the shutdown having begun);
	// watching once the readiness watcher was started.
	wasReady, told, watching atomic.Bool
	// blocker is the service that kept the mesh from being ready when it
	// was last looked at, or nil: readiness looks at it first.
	blocker atomic.Pointer[entry]
	// wake pokes the watcher when the last pending lifecycle settles (cap
	// 1, made once by wakeOnce).
	wakeOnce sync.Once
	wake     chan struct{}

	mu sync.Mutex // guards probes and the fields of probes said to be
	// probes holds what the mesh keeps for each service with Ready or
	// HealthCheck that readiness has looked at, by probeKey: a service
	// removed and added again keeps its probe, so its check in flight is
	// still the one. Removed services are dropped on the next look. Made on
	// first use.
	probes map[any]*probe
}

// probe is what the mesh keeps about one service's Ready and HealthCheck.
type probe struct {
	// owner is the entry that last used it; guarded by healthState.mu.
	owner *entry
	// inReady is set while a Ready call runs; lastReady is its last
	// answer, which a Ready call made from inside Ready (through Status
	// or Ready) gets instead of recursing.
	inReady, lastReady atomic.Bool
	// readyPanicked and checkPanicked are set while the last call of
	// Ready, or of HealthCheck, panicked: a panic that repeats is not
	// logged again, so that probes polling a broken service do not flood
	// the log.
	readyPanicked, checkPanicked atomic.Bool
	// Guarded by healthState.mu: the HealthCheck in flight, nil if none,
	// and the last one that ended, nil if none.
	cur, last *checkRun
}

// checkRun is one call of a HealthCheck.
type checkRun struct {
	began time.Time
	done  chan struct{} // closed when the call has ended
	ended time.Time     // written before done is closed
	err   error         // written before done is closed
}

func (h *healthState) wakeCh() chan struct{} {
	h.wakeOnce.Do(func() { h.wake = make(chan struct{}, 1) })
	return h.wake
}

// probesFor returns the probe of each of es, making those missing; with
// prune, it first drops those of removed services.
func (h *healthState) probesFor(es []*entry, prune bool) []*probe {
	ps := make([]*probe, len(es))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probes == nil {
		h.probes = make(map[any]*probe)
	}
	for i, e := range es {
		k := probeKey(e)
		p := h.probes[k]
		if p == nil {
			p = &probe{}
			h.probes[k] = p
		}
		p.owner = e
		ps[i] = p
	}
	if prune { // after the owners were brought up to date
		for k, p := range h.probes {
			// A check in flight keeps its probe: the service may be
			// added again before it returns, and must not get a second.
			if p.owner.gone.Load() && p.cur == nil {
				delete(h.probes, k)
			}
		}
	}
	return ps
}

// checkUnderWay reports whether e's health check is running with no fresh
// result to answer from.
func (m *mesh) checkUnderWay(e *entry) bool {
	h := &m.health
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.probes[probeKey(e)]
	return p != nil && p.cur != nil && (p.last == nil || time.Since(p.last.ended) >= timing.HealthCacheTTL)
}

// probeKey is what a service's probe is kept under: the service itself
// where Go can compare it, so that it outlives a removal and a new Add, or
// else its entry.
func probeKey(e *entry) any {
	if e.node.ByValue() {
		return e.svc
	}
	return e
}

// probeGuard runs fn, a call of the service's Ready or HealthCheck, as
// guard does, except that a panic right after a panic of the same call is
// recovered without being logged again. panicked tells whether the last
// call panicked.
func (m *mesh) probeGuard(panicked *atomic.Bool, name, call string, fn func()) (err error) {
	if !panicked.Load() {
		err = m.guard(name, call, fn)
		panicked.Store(err != nil)
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			m.recovered.Add(1)
			err = &PanicError{Service: name, Call: call, Value: v}
			return
		}
		panicked.Store(false)
	}()
	fn()
	return nil
}

// unhealthy returns the first of the services among es with a HealthCheck
// whose check fails, or nil if all pass (ps are their probes). A result
// less than timing.HealthCacheTTL old is used as it is; otherwise a check is
// started, unless one is in flight. With wait, the checks not answered from
// the cache are waited for, in parallel, each until its timeout or until
// ctx ends; without, their latest results are used, and a check never
// completed counts as failing. A check in flight past its timeout fails at
// once.
func (m *mesh) unhealthy(ctx context.Context, es []*entry, ps []*probe, wait bool) *entry {
	type waiting struct {
		e *entry
		r *checkRun
	}
	now := time.Now()
	var failed *entry
	var waits []waiting
	h := &m.health
	h.mu.Lock()
	for i, e := range es {
		hc, has := e.svc.(HasHealthCheck)
		if !has {
			continue
		}
		p := ps[i]
		pass := true
		switch {
		case p.last != nil && now.Sub(p.last.ended) < timing.HealthCacheTTL:
			pass = p.last.err == nil
		case p.cur == nil && !m.startCheck(e, hc, p, now):
			pass = false // the shutdown has begun
		case !now.Before(p.cur.began.Add(timing.HealthCheckTimeout)):
			pass = false // hung: the call is not made again until it returns
		case wait:
			waits = append(waits, waiting{e, p.cur})
		default:
			pass = p.last != nil && p.last.err == nil
		}
		if !pass && failed == nil {
			failed = e
		}
	}
	h.mu.Unlock()
	if failed != nil {
		return failed
	}
	for _, w := range waits {
		if !w.r.await(ctx) {
			return w.e
		}
	}
	return nil
}

// startCheck starts a HealthCheck of e, recording it as p's run in flight,
// and reports whether it did: not once the shutdown has begun. The caller
// holds healthState.mu.
func (m *mesh) startCheck(e *entry, hc HasHealthCheck, p *probe, now time.Time) bool {
	// Counted before stopping is read: a shutdown that begins after this
	// read waits for the check.
	m.busy.Add(1)
	if m.stopping.Load() {
		m.busyDone()
		return false
	}
	r := &checkRun{began: now, done: make(chan struct{})}
	p.cur = r
	go m.runCheck(e, hc, p, r)
	return true
}

// runCheck calls e's HealthCheck for run r and records the result. It runs
// on a goroutine of its own, counted in busy.
func (m *mesh) runCheck(e *entry, hc HasHealthCheck, p *probe, r *checkRun) {
	defer m.busyDone()
	ctx, cancel := context.WithTimeout(m.ctx, timing.HealthCheckTimeout)
	var err error
	if perr := m.probeGuard(&p.checkPanicked, e.name, "HealthCheck", func() { err = hc.HealthCheck(ctx) }); perr != nil {
		err = perr
	}
	cancel()
	ended := time.Now()
	if err == nil && ended.Sub(r.began) >= timing.HealthCheckTimeout {
		err = errHealthCheckTimeout
	}
	h := &m.health
	h.mu.Lock()
	wasFailing := p.last != nil && p.last.err != nil
	r.ended, r.err = ended, err
	p.cur, p.last = nil, r
	close(r.done)
	h.mu.Unlock()
	switch {
	case m.stopping.Load(): // a context ended by the shutdown is no news
	case err != nil && !wasFailing:
		m.logger.Warn("health check failing", "subject", e.name, "error", err)
	case err == nil && wasFailing:
		m.logger.Info("health check passing again", "subject", e.name)
	}
}

// await waits for r until its timeout or until ctx ends, and reports
// whether it ended and passed.
func (r *checkRun) await(ctx context.Context) bool {
	select {
	case <-r.done:
		return r.err == nil
	default:
	}
	t := time.NewTimer(time.Until(r.began.Add(timing.HealthCheckTimeout)))
	defer t.Stop()
	select {
	case <-r.done:
		return r.err == nil
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}
