package deadline

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func isDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// The deadline is the shutdown's start plus the budget, and SetBudget moves
// it, for a context already handed out too; zero or less removes it.
func TestBudgetContextDeadlineFollowsTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := NewBudgetContext(start, time.Second)
		at, ok := b.Deadline()
		assert.True(t, ok)
		assert.Equal(t, start.Add(time.Second), at)

		b.SetBudget(3 * time.Second)
		at, ok = b.Deadline()
		assert.True(t, ok)
		assert.Equal(t, start.Add(3*time.Second), at)

		b.SetBudget(0)
		_, ok = b.Deadline()
		assert.False(t, ok, "no budget: no deadline")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.False(t, isDone(b), "no budget: never ends")
		assert.NoError(t, b.Err())

		b.SetBudget(-time.Second)
		_, ok = b.Deadline()
		assert.False(t, ok, "a negative budget is none")
		b.Release()
	})
}

// It ends with DeadlineExceeded when the budget runs out, on its own timer.
func TestBudgetContextEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := NewBudgetContext(start, time.Second)
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		assert.False(t, isDone(b))
		assert.NoError(t, b.Err())
		<-b.Done()
		assert.Equal(t, start.Add(time.Second), time.Now())
		assert.ErrorIs(t, b.Err(), context.DeadlineExceeded)

		b.SetBudget(time.Hour) // once ended, nothing moves it
		at, _ := b.Deadline()
		assert.Equal(t, start.Add(time.Second), at)
		assert.ErrorIs(t, b.Err(), context.DeadlineExceeded)
	})
}

// A budget set to a deadline already passed ends it at once.
func TestBudgetContextSetToAPassedDeadlineEndsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudgetContext(time.Now(), 0)
		time.Sleep(time.Minute)
		b.SetBudget(time.Second)
		assert.True(t, isDone(b))
		assert.ErrorIs(t, b.Err(), context.DeadlineExceeded)

		passed := NewBudgetContext(time.Now().Add(-time.Minute), time.Second)
		assert.True(t, isDone(passed), "made with its deadline passed")
	})
}

// Expire ends it only once its deadline has passed.
func TestBudgetContextExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudgetContext(time.Now(), time.Second)
		b.Expire()
		assert.False(t, isDone(b), "before the deadline: nothing")
		b.SetBudget(0)
		time.Sleep(2 * time.Second)
		b.Expire()
		assert.False(t, isDone(b), "no deadline: nothing")
		b.SetBudget(time.Second) // passed: ends at once
		assert.True(t, isDone(b))
		b.Expire() // ended: nothing more
		assert.ErrorIs(t, b.Err(), context.DeadlineExceeded)
	})
}

// Release stops the timer: the deadline passing later ends nothing, and
// the deadline stays as it was.
func TestBudgetContextRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := NewBudgetContext(start, time.Second)
		b.Release()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.False(t, isDone(b))
		at, ok := b.Deadline()
		assert.True(t, ok)
		assert.Equal(t, start.Add(time.Second), at)
		b.Release() // twice is fine
	})
}

// AfterFunc runs f on a goroutine of its own once it ended, at once if it
// has; stop unregisters f and reports whether it did.
func TestBudgetContextAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudgetContext(time.Now(), time.Second)
		var ran, stopped atomic.Int32
		b.AfterFunc(func() { ran.Add(1) })
		stop := b.AfterFunc(func() { stopped.Add(1) })
		assert.True(t, stop(), "unregistered")
		assert.False(t, stop(), "already unregistered")
		synctest.Wait()
		assert.Zero(t, ran.Load(), "not before it ended")

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, int32(1), ran.Load())
		assert.Zero(t, stopped.Load())

		late := b.AfterFunc(func() { ran.Add(1) })
		synctest.Wait()
		assert.Equal(t, int32(2), ran.Load(), "ended already: runs at once")
		assert.False(t, late())
	})
}

// A context derived from it ends with it and costs no goroutine: the
// context package registers with AfterFunc.
func TestBudgetContextDerivedContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := NewBudgetContext(start, time.Second)
		ctx, cancel := context.WithCancel(b)
		defer cancel()
		b.mu.Lock()
		registered := len(b.after)
		b.mu.Unlock()
		assert.Equal(t, 1, registered, "derived through AfterFunc")
		at, ok := ctx.Deadline()
		assert.True(t, ok)
		assert.Equal(t, start.Add(time.Second), at)

		b.SetBudget(2 * time.Second)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.False(t, isDone(ctx), "the moved deadline holds for the derived context too")
		time.Sleep(time.Second)
		synctest.Wait()
		require.True(t, isDone(ctx))
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		assert.Nil(t, b.Value("any"))
		assert.Equal(t, "servicemesh.shutdownBudget", b.String())
	})
}
