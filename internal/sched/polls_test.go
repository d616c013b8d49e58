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

// Beyond pollSlotSize waiting services, polls are spread over phases of the
// grid, each service still polled every timing.MaxPoll, and a dependency that
// appears for all of them at once is still noticed by each within timing.MaxPoll.
func TestPollsSpreadOverPhases(t *testing.T) {
	for _, n := range []int{pollSlotSize / 2, 4 * pollSlotSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness()
				ready := new(atomic.Bool)
				probes := make([]*probe, n)
				for i := range probes {
					probes[i] = &probe{name: fmt.Sprint("waiter ", i), ready: ready.Load}
					h.add(probes[i])
				}
				time.Sleep(time.Second) // fake time: every poll at its ceiling
				synctest.Wait()
				from := time.Now()
				time.Sleep(10 * timing.MaxPoll)
				synctest.Wait()

				times := map[time.Time]int{}
				for _, p := range probes {
					polls := p.attemptsSince(from)
					require.NotEmpty(t, polls, "%s was not polled", p.name)
					for i := 1; i < len(polls); i++ {
						require.Equal(t, timing.MaxPoll, polls[i].Sub(polls[i-1]), "%s: polls %d and %d", p.name, i-1, i)
					}
					times[polls[0]]++
				}
				slots := max(1, min(n/pollSlotSize, maxPollSlots))
				assert.Len(t, times, slots, "distinct times of a poll within one ceiling")
				for at, k := range times {
					assert.LessOrEqual(t, k, 2*pollSlotSize, "services polled at %v", at.Sub(from))
				}

				set := time.Now()
				ready.Store(true)
				h.wg.Wait()
				for _, p := range probes {
					assert.Nil(t, p.fail, "%s", p.name)
					assert.LessOrEqual(t, p.ended.Sub(set), timing.MaxPoll, "%s noticed late", p.name)
				}
				require.True(t, h.shutdown(t, time.Second))
			})
		})
	}
}

// A poll backs off from timing.FirstPoll, doubling, to timing.MaxPoll, each
// wait ending on the grid.
func TestPollBacksOffToItsCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		p := &probe{name: "p", ready: never}
		h.add(p)
		time.Sleep(time.Second)
		warm := len(p.attemptsSince(time.Time{}))
		assert.LessOrEqual(t, warm, 32, "attempts in the first second")
		time.Sleep(10 * time.Second)
		perSecond := float64(len(p.attemptsSince(time.Time{}))-warm) / 10
		assert.InDelta(t, float64(time.Second/timing.MaxPoll), perSecond, 1)
		require.True(t, h.shutdown(t, time.Second))
	})
}

// The poll buckets hand out every waiter due, in order of due time, and
// none that was removed.
func TestPollBucketsTakeWhatIsDue(t *testing.T) {
	var p pollBuckets[int]
	t0 := time.Unix(100, 0)
	ws := make([]*Waiter[int], 6)
	for i := range ws {
		ws[i] = NewWaiter("w", i)
		ws[i].due = t0.Add(time.Duration(i%3) * time.Millisecond).UnixNano()
		p.add(ws[i])
	}
	p.remove(ws[4])
	assert.Equal(t, -1, ws[4].pollIndex)
	p.remove(ws[4]) // not there: nothing happens

	next, ok := p.next()
	require.True(t, ok)
	assert.Equal(t, t0, next)

	var got []int
	p.takeDue(t0.Add(time.Millisecond), func(w *Waiter[int]) { got = append(got, w.Data) })
	assert.ElementsMatch(t, []int{0, 3, 1}, got)
	for _, i := range got {
		assert.Equal(t, -1, ws[i].pollIndex)
	}

	p.remove(ws[2])
	p.remove(ws[5])
	_, ok = p.next()
	assert.False(t, ok, "emptied buckets are not due")
	got = nil
	p.takeDue(t0.Add(time.Hour), func(w *Waiter[int]) { got = append(got, w.Data) })
	assert.Empty(t, got)
}

// Polls end on the grid of the epoch, poll apart; with many waiting, on the
// grid of each waiter's phase.
func TestAlignPollEndsOnTheGrid(t *testing.T) {
	h := newHarness()
	epoch := h.s.cfg.Epoch
	w := NewWaiter("w", (*probe)(nil))
	for _, at := range []time.Duration{0, time.Millisecond, 39 * time.Millisecond, 41 * time.Millisecond} {
		wait := h.s.alignPoll(w, epoch.Add(at), timing.MaxPoll)
		assert.Positive(t, wait)
		assert.LessOrEqual(t, wait, timing.MaxPoll)
		assert.Zero(t, (at+wait)%timing.MaxPoll, "at %v: waits %v", at, wait)
	}

	h.s.nwaiting.Store(4 * pollSlotSize) // four phases
	for seq, phase := range []time.Duration{0, timing.MaxPoll / 4, timing.MaxPoll / 2} {
		w.seq = uint64(seq * pollSlotSize)
		wait := h.s.alignPoll(w, epoch, timing.MaxPoll)
		assert.Zero(t, (wait-phase)%timing.MaxPoll, "phase %d: waits %v", seq, wait)
	}
}
