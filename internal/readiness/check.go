package readiness

// Health checks: run in parallel, each on a goroutine of its own counted by
// Hooks.Begin, bounded by timing.HealthCheckTimeout, one in flight per
// probe, results used for timing.HealthCacheTTL.

import (
	"context"
	"fmt"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// errTimeout is the failure of a HealthCheck that did not return within
// timing.HealthCheckTimeout.
var errTimeout = fmt.Errorf("health check did not return within %v", timing.HealthCheckTimeout)

// run is one call of a HealthCheck.
type run struct {
	began time.Time
	done  chan struct{} // closed when the call has ended
	ended time.Time     // written before done is closed
	err   error         // written before done is closed
}

// Failing returns the first of os with a HealthCheck whose check fails, and
// true, or false when every check passes; ps are their probes, from For(os),
// one for each, in order (fewer panics). A result less than
// timing.HealthCacheTTL old is used as it is; otherwise a check is started,
// unless one is in flight, or fails when Hooks.Begin refuses it (the
// shutdown has begun). With wait, the checks not answered from the cache
// are waited for, in parallel, each until its timeout or until ctx ends;
// without, their latest results are used, and a check never completed
// counts as failing. A check in flight past timing.HealthCheckTimeout fails
// at once, and is not called again until it returns. Safe for concurrent
// use: callers at the same moment share the checks in flight.
func (c *Probes[O]) Failing(ctx context.Context, os []O, ps []*Probe[O], wait bool) (O, bool) {
	type waiting struct {
		o O
		r *run
	}
	now := time.Now()
	var failed O
	var found bool
	var waits []waiting
	c.mu.Lock()
	for i, o := range os {
		if !o.HasCheck() {
			continue
		}
		p := ps[i]
		pass := true
		switch {
		case p.last != nil && now.Sub(p.last.ended) < timing.HealthCacheTTL:
			pass = p.last.err == nil
		case p.cur == nil && !c.start(o, p, now):
			pass = false // the shutdown has begun
		case !now.Before(p.cur.began.Add(timing.HealthCheckTimeout)):
			pass = false // hung: the call is not made again until it returns
		case wait:
			waits = append(waits, waiting{o, p.cur})
		default:
			pass = p.last != nil && p.last.err == nil
		}
		if !pass && !found {
			failed, found = o, true
		}
	}
	c.mu.Unlock()
	if found {
		return failed, true
	}
	for _, w := range waits {
		if !w.r.await(ctx) {
			return w.o, true
		}
	}
	return failed, false
}

// start starts a HealthCheck of o, recording it as p's run in flight, and
// reports whether it did: not once the shutdown has begun. The caller holds
// c.mu.
func (c *Probes[O]) start(o O, p *Probe[O], now time.Time) bool {
	// Counted before the shutdown is looked at: a shutdown that begins
	// after the look waits for the check.
	if !c.hooks.Begin() {
		return false
	}
	r := &run{began: now, done: make(chan struct{})}
	p.cur = r
	go c.check(o, p, r)
	return true
}

// check calls o's HealthCheck for run r and records the result. It runs on
// a goroutine of its own, counted by Hooks.Begin.
func (c *Probes[O]) check(o O, p *Probe[O], r *run) {
	defer c.hooks.Done()
	ctx, cancel := context.WithTimeout(c.hooks.Ctx, timing.HealthCheckTimeout)
	panicked, err := c.hooks.Check(ctx, o, p.checkPanicked.Load())
	p.checkPanicked.Store(panicked)
	cancel()
	ended := time.Now()
	if err == nil && ended.Sub(r.began) >= timing.HealthCheckTimeout {
		err = errTimeout
	}
	c.mu.Lock()
	wasFailing := p.last != nil && p.last.err != nil
	r.ended, r.err = ended, err
	p.cur, p.last = nil, r
	close(r.done)
	c.mu.Unlock()
	if (err != nil) != wasFailing {
		c.hooks.Changed(o, err)
	}
}

// await waits for r until its timeout or until ctx ends, and reports
// whether it ended and passed.
func (r *run) await(ctx context.Context) bool {
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

// UnderWay reports whether o's health check is in flight with no fresh
// result to answer from.
func (c *Probes[O]) UnderWay(o O) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.probes[o.ProbeKey()]
	return p != nil && p.cur != nil && (p.last == nil || time.Since(p.last.ended) >= timing.HealthCacheTTL)
}

// Passed reports whether the latest check of p's service that ended, however
// old, passed: false if none ended. It starts no check.
func (c *Probes[O]) Passed(p *Probe[O]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.last != nil && p.last.err == nil
}
