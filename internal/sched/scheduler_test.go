package sched

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A waiter that holds a service is attempted at once when that service is
// initialized, not at its next poll.
func TestInitializedWakesTheHoldersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		var x Watchers[*probe]
		ready := new(atomic.Bool)
		holder := &probe{name: "holder", ready: ready.Load, holds: []*Watchers[*probe]{&x}}
		h.add(holder)
		time.Sleep(10 * time.Second) // polling at its slowest
		synctest.Wait()

		set := time.Now()
		ready.Store(true)
		h.s.Initialized(&x)
		synctest.Wait()
		holder.mu.Lock()
		assert.False(t, holder.ended.IsZero(), "not woken")
		assert.Equal(t, set, holder.ended, "woken later than at once")
		holder.mu.Unlock()
		require.True(t, h.shutdown(t, time.Second))
	})
}

// A change of the mesh re-runs every waiter within timing.BroadcastDelay.
func TestBroadcastReRunsEveryWaiterSoon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		ready := new(atomic.Bool)
		p := &probe{name: "p", ready: ready.Load}
		h.add(p)
		time.Sleep(10 * time.Second)
		synctest.Wait()

		set := time.Now()
		ready.Store(true)
		h.s.Broadcast()
		h.wg.Wait()
		assert.LessOrEqual(t, p.ended.Sub(set), timing.BroadcastDelay)
		require.True(t, h.shutdown(t, time.Second))
	})
}

// Removed cancels a wait under way and says when it has ended; a wait that
// had not begun is canceled before its first attempt.
func TestRemovedCancelsTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		p := &probe{name: "p", ready: never}
		w := h.add(p)
		synctest.Wait()
		p.gone.Store(true)
		resolving := h.s.Removed(w, new(Watchers[*probe]))
		require.NotNil(t, resolving)
		<-resolving
		h.wg.Wait()
		require.NotNil(t, p.fail)
		assert.ErrorIs(t, p.fail.Err, errCanceled)
		assert.Equal(t, "removed", p.fail.Reason)
		assert.Nil(t, h.s.Removed(w, new(Watchers[*probe])), "no wait under way any more")

		late := &probe{name: "late", ready: never}
		late.gone.Store(true)
		h.add(late)
		h.wg.Wait()
		assert.Empty(t, late.attemptsSince(time.Time{}), "a removed service's resolver is never called")
		assert.ErrorIs(t, late.fail.Err, errCanceled)
		assert.Zero(t, h.s.Waiting())
	})
}

// A timed-out wait fails with what was still waiting, itself included;
// a slow one is reported once.
func TestTimeoutAndSlowWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.warnDelay.Store(int64(time.Second))
		h.s.SetTimeout(3 * time.Second)
		a := &probe{name: "a", ready: never}
		b := &probe{name: "b", ready: never}
		start := time.Now()
		h.add(a)
		h.add(b)
		h.wg.Wait()
		assert.EqualValues(t, 2, h.slow.Load(), "each slow wait reported once")
		for _, p := range []*probe{a, b} {
			require.NotNil(t, p.fail)
			assert.ErrorIs(t, p.fail.Err, errTimeout)
			assert.Equal(t, p.name, p.fail.Service)
			assert.Contains(t, p.fail.Unresolved, p.name)
			assert.Equal(t, 3*time.Second, p.ended.Sub(start), "ended at its timeout")
			for _, at := range p.attemptsSince(time.Time{}) {
				assert.Less(t, at.Sub(start), 3*time.Second, "attempted after its timeout")
			}
		}
		synctest.Wait()
		assert.Zero(t, h.busy.Load(), "the scheduler's goroutine ended with the last wait")
	})
}
