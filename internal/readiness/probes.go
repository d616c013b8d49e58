package readiness

// The probe cache: one probe per service, kept by key. Probes.mu guards the
// map and the fields of each probe said to be; the other fields are atomics.

import (
	"context"
	"sync"
	"sync/atomic"
)

// Owner is the mesh's record of one service, as the probes see it. Its
// methods are called with the probes' lock held: they must not block or run
// service code.
type Owner interface {
	comparable
	// ProbeKey is what the service's probe is kept under. It is the same
	// for a service removed and added again where the mesh can tell that
	// it is the same service, so that its check in flight is still the one
	// and no second one starts.
	ProbeKey() any
	// Gone reports whether the service was removed from the mesh.
	Gone() bool
	// HasCheck reports whether the service has a HealthCheck.
	HasCheck() bool
}

// Hooks are the mesh's side of the health checks. Probes.Init sets them once,
// before any other use.
type Hooks[O Owner] struct {
	// Ctx is what the context of each check derives from: it ends when the
	// shutdown begins.
	Ctx context.Context
	// Begin counts a check's goroutine as one the shutdown waits for and
	// reports true, or, once the shutdown has begun, counts nothing and
	// reports false. It is called with the probes' lock held: it must not
	// block.
	Begin func() bool
	// Done ends what Begin counted, as the check's goroutine ends.
	Done func()
	// Check calls o's HealthCheck with ctx, guarded: a panic is recovered
	// and returned as err with panicked true, and logged unless quiet (the
	// last call panicked too).
	Check func(ctx context.Context, o O, quiet bool) (panicked bool, err error)
	// Changed is told when a check of o ends failing after it passed (or
	// never ended before), with its error, or passing after it failed,
	// with nil.
	Changed func(o O, err error)
}

// Probes is the probe of each service with Ready or HealthCheck that
// readiness has looked at. Its zero value is ready for use once Init has
// given it its hooks. It is safe for concurrent use.
type Probes[O Owner] struct {
	hooks Hooks[O] // set by Init, read only after

	mu sync.Mutex // guards probes and the fields of each probe said to be
	// probes is by Owner.ProbeKey, made on first use. The probe of a
	// removed service is dropped once no check of it is in flight.
	probes map[any]*Probe[O]
}

// Probe is what the mesh keeps about one service's Ready and HealthCheck.
type Probe[O Owner] struct {
	// owner is the record that last used it; guarded by Probes.mu.
	owner O
	// inReady is set while a Ready call runs; lastReady is its last
	// answer, which a Ready call made from inside Ready (through Status or
	// Ready) gets instead of recursing.
	inReady, lastReady atomic.Bool
	// readyPanicked and checkPanicked are set while the last call of
	// Ready, or of HealthCheck, panicked: a panic that repeats is not
	// logged again, so that probes polling a broken service do not flood
	// the log.
	readyPanicked, checkPanicked atomic.Bool
	// Guarded by Probes.mu: the HealthCheck in flight, nil if none, and
	// the last one that ended, nil if none.
	cur, last *run
}

// Init gives c its hooks. It must be called once, before any other method
// and before c is shared: a check started without hooks panics.
func (c *Probes[O]) Init(h Hooks[O]) { c.hooks = h }

// For returns the probe of each of os, in order, making those missing, and
// notes os as their owners. With prune it then drops the probes of services
// gone, except those with a check in flight: the service may be added again
// before the check returns, and must not get a second one. os are records
// of the mesh, never the zero O (For would call its methods).
func (c *Probes[O]) For(os []O, prune bool) []*Probe[O] {
	ps := make([]*Probe[O], len(os))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probes == nil {
		c.probes = make(map[any]*Probe[O])
	}
	for i, o := range os {
		k := o.ProbeKey()
		p := c.probes[k]
		if p == nil {
			p = &Probe[O]{}
			c.probes[k] = p
		}
		p.owner = o
		ps[i] = p
	}
	if prune { // after the owners were brought up to date
		for k, p := range c.probes {
			if p.owner.Gone() && p.cur == nil {
				delete(c.probes, k)
			}
		}
	}
	return ps
}

// Ready asks the service whether it is ready, through ask, and returns its
// answer: false when ask reports a panic. ask calls the service's Ready,
// guarded, and logs a panic unless quiet (the last call panicked too). A
// call made while another runs, from inside that Ready (through Status or
// Ready) or at the same moment from elsewhere, does not ask again but gets
// the last answer: the two cannot be told apart, and a look at readiness
// that gets a stale answer looks again at its next step.
func (p *Probe[O]) Ready(ask func(quiet bool) (ready, panicked bool)) bool {
	if !p.inReady.CompareAndSwap(false, true) {
		return p.lastReady.Load()
	}
	defer p.inReady.Store(false)
	ready, panicked := ask(p.readyPanicked.Load())
	p.readyPanicked.Store(panicked)
	ready = ready && !panicked
	p.lastReady.Store(ready)
	return ready
}

// LastReady returns the last answer of the service's Ready, false if it was
// never asked. It calls no service code.
func (p *Probe[O]) LastReady() bool { return p.lastReady.Load() }
