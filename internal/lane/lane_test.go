package lane

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// job is an item: what it does when run, and its progress.
type job struct {
	name string
	p    Progress
	do   func(j *job)
}

// rig is a lane of jobs that records what it runs, what it released and
// where it handed on.
type rig struct {
	l        Lane[*job]
	mu       sync.Mutex
	ran      []string
	handed   []string
	whys     []Why
	released atomic.Int64
	lockHeld atomic.Bool // a callback found the lane's lock held
}

func newRig() *rig {
	r := &rig{}
	r.l.Init(Funcs[*job]{
		Progress: func(j *job) *Progress { return &j.p },
		Run: func(j *job) {
			r.checkUnlocked()
			r.mu.Lock()
			r.ran = append(r.ran, j.name)
			r.mu.Unlock()
			if j.do != nil {
				j.do(j)
			}
		},
		Release: func() {
			r.checkUnlocked()
			r.released.Add(1)
		},
		HandedOn: func(j *job, why Why) {
			r.checkUnlocked()
			r.mu.Lock()
			r.handed = append(r.handed, j.name)
			r.whys = append(r.whys, why)
			r.mu.Unlock()
		},
	})
	return r
}

// checkUnlocked fails the test if the lane's lock is held while the lane
// calls out: the lock is tried until it is free (another goroutine of the
// lane holds it only for a moment); held by the caller, it never is.
func (r *rig) checkUnlocked() {
	for range 10_000 {
		if r.l.mu.TryLock() {
			r.l.mu.Unlock()
			return
		}
		runtime.Gosched()
	}
	r.lockHeld.Store(true)
}

func (r *rig) add(j *job) { r.l.Add(j) }

func (r *rig) ranNow() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ran...)
}

func (r *rig) handedNow() ([]string, []Why) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.handed...), append([]Why(nil), r.whys...)
}

// Items run in the order added, one after another, and each is released
// once; when the lane is done, its goroutine has ended and no tick is
// armed.
func TestLaneRunsInTheOrderAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var running atomic.Int32
		overlap := false
		for _, n := range []string{"a", "b", "c", "d"} {
			r.add(&job{name: n, do: func(*job) {
				if running.Add(1) > 1 {
					overlap = true
				}
				time.Sleep(100 * time.Microsecond)
				running.Add(-1)
			}})
		}
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"a", "b", "c", "d"}, r.ranNow())
		assert.False(t, overlap, "one at a time")
		assert.Equal(t, int64(4), r.released.Load())
		assert.False(t, r.l.Armed(), "idle: no tick armed")
		handed, _ := r.handedNow()
		assert.Empty(t, handed)
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// An item is released only after the next one was taken: a count of the
// items not released never reaches zero while the lane has work.
func TestLaneReleasesAfterTakingTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var pending atomic.Int64 // like the mesh's busy: one per item added
		zeroWhileWork := false
		r.l.funcs.Release = func() {
			if pending.Add(-1) == 0 && len(r.ranNow()) < 3 {
				zeroWhileWork = true
			}
		}
		gate := make(chan struct{}) // a runs until b and c are queued
		pending.Add(1)
		r.add(&job{name: "a", do: func(*job) { <-gate }})
		for _, n := range []string{"b", "c"} {
			pending.Add(1)
			r.add(&job{name: n})
		}
		close(gate)
		synctest.Wait()
		assert.Zero(t, pending.Load())
		assert.False(t, zeroWhileWork)
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// An item in Init holds the lane for timing.LaneInitTicks ticks, then the
// lane moves on to a new goroutine and the item finishes on its own.
func TestLaneHandsOnAfterInitTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		release := make(chan struct{})
		start := time.Now()
		var bAt time.Duration
		r.add(&job{name: "a", do: func(j *job) {
			j.p.InInit.Store(true)
			<-release
			j.p.InInit.Store(false)
		}})
		r.add(&job{name: "b", do: func(*job) { bAt = time.Since(start) }})
		synctest.Wait()
		assert.Equal(t, []string{"a"}, r.ranNow(), "b waits while a is in Init")
		time.Sleep(timing.LaneTick * (timing.LaneInitTicks - 1))
		synctest.Wait()
		assert.Equal(t, []string{"a"}, r.ranNow(), "not before LaneInitTicks ticks")
		time.Sleep(2 * timing.LaneTick)
		synctest.Wait()
		assert.Equal(t, []string{"a", "b"}, r.ranNow())
		assert.Equal(t, timing.LaneInitTicks*timing.LaneTick, bAt)
		handed, whys := r.handedNow()
		assert.Equal(t, []string{"a"}, handed)
		assert.Equal(t, []Why{WhyInit}, whys)
		assert.Equal(t, int64(1), r.released.Load(), "b released; a is still running")
		close(release)
		synctest.Wait()
		assert.Equal(t, int64(2), r.released.Load(), "a released once over, by its own goroutine")
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// An item in code that may wait, without progress, holds the lane for
// timing.LaneStuckTicks ticks; progress starts the count again.
func TestLaneHandsOnAfterStuckTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		step, release := make(chan struct{}), make(chan struct{})
		r.add(&job{name: "a", do: func(j *job) {
			j.p.Steps.Add(1)
			j.p.InUserCode.Store(true)
			<-step // waits, then makes progress once
			j.p.Steps.Add(1)
			<-release
			j.p.InUserCode.Store(false)
		}})
		r.add(&job{name: "b"})
		synctest.Wait()
		time.Sleep(timing.LaneTick * (timing.LaneStuckTicks - 10))
		step <- struct{}{}
		time.Sleep(timing.LaneTick * (timing.LaneStuckTicks - 10))
		synctest.Wait()
		assert.Equal(t, []string{"a"}, r.ranNow(), "progress counts as not stuck")
		time.Sleep(timing.LaneTick * 11)
		synctest.Wait()
		assert.Equal(t, []string{"a", "b"}, r.ranNow())
		_, whys := r.handedNow()
		assert.Equal(t, []Why{WhyStuck}, whys)
		close(release)
		synctest.Wait()
		assert.Equal(t, int64(2), r.released.Load())
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// An item in code that may wait but that moves on each tick, and one that
// is neither in Init nor in such code, are waited for.
func TestLaneWaitsForASlowItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		r.add(&job{name: "a", do: func(j *job) {
			j.p.InUserCode.Store(true)
			for range 3 * timing.LaneStuckTicks {
				time.Sleep(timing.LaneTick / 2)
				j.p.Steps.Add(1)
			}
			j.p.InUserCode.Store(false)
			time.Sleep(3 * timing.LaneStuckTicks * timing.LaneTick) // in the lane's own code
		}})
		r.add(&job{name: "b"})
		time.Sleep(5 * timing.LaneStuckTicks * timing.LaneTick)
		synctest.Wait()
		assert.Equal(t, []string{"a", "b"}, r.ranNow())
		handed, _ := r.handedNow()
		assert.Empty(t, handed)
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// An item that ends its goroutine with runtime.Goexit is released, and the
// lane goes on at once on a new goroutine.
func TestLaneGoexitHandsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		r.add(&job{name: "a"})
		r.add(&job{name: "exits", do: func(*job) { runtime.Goexit() }})
		r.add(&job{name: "c"})
		synctest.Wait()
		assert.Equal(t, []string{"a", "exits", "c"}, r.ranNow())
		assert.Equal(t, int64(3), r.released.Load())

		r.add(&job{name: "last", do: func(*job) { runtime.Goexit() }})
		synctest.Wait()
		assert.Equal(t, int64(4), r.released.Load(), "also when nothing is queued behind it")
		r.l.mu.Lock()
		assert.False(t, r.l.running, "the lane is idle")
		r.l.mu.Unlock()
		r.add(&job{name: "again"})
		synctest.Wait()
		assert.Equal(t, "again", r.ranNow()[4])
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// After Close no tick is armed and none runs, even with an item stuck on
// the lane; the lane no longer moves on, and Close may be called again.
func TestLaneCloseLeavesNoTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		release := make(chan struct{})
		r.add(&job{name: "a", do: func(j *job) {
			j.p.InInit.Store(true)
			<-release
		}})
		r.add(&job{name: "b"})
		synctest.Wait()
		require.True(t, r.l.Armed())
		r.l.Close()
		assert.False(t, r.l.Armed())
		time.Sleep(10 * timing.LaneInitTicks * timing.LaneTick)
		synctest.Wait()
		assert.Equal(t, []string{"a"}, r.ranNow(), "no watchdog: b waits for a")
		r.add(&job{name: "c"})
		assert.False(t, r.l.Armed(), "Add after Close arms nothing")
		close(release)
		synctest.Wait()
		assert.Equal(t, []string{"a", "b", "c"}, r.ranNow())
		assert.False(t, r.lockHeld.Load(), "the lane's lock was held while it called out")
		r.l.Close()
	})
}

// Without Release and HandedOn, the lane still runs and hands on.
func TestLaneWithoutCallbacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l Lane[int]
		var mu sync.Mutex
		var ran []int
		release := make(chan struct{})
		ps := []*Progress{new(Progress), new(Progress)}
		l.Init(Funcs[int]{Progress: func(i int) *Progress { return ps[i] }, Run: func(i int) {
			mu.Lock()
			ran = append(ran, i)
			mu.Unlock()
			if i == 0 {
				<-release
			}
		}})
		ps[0].InInit.Store(true)
		l.Add(0)
		l.Add(1)
		time.Sleep(2 * timing.LaneInitTicks * timing.LaneTick)
		synctest.Wait()
		mu.Lock()
		assert.Equal(t, []int{0, 1}, ran)
		mu.Unlock()
		close(release)
		l.Close()
	})
}
