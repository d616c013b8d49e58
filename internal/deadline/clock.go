package deadline

import (
	"context"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Clock keeps a shutdown's deadline with one timer for the whole shutdown:
// the budget from the shutdown's start, then, once it has passed, a grace
// of a tenth of it (at most timing.MaxStopGrace) within which what is left
// is still stopped. It is used by the shutdown goroutine only, through a
// pointer, and never copied once used; its BudgetContext is safe for
// concurrent use. (NewClock returns it by value so that it costs the
// shutdown no allocation of its own.)
type Clock struct {
	start   time.Time
	owner   Owner
	changed <-chan struct{} // receives when the owner's budget changed
	ctx     *BudgetContext
	// graceEnd is zero until the budget has passed; then it is the end of
	// the grace within which the remaining services are still stopped.
	graceEnd time.Time
	timer    *time.Timer // fires at the deadline; nil when there is none
	at       time.Time   // when timer fires
}

// Owner is what a Clock needs of the shutdown it keeps the time of. An
// interface rather than functions so that the owner, a pointer, is handed
// over without an allocation.
type Owner interface {
	// Budget returns the shutdown's budget now (zero or less: none). It
	// may change at any time; see NewClock's changed.
	Budget() time.Duration
	// BudgetPassed is called on the shutdown goroutine once, when the
	// budget passes, after the BudgetContext has ended.
	BudgetPassed()
}

// NewClock returns the clock of a shutdown of owner that began at start.
// changed receives after the owner's budget changed, so that a wait under
// way takes the new deadline at once. The BudgetContext is made with the
// budget as it is now.
func NewClock(start time.Time, owner Owner, changed <-chan struct{}) Clock {
	return Clock{start: start, owner: owner, changed: changed, ctx: NewBudgetContext(start, owner.Budget())}
}

// Start is when the shutdown began.
func (c *Clock) Start() time.Time { return c.start }

// Budget is the shutdown's budget now; zero or less means none.
func (c *Clock) Budget() time.Duration { return c.owner.Budget() }

// BudgetContext is the context of the stops until the budget has passed
// (see StopContext).
func (c *Clock) BudgetContext() *BudgetContext { return c.ctx }

// deadline returns when waiting must end, and false if never.
func (c *Clock) deadline() (time.Time, bool) {
	if !c.graceEnd.IsZero() {
		return c.graceEnd, true
	}
	if b := c.owner.Budget(); b > 0 {
		return c.start.Add(b), true
	}
	return time.Time{}, false
}

// Expired returns a channel that delivers at the deadline, or nil if there
// is none, and whether the deadline has already passed. A caller that
// received from the channel calls Fired before it asks again.
func (c *Clock) Expired() (<-chan time.Time, bool) {
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

// Fired notes that the channel Expired returned has delivered: the next
// Expired re-arms the timer.
func (c *Clock) Fired() { c.at = time.Time{} }

// Wait waits for ch until the deadline and reports whether ch came first.
// When the budget passes, the grace begins: a tenth of the budget, at most
// timing.MaxStopGrace. A change of the budget takes effect at once.
//
// It is WaitUntil for the channels of the shutdown's own steps, written
// out: a generic call from another package makes the Clock escape to the
// heap, and with it the functions it was given.
func (c *Clock) Wait(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
	}
	for {
		timeout, passed := c.Expired()
		if passed {
			c.expire()
			return false
		}
		select {
		case <-ch:
			return true
		case <-timeout:
			c.Fired()
			c.expire()
			return false
		case <-c.changed:
		}
	}
}

// WaitUntil receives from ch until c's deadline, and reports whether it
// received before it. When the deadline passes first and it was the
// budget's, the grace begins (see Wait).
func WaitUntil[T any](c *Clock, ch <-chan T) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
	}
	for {
		timeout, passed := c.Expired()
		if passed {
			c.expire()
			var zero T
			return zero, false
		}
		select {
		case v := <-ch:
			return v, true
		case <-timeout:
			c.Fired()
			c.expire()
			var zero T
			return zero, false
		case <-c.changed:
		}
	}
}

// ExpiredOrNever returns a channel that delivers at the deadline now in
// force, or never when there is none; for a single wait.
func (c *Clock) ExpiredOrNever() <-chan time.Time {
	timeout, passed := c.Expired()
	if passed {
		ch := make(chan time.Time, 1)
		ch <- time.Now()
		return ch
	}
	return timeout
}

// OverGrace reports whether the grace has begun and ended.
func (c *Clock) OverGrace() bool {
	return !c.graceEnd.IsZero() && !time.Now().Before(c.graceEnd)
}

// StopContext returns the context of a stop: until the budget has passed,
// the shutdown's BudgetContext, whose deadline SetBudget moves; in the
// grace, one that ends with the grace.
func (c *Clock) StopContext() (context.Context, context.CancelFunc) {
	if c.graceEnd.IsZero() {
		return c.ctx, func() {}
	}
	return context.WithDeadline(context.Background(), c.graceEnd)
}

// expire starts the grace, once.
func (c *Clock) expire() {
	if c.graceEnd.IsZero() {
		c.graceEnd = time.Now().Add(min(c.owner.Budget()/10, timing.MaxStopGrace))
		c.ctx.Expire() // the stops' context ends before any stop is named timed out
		c.owner.BudgetPassed()
	}
}

// Stop releases the clock's timer and its BudgetContext's, once the
// shutdown has completed.
func (c *Clock) Stop() {
	c.ctx.Release()
	if c.timer != nil {
		c.timer.Stop()
	}
}
