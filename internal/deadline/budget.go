// Package deadline keeps the time of a shutdown: its budget, the grace
// after it, and the context handed to the stops, whose deadline follows the
// budget as it changes.
//
// It imports nothing of the mesh but internal/timing. The root package's
// shutdown goroutine makes one Clock per shutdown and is the Clock's only
// user; the Clock's BudgetContext is handed to every OnShutdownContext and
// is safe for concurrent use, and root's SetShutdownTimeout moves its
// deadline. What the Clock needs of the mesh (the budget now and what to
// do when it passes, an Owner; a channel that says the budget changed) it
// is given when made.
package deadline

import (
	"context"
	"sync"
	"time"
)

// BudgetContext is the context handed to every OnShutdownContext before
// the shutdown's budget has passed: it ends, with DeadlineExceeded, when the
// budget runs out, and SetBudget moves its deadline, also for the contexts
// already handed out. Its fields are guarded by mu, which is held for no
// more than a few assignments and never while a function of its caller
// runs.
type BudgetContext struct {
	start time.Time // when the shutdown began
	done  chan struct{}
	mu    sync.Mutex
	at    time.Time   // the deadline; zero: none
	timer *time.Timer // ends it at at; nil when there is none
	err   error       // set, and done closed, once it has ended
	// after holds the functions AfterFunc registered, run once it ends.
	after map[*func()]struct{}
}

// NewBudgetContext returns the context of a shutdown that began at start
// with the budget d (none when zero or less).
func NewBudgetContext(start time.Time, d time.Duration) *BudgetContext {
	b := &BudgetContext{start: start, done: make(chan struct{})}
	b.SetBudget(d)
	return b
}

// SetBudget moves the deadline to start+d, or removes it when d is zero or
// less; a deadline already passed ends the context at once. It does nothing
// once the context has ended. Safe for concurrent use.
func (b *BudgetContext) SetBudget(d time.Duration) {
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
		b.timer = time.AfterFunc(wait, b.Expire)
		return
	}
	b.endLocked()
}

// Expire ends the context if its deadline has passed: its own timer calls
// it, and the shutdown's Clock when the budget passes, so that the stops'
// context has ended before any stop is named timed out. It does nothing
// when the deadline has not passed, there is none, or the context ended.
func (b *BudgetContext) Expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil && !b.at.IsZero() && !time.Now().Before(b.at) {
		b.endLocked()
	}
}

// endLocked ends the context. The caller holds mu.
func (b *BudgetContext) endLocked() {
	b.err = context.DeadlineExceeded
	close(b.done)
	if b.timer != nil { // ended by the shutdown's clock (Clock.expire)
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
func (b *BudgetContext) AfterFunc(f func()) (stop func() bool) {
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

// Release stops its timer, once the shutdown has completed (a timer that
// has fired already still runs Expire). The deadline stays as it was, and
// so does the context if it has not ended.
func (b *BudgetContext) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

// Deadline returns the deadline now in force.
func (b *BudgetContext) Deadline() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.at, !b.at.IsZero()
}

// Done is closed when the budget has run out.
func (b *BudgetContext) Done() <-chan struct{} { return b.done }

// Err is context.DeadlineExceeded once the budget has run out, else nil.
func (b *BudgetContext) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Value returns nil: the context carries no values.
func (b *BudgetContext) Value(any) any { return nil }

// String names it in the way the context package names its own.
func (b *BudgetContext) String() string { return "servicemesh.shutdownBudget" }
