package readiness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
)

// took is a check that passes after d.
func took(d time.Duration) func(context.Context) error {
	return func(context.Context) error {
		time.Sleep(d)
		return nil
	}
}

// Checks run in parallel, at most one in flight per service, and their
// results are used for timing.HealthCacheTTL however often they are asked.
func TestChecksAreParallelCachedAndBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		a := &svc{name: "a", check: took(time.Second)}
		b := &svc{name: "b", check: took(time.Second)}

		start := time.Now()
		_, failing := m.failing(context.Background(), true, a, b)
		assert.False(t, failing)
		assert.Equal(t, time.Second, time.Since(start), "in parallel: one check's time, not two")

		hammer := func() (passed int) {
			var n atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					if _, failing := m.failing(context.Background(), true, a, b); !failing {
						n.Add(1)
					}
				})
			}
			wg.Wait()
			return int(n.Load())
		}
		start = time.Now()
		assert.Equal(t, 50, hammer())
		assert.Zero(t, time.Since(start), "from the cache")
		assert.Equal(t, int32(1), a.calls.Load(), "no call within the cache period")

		time.Sleep(timing.HealthCacheTTL - time.Nanosecond)
		assert.Equal(t, 50, hammer())
		assert.Equal(t, int32(1), a.calls.Load(), "still cached")
		time.Sleep(time.Nanosecond)
		start = time.Now()
		assert.Equal(t, 50, hammer())
		assert.Equal(t, time.Second, time.Since(start), "every caller waited for the one check")
		for _, s := range []*svc{a, b} {
			assert.Equal(t, int32(2), s.calls.Load(), "%s: one call for fifty asks", s.name)
			assert.Equal(t, int32(1), s.most.Load(), "%s: one call in flight at most", s.name)
		}
		assert.Empty(t, m.told(), "passing from the first: nothing to tell")
	})
}

// A hung check fails at its timeout, then at once, without another call,
// until it returns; returning late is a failure (errTimeout) for the cache
// period; its context ends at the timeout.
func TestHungCheckFailsAtItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		release := make(chan struct{})
		deadline := make(chan time.Time, 1)
		s := &svc{name: "hung", check: func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			deadline <- d
			<-release
			return nil
		}}
		start := time.Now()
		_, failing := m.failing(context.Background(), true, s)
		assert.True(t, failing)
		assert.Equal(t, timing.HealthCheckTimeout, time.Since(start))
		began := start
		for range 10 {
			start = time.Now()
			_, failing = m.failing(context.Background(), true, s)
			assert.True(t, failing)
			assert.Zero(t, time.Since(start), "a check past its timeout fails at once")
		}
		assert.Equal(t, int32(1), s.calls.Load(), "no pile-up")

		assert.Equal(t, began.Add(timing.HealthCheckTimeout), <-deadline, "the check's context ends at its timeout")
		close(release)
		synctest.Wait()
		_, failing = m.failing(context.Background(), true, s)
		assert.True(t, failing, "it returned too late: failing for the cache period")
		assert.Equal(t, []string{"hung: " + errTimeout.Error()}, m.told())
		time.Sleep(timing.HealthCacheTTL)
		_, failing = m.failing(context.Background(), true, s)
		assert.False(t, failing)
		assert.Equal(t, int32(2), s.calls.Load())
		synctest.Wait() // Changed is told after the waiters were let go
		assert.Equal(t, []string{"hung: " + errTimeout.Error(), "hung: passing"}, m.told())
	})
}

// A check that panics fails; a panic right after a panic is quiet (logged
// once), and the changes told are the failure and the pass again only.
func TestPanickingCheckIsLoudOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		var panics atomic.Bool
		s := &svc{name: "p", check: func(context.Context) error {
			if panics.Load() {
				panic("boom")
			}
			return nil
		}}
		ask := func() bool {
			time.Sleep(timing.HealthCacheTTL)
			_, failing := m.failing(context.Background(), true, s)
			return !failing
		}
		assert.True(t, ask())
		panics.Store(true)
		for range 3 {
			assert.False(t, ask())
		}
		panics.Store(false)
		assert.True(t, ask())
		panics.Store(true)
		assert.False(t, ask())
		synctest.Wait() // Changed is told after the waiters were let go
		m.mu.Lock()
		loud := s.loud
		m.mu.Unlock()
		assert.Equal(t, []bool{true, true, false, false, false, true}, loud)
		assert.Equal(t, []string{"p: panicked: boom", "p: passing", "p: panicked: boom"}, m.told())
	})
}

// A check's context derives from Hooks.Ctx: when it ends (the shutdown),
// the check is told, and a wait for it ends with the ctx of the caller.
func TestCheckContextsAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		s := &svc{name: "c", check: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan bool)
		go func() {
			_, failing := m.failing(ctx, true, s)
			got <- failing
		}()
		synctest.Wait()
		start := time.Now()
		cancel()
		assert.True(t, <-got, "the caller's ctx ended")
		assert.Zero(t, time.Since(start))
		assert.Equal(t, int32(1), s.inFlight.Load(), "the check runs on")

		m.stopping.Store(true)
		m.cancel()
		m.busy.Wait()
		assert.Zero(t, time.Since(start), "the check returned when Hooks.Ctx ended")
		assert.Equal(t, []string{"c: " + context.Canceled.Error()}, m.told())
	})
}

// Without wait, a check is started but not waited for: the latest result
// answers, and a service never checked fails.
func TestWithoutWaitTheLatestResultAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		var fail atomic.Bool
		s := &svc{name: "s", check: func(context.Context) error {
			time.Sleep(time.Second)
			if fail.Load() {
				return errors.New("down")
			}
			return nil
		}}
		_, failing := m.failing(context.Background(), false, s)
		assert.True(t, failing, "never checked")
		synctest.Wait()
		assert.Equal(t, int32(1), s.calls.Load(), "started, not waited for")
		time.Sleep(time.Second)
		synctest.Wait() // the check, due then too, has returned
		_, failing = m.failing(context.Background(), false, s)
		assert.False(t, failing)
		fail.Store(true)
		time.Sleep(timing.HealthCacheTTL)
		_, failing = m.failing(context.Background(), false, s)
		assert.False(t, failing, "a check under way: the last result, however old")
		time.Sleep(time.Second)
		synctest.Wait() // the check, due then too, has returned
		_, failing = m.failing(context.Background(), false, s)
		assert.True(t, failing)
		assert.Equal(t, int32(2), s.calls.Load())
	})
}

// Guards: one HealthCheck in flight per service, even across its removal
// and a new Add: the probe of a service gone is kept while its check is in
// flight, however often the probes are pruned, and the service added again
// (a new owner, the same key) waits for that check instead of starting one.
func TestOneCheckInFlightAcrossRemoveAndAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		release := make(chan struct{})
		var calls, inFlight, most atomic.Int32
		hangs := func(ctx context.Context) error {
			calls.Add(1)
			if n := inFlight.Add(1); n > most.Load() {
				most.Store(n)
			}
			defer inFlight.Add(-1)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}
		other := &svc{name: "other"}
		first := &svc{name: "s", key: "s", check: hangs}
		_, failing := m.failing(context.Background(), false, first)
		assert.True(t, failing)
		time.Sleep(10 * time.Millisecond)
		first.gone.Store(true) // removed
		m.probes.For([]*svc{other}, true)
		m.probes.For([]*svc{other}, true)
		again := &svc{name: "s", key: "s", check: hangs} // added again
		got := make(chan bool)
		go func() {
			_, failing := m.failing(context.Background(), true, other, again)
			got <- failing
		}()
		synctest.Wait()
		close(release)
		assert.False(t, <-got, "waited for the check in flight")
		assert.Equal(t, int32(1), calls.Load())
		assert.Equal(t, int32(1), most.Load(), "HealthCheck calls of one service in flight at once")

		// Once the check has returned, the probe of a service gone goes.
		p := m.probes.For([]*svc{again}, false)[0]
		again.gone.Store(true)
		m.probes.For([]*svc{other}, true)
		assert.NotSame(t, p, m.probes.For([]*svc{&svc{key: "s"}}, false)[0])
	})
}
