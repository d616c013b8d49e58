package sched

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Waiters that hold a service are attempted at once when that service is
// initialized, not at their next poll: all but one by the scheduler, and
// the one left by the goroutine that initialized it (HandOff), on that
// goroutine, which resumes it when resolved.
func TestInitializedWakesTheHoldersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		var x Watchers[*probe]
		ready := new(atomic.Bool)
		a := &probe{name: "a", ready: ready.Load, holds: []*Watchers[*probe]{&x}}
		b := &probe{name: "b", ready: ready.Load, holds: []*Watchers[*probe]{&x}}
		h.add(a)
		h.add(b)
		time.Sleep(10 * time.Second) // polling at its slowest
		synctest.Wait()

		set := time.Now()
		ready.Store(true)
		h.s.Initialized(&x)
		synctest.Wait()
		w := h.s.HandOff(&x)
		require.NotNil(t, w, "one holder is left to HandOff, and resolves there")
		h.ended(w, w.Failure())
		for _, p := range []*probe{a, b} {
			p.mu.Lock()
			assert.Equal(t, set, p.ended, "%s woken later than at once", p.name)
			assert.Nil(t, p.fail, p.name)
			p.mu.Unlock()
		}
		assert.Nil(t, h.s.HandOff(&x), "nothing is left to hand off")
		require.True(t, h.shutdown(t, time.Second))
	})
}

// The holder left to HandOff is attempted in the broadcast when nobody
// hands it off (the goroutine that initialized its service is held up).
func TestInitializedWithoutHandOffWakesInTheBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		var x Watchers[*probe]
		ready := new(atomic.Bool)
		p := &probe{name: "p", ready: ready.Load, holds: []*Watchers[*probe]{&x}}
		h.add(p)
		time.Sleep(10 * time.Second)
		synctest.Wait()

		set := time.Now()
		ready.Store(true)
		h.s.Initialized(&x)
		h.wg.Wait()
		assert.LessOrEqual(t, p.ended.Sub(set), timing.BroadcastDelay)
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

// A resolver that ends its goroutine with runtime.Goexit (as t.FailNow
// does) ends its own wait, failed with Config.ErrGoexit and told through
// Resume, wherever it runs: on the goroutine of Await (its first attempt),
// on the scheduler's, or on a hand-off's. The scheduler goes on at once
// with the other waiters, and nothing is left behind.
func TestGoexitInAResolverEndsItsWaitOnly(t *testing.T) {
	for _, where := range []string{"await", "scheduler", "hand-off"} {
		t.Run(where, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness()
				var x Watchers[*probe]
				ready := new(atomic.Bool)
				calls := 0
				bad := &probe{name: "bad", ready: never, block: func(bool) {
					calls++
					if where == "await" || calls > 1 {
						runtime.Goexit()
					}
				}}
				if where == "hand-off" {
					bad.holds = []*Watchers[*probe]{&x}
				}
				other := &probe{name: "other", ready: ready.Load}
				h.add(bad)
				h.add(other)
				synctest.Wait()

				set := time.Now()
				ready.Store(true)
				switch where {
				case "scheduler":
					h.s.Broadcast()
				case "hand-off":
					h.s.Initialized(&x)
					go func() {
						h.s.HandOff(&x)
						t.Error("HandOff returned from a resolver that ended its goroutine")
					}()
				}
				h.wg.Wait() // both waits ended
				require.NotNil(t, bad.fail)
				assert.ErrorIs(t, bad.fail.Err, errGoexit)
				assert.Nil(t, other.fail)
				if where != "await" {
					assert.LessOrEqual(t, other.ended.Sub(set), timing.BroadcastDelay, "the scheduler went on at once")
				}
				assert.Zero(t, h.s.Waiting())
				require.True(t, h.shutdown(t, time.Second))
			})
		})
	}
}
