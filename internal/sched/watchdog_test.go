package sched

import (
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guards: the scheduler's watchdog is not armed once the scheduler's
// goroutine has ended (it is stopped when the scheduler goes idle; a tick
// that could not be stopped still runs the mesh's code, Stalled). The mesh
// waits for that goroutine (BusyDone) before Shutdown().Wait() returns.
func TestWatchdogDisarmedOnceTheSchedulerEnded(t *testing.T) {
	armed := 0
	for range 30 {
		h := newHarness()
		for i := range 10 {
			h.add(&probe{name: string(rune('a' + i)), ready: never})
		}
		time.Sleep(3 * time.Millisecond) // a few polls
		if !h.shutdown(t, 3*time.Second) {
			t.Fatal("the waits did not end")
		}
		h.s.mu.Lock()
		if h.s.ticking {
			armed++
		}
		h.s.mu.Unlock()
	}
	if armed > 0 {
		t.Errorf("the scheduler's watchdog tick was still armed right after its goroutine ended in %d of 30 shutdowns", armed)
	}
}

// A resolver that does not return holds up its own service only: after
// timing.ResolverStallTicks ticks the scheduler goes on on a new goroutine,
// and the stuck attempt, once it returns, goes on as any other.
func TestStuckResolverIsLeftBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		release := make(chan struct{})
		var stuck atomic.Bool
		a := &probe{name: "a", ready: never, block: func(polled bool) {
			if polled && stuck.CompareAndSwap(false, true) {
				<-release
			}
		}}
		ready := new(atomic.Bool)
		b := &probe{name: "b", ready: ready.Load}
		h.add(a)
		h.add(b)
		for !stuck.Load() {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(timing.ResolverStallTicks+2) * timing.SchedulerTick)
		synctest.Wait()
		assert.EqualValues(t, 1, h.stalls.Load(), "Stalled told once")

		set := time.Now()
		ready.Store(true)
		for {
			b.mu.Lock()
			ended := !b.ended.IsZero()
			b.mu.Unlock()
			if ended {
				break
			}
			time.Sleep(time.Millisecond)
		}
		assert.LessOrEqual(t, b.ended.Sub(set), timing.MaxPoll, "b is polled while a's resolver is stuck")

		close(release)
		require.True(t, h.shutdown(t, time.Second))
		assert.ErrorIs(t, a.fail.Err, errCanceled)
		assert.Zero(t, a.overlaps.Load(), "two attempts of a at once")
	})
}

// Never two attempts of one service at once, however the wake-ups fall:
// its own, broadcasts, QueueAll, polls.
func TestNeverTwoAttemptsAtOnce(t *testing.T) {
	h := newHarness()
	var x Watchers[*probe]
	probes := make([]*probe, 20)
	for i := range probes {
		probes[i] = &probe{name: fmt.Sprint(i), ready: never, holds: []*Watchers[*probe]{&x},
			block: func(bool) { time.Sleep(50 * time.Microsecond) }}
		h.add(probes[i])
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		h.s.Initialized(&x)
		h.s.Broadcast()
		h.s.QueueAll()
		time.Sleep(20 * time.Microsecond)
	}
	require.True(t, h.shutdown(t, 3*time.Second))
	for _, p := range probes {
		assert.Zero(t, p.overlaps.Load(), "%s: attempts overlapped", p.name)
		assert.Greater(t, len(p.attemptsSince(time.Time{})), 1, "%s: attempted again", p.name)
		assert.ErrorIs(t, p.fail.Err, errCanceled)
	}
}
