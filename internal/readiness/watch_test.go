package readiness

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
)

// Backoff starts at ReadyPollMin, doubles up to ReadyPollMax and stays
// there; Reset starts it over.
func TestBackoffDoublesUpToItsMaximum(t *testing.T) {
	var b Backoff
	var got []time.Duration
	for range 9 {
		got = append(got, b.Next())
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{ms, 2 * ms, 4 * ms, 8 * ms, 16 * ms, 32 * ms, 50 * ms, 50 * ms, 50 * ms}, got)
	assert.Equal(t, timing.ReadyPollMin, got[0])
	assert.Equal(t, timing.ReadyPollMax, got[len(got)-1])
	b.Reset()
	assert.Equal(t, timing.ReadyPollMin, b.Next())
	assert.Equal(t, 2*timing.ReadyPollMin, b.Next())
}

// Watch looks at once, then after each wait of the backoff, until done
// says so; a Wake has it look at once and back off from the start again;
// it returns when down is closed.
func TestWatchBacksOffAndWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w Watcher
		assert.True(t, w.Start())
		assert.False(t, w.Start(), "started once")
		w.Wake() // before Watch: one wake-up waits for it
		w.Wake()

		start := time.Now()
		var mu sync.Mutex
		var looks []time.Duration
		finish := false
		down := make(chan struct{})
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			w.Watch(down, func() bool {
				mu.Lock()
				defer mu.Unlock()
				looks = append(looks, time.Since(start))
				return finish
			})
		}()
		seen := func() []time.Duration {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Duration(nil), looks...)
		}
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, 0}, seen(), "the wake-up before Watch: a second look at once")
		time.Sleep(ms + 2*ms + 4*ms - time.Nanosecond) // 1, 3, 7 ms after the second look
		assert.Equal(t, []time.Duration{0, 0, ms, 3 * ms}, seen())
		time.Sleep(time.Nanosecond)
		assert.Equal(t, []time.Duration{0, 0, ms, 3 * ms, 7 * ms}, seen())
		w.Wake()
		assert.Len(t, seen(), 6, "woken: a look at once")
		time.Sleep(ms)
		assert.Equal(t, 8*ms, seen()[6], "then from ReadyPollMin again")

		mu.Lock()
		finish = true
		mu.Unlock()
		time.Sleep(2 * ms)
		<-ended
		assert.Len(t, seen(), 8, "done: no more looks")

		// A watcher whose mesh shuts down ends without another look.
		var w2 Watcher
		n := 0
		close(down)
		w2.Watch(down, func() bool { n++; return false })
		assert.Equal(t, 1, n)
	})
}

// Blocker remembers one service: Blocks asks only about it, keeps it while
// it blocks, and forgets it once it does not, unless another was set
// meanwhile.
func TestBlockerIsLookedAtFirst(t *testing.T) {
	type rec struct{ name string }
	var b Blocker[rec]
	asked := 0
	assert.False(t, b.Blocks(func(*rec) bool { asked++; return true }), "none remembered")
	assert.Zero(t, asked)

	x, y := &rec{"x"}, &rec{"y"}
	b.Set(x)
	var got *rec
	assert.True(t, b.Blocks(func(r *rec) bool { got = r; return true }))
	assert.Same(t, x, got)
	assert.True(t, b.Blocks(func(*rec) bool { return true }), "still remembered")
	assert.False(t, b.Blocks(func(*rec) bool { return false }))
	assert.False(t, b.Blocks(func(*rec) bool { asked++; return true }), "forgotten")
	assert.Zero(t, asked)

	b.Set(x)
	assert.False(t, b.Blocks(func(*rec) bool { b.Set(y); return false }))
	assert.True(t, b.Blocks(func(r *rec) bool { got = r; return true }), "the one set meanwhile is kept")
	assert.Same(t, y, got)
}
