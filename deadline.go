package servicemesh

import (
	"context"
	"sync"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Deadlines: the shutdown's budget (SetShutdownTimeout) and the clock the
// shutdown goroutine keeps it with (stopClock), with one timer for the
// whole shutdown and a grace once the budget has passed.

// SetShutdownTimeout sets the budget of the whole shutdown, from its start
// to its completion (default 25 s; zero or less: none). When it passes, the
// services whose OnShutdown has not returned are named at level Error and
// left behind, the services they depend on are still stopped, in order,
// within a short grace (a tenth of the budget, at most one second), and the
// shutdown completes, so Run returns. It applies to a shutdown under way as
// well as a later one.
//
// It is a function rather than a Mesh method so that Mesh stays the
// interface the original library defined; it reports false, doing nothing,
// when m was not made by New.
func SetShutdownTimeout(m Mesh, d time.Duration) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.stopTimeout.Store(int64(d))
	if b := mm.stopBudget.Load(); b != nil {
		b.setBudget(d)
	}
	poke(mm.stopTimeoutChanged)
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
// timing.MaxStopGrace. A change of the budget takes effect at once.
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

// context returns the context of a stop: until the budget has passed, the
// shutdown's budgetContext, whose deadline SetShutdownTimeout moves; in the
// grace, one that ends with the grace.
func (c *stopClock) context() (context.Context, context.CancelFunc) {
	if c.graceEnd.IsZero() {
		return c.m.stopBudget.Load(), func() {}
	}
	return context.WithDeadline(context.Background(), c.graceEnd)
}

// budgetContext is the context handed to every OnShutdownContext before
// the shutdown's budget has passed: it ends, with DeadlineExceeded, when the
// budget runs out, and SetShutdownTimeout moves its deadline, also for the
// contexts already handed out. Its fields are guarded by mu, which is held
// for no more than a few assignments.
type budgetContext struct {
	start time.Time // when the shutdown began
	done  chan struct{}
	mu    sync.Mutex
	at    time.Time   // the deadline; zero: none
	timer *time.Timer // ends it at at; nil when there is none
	err   error       // set, and done closed, once it has ended
	// after holds the functions AfterFunc registered, run once it ends.
	after map[*func()]struct{}
}

// newBudgetContext returns the context of a shutdown that began at start
// with the budget d (none when zero or less).
func newBudgetContext(start time.Time, d time.Duration) *budgetContext {
	b := &budgetContext{start: start, done: make(chan struct{})}
	b.setBudget(d)
	return b
}

// setBudget moves the deadline to start+d, or removes it when d is zero
// or less. It does nothing once the context has ended.
func (b *budgetContext) setBudget(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.at = time.Time{}
	if d <= 0 {
		return
	}
	b.at = b.start.Add(d)
	if wait := time.Until(b.at); wait > 0 {
		b.timer = time.AfterFunc(wait, b.expire)
		return
	}
	b.endLocked()
}

func (b *budgetContext) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil && !b.at.IsZero() && !time.Now().Before(b.at) {
		b.endLocked()
	}
}

func (b *budgetContext) endLocked() {
	b.err = context.DeadlineExceeded
	close(b.done)
	if b.timer != nil { // ended by the shutdown's clock (stopClock.expire)
		b.timer.Stop()
		b.timer = nil
	}
	for f := range b.after {
		go (*f)()
	}
	b.after = nil
}

// AfterFunc arranges for f to run, on a goroutine of its own, once the
// context has ended, as context.AfterFunc does; stop unregisters it. The
// context package uses it, so that a context derived from this one (with
// WithCancel, WithTimeout...) costs no goroutine.
func (b *budgetContext) AfterFunc(f func()) (stop func() bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		go f()
		return func() bool { return false }
	}
	if b.after == nil {
		b.after = make(map[*func()]struct{})
	}
	key := &f
	b.after[key] = struct{}{}
	return func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		_, ok := b.after[key]
		delete(b.after, key)
		return ok
	}
}

// release stops its timer, once the shutdown has completed.
func (b *budgetContext) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

// Deadline returns the deadline now in force.
func (b *budgetContext) Deadline() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.at, !b.at.IsZero()
}

// Done is closed when the budget has run out.
func (b *budgetContext) Done() <-chan struct{} { return b.done }

// Err is context.DeadlineExceeded once the budget has run out, else nil.
func (b *budgetContext) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Value returns nil: the context carries no values.
func (b *budgetContext) Value(any) any { return nil }

// String names it in the way the context package names its own.
func (b *budgetContext) String() string { return "servicemesh.shutdownBudget" }

// expire starts the grace, once.
func (c *stopClock) expire() {
	if c.graceEnd.IsZero() {
		c.graceEnd = time.Now().Add(min(c.budget()/10, timing.MaxStopGrace))
		if b := c.m.stopBudget.Load(); b != nil {
			b.expire() // the stops' context ends before any stop is named timed out
		}
		c.m.abandoned.Store(c.m.emitting.Load())
	}
}

// stop releases the clock's timer.
func (c *stopClock) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
}
