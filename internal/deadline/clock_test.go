package deadline

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testBudget is a budget that a test changes, as SetShutdownTimeout does.
type testBudget struct {
	d       atomic.Int64
	changed chan struct{}
	expired atomic.Int32 // calls of BudgetPassed
}

func newTestBudget(d time.Duration) *testBudget {
	b := &testBudget{changed: make(chan struct{}, 1)}
	b.d.Store(int64(d))
	return b
}

func (b *testBudget) Budget() time.Duration { return time.Duration(b.d.Load()) }
func (b *testBudget) BudgetPassed()         { b.expired.Add(1) }

func (b *testBudget) set(d time.Duration) {
	b.d.Store(int64(d))
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

func (b *testBudget) clock(start time.Time) *Clock {
	c := NewClock(start, b, b.changed)
	return &c
}

// What comes before the deadline is received; the clock reports it.
func TestClockWaitReceivesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTestBudget(time.Second)
		c := b.clock(time.Now())
		defer c.Stop()
		ch := make(chan int, 1)
		go func() { time.Sleep(500 * time.Millisecond); ch <- 7 }()
		v, ok := WaitUntil(c, ch)
		assert.True(t, ok)
		assert.Equal(t, 7, v)
		done := make(chan struct{})
		close(done)
		assert.True(t, c.Wait(done), "ready at once")
		assert.Zero(t, b.expired.Load())
		assert.False(t, c.OverGrace())
	})
}

// At the deadline the wait ends, the budget context has ended,
// BudgetPassed is called once, and the grace (a tenth of the budget)
// begins; after it the clock is over its grace.
func TestClockBudgetThenGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newTestBudget(2 * time.Second)
		c := b.clock(start)
		defer c.Stop()
		assert.Equal(t, start, c.Start())
		assert.Equal(t, 2*time.Second, c.Budget())
		ctx, cancel := c.StopContext()
		cancel()
		assert.Same(t, c.BudgetContext(), ctx, "before the budget passed: the budget context")

		never := make(chan struct{})
		assert.False(t, c.Wait(never))
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.True(t, isDone(c.BudgetContext()), "the stops' context has ended")
		assert.Equal(t, int32(1), b.expired.Load())
		assert.False(t, c.OverGrace())

		ctx, cancel = c.StopContext()
		at, ok := ctx.Deadline()
		assert.True(t, ok)
		assert.Equal(t, start.Add(2*time.Second+200*time.Millisecond), at, "in the grace: a context that ends with it")
		cancel()

		assert.False(t, c.Wait(never))
		assert.Equal(t, 2*time.Second+200*time.Millisecond, time.Since(start))
		assert.True(t, c.OverGrace())
		assert.Equal(t, int32(1), b.expired.Load(), "BudgetPassed once")
		assert.False(t, c.Wait(never), "over: at once")
		assert.Equal(t, 2*time.Second+200*time.Millisecond, time.Since(start))
	})
}

// The grace is a tenth of the budget, at most timing.MaxStopGrace.
func TestClockGraceIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newTestBudget(time.Minute)
		c := b.clock(start)
		defer c.Stop()
		assert.False(t, c.Wait(nil))
		assert.False(t, c.Wait(nil))
		assert.Equal(t, time.Minute+timing.MaxStopGrace, time.Since(start))
	})
}

// Without a budget there is no deadline; a budget set meanwhile applies to
// the wait under way at once, and a budget already passed ends it at once.
func TestClockBudgetChangedMidway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newTestBudget(0)
		c := b.clock(start)
		defer c.Stop()
		timeout, passed := c.Expired()
		assert.Nil(t, timeout)
		assert.False(t, passed)
		assert.Nil(t, c.ExpiredOrNever())

		result := make(chan bool)
		go func() { result <- c.Wait(nil) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-result:
			t.Fatal("no budget: the wait ended")
		default:
		}
		b.set(time.Minute) // passed an hour ago
		assert.False(t, <-result)
		assert.Equal(t, time.Hour, time.Since(start), "ends at once")
		assert.Equal(t, int32(1), b.expired.Load())
	})
}

// A budget removed and set again re-arms the timer, and one moved later
// moves the deadline of the wait under way.
func TestClockBudgetNoneAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newTestBudget(time.Second)
		c := b.clock(start)
		defer c.Stop()
		timeout, passed := c.Expired()
		require.NotNil(t, timeout)
		assert.False(t, passed)

		result := make(chan bool)
		go func() { result <- c.Wait(nil) }()
		time.Sleep(100 * time.Millisecond)
		b.set(0)
		time.Sleep(100 * time.Millisecond)
		b.set(time.Second)
		time.Sleep(100 * time.Millisecond)
		b.set(3 * time.Second)
		assert.False(t, <-result)
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}

// ExpiredOrNever delivers at the deadline now in force, at once when it
// has passed; Fired lets Expired re-arm a timer that delivered.
func TestClockExpiredOrNeverAndFired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newTestBudget(time.Second)
		c := b.clock(start)
		defer c.Stop()
		<-c.ExpiredOrNever()
		assert.Equal(t, time.Second, time.Since(start))
		_, passed := c.Expired()
		assert.True(t, passed)
		select {
		case <-c.ExpiredOrNever():
		default:
			t.Fatal("passed: delivers at once")
		}

		b.set(2 * time.Second)
		timeout, passed := c.Expired()
		require.False(t, passed)
		<-timeout
		c.Fired()
		assert.Equal(t, 2*time.Second, time.Since(start))
		b.set(3 * time.Second)
		timeout, _ = c.Expired()
		<-timeout // re-armed
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}

// Stop releases the timers: the budget context is not ended by its timer
// after it.
func TestClockStopReleasesTheBudgetContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTestBudget(time.Second)
		c := b.clock(time.Now())
		c.Expired()
		c.Stop()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.NoError(t, c.BudgetContext().Err())
		var _ context.Context = c.BudgetContext()
	})
}
