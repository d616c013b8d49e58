package servicemesh

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pcWaiter waits for a dependency that never comes; armed, its next
// ResolveDependencies tells entered who it is and blocks until release.
type pcWaiter struct {
	name    string
	armed   *atomic.Bool
	entered chan<- *pcWaiter
	release <-chan struct{}
}

func (s *pcWaiter) Name() string               { return s.name }
func (s *pcWaiter) Init(Mesh)                  {}
func (s *pcWaiter) DependenciesResolved() bool { return false }
func (s *pcWaiter) ResolveDependencies([]Service) {
	if s.armed.CompareAndSwap(true, false) {
		s.entered <- s
		<-s.release
	}
}

// Guards: a poll queued when its service is removed, or at shutdown, ends.
//
// A poll already queued when its service is removed, or the mesh shuts
// down, must become an attempt that sees the cancellation: polls do not look
// for one themselves. Two waiters poll at the same tick; while the first
// one's poll is held, the other, queued behind it, is removed.
func TestRemoveOrShutdownEndsAQueuedPoll(t *testing.T) {
	for _, how := range []string{"remove", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := New("pollcancel").(*mesh)
				m.SetDependencyResolutionTimeout(0) // only a cancellation ends them
				armed := new(atomic.Bool)
				entered := make(chan *pcWaiter, 1)
				release := make(chan struct{})
				a := &pcWaiter{name: "a", armed: armed, entered: entered, release: release}
				b := &pcWaiter{name: "b", armed: armed, entered: entered, release: release}
				wgs := map[*pcWaiter]*sync.WaitGroup{a: m.Add(a), b: m.Add(b)}
				synctest.Wait() // both waiting, their next polls due together

				armed.Store(true)
				first := <-entered // the first poll of the tick is held
				other := a
				if first == a {
					other = b
				}
				var done *sync.WaitGroup
				if how == "remove" {
					done = m.Remove(other)
				} else {
					done = m.Shutdown()
				}
				close(release)

				require.True(t, waitDone(done, time.Second), "the cancellation of a queued poll was lost: %s of %s not done after 1s", how, other.name)
				m.Shutdown().Wait()
				for s, wg := range wgs {
					assert.True(t, waitDone(wg, time.Second), "Add(%s) not done after shutdown", s.name)
				}
			})
		})
	}
}

// waitDone reports whether wg is done within d.
func waitDone(wg *sync.WaitGroup, d time.Duration) bool {
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return true
	case <-time.After(d):
		return false
	}
}

// staleLate's dependency appears avail after born; its scheduler's first
// poll (its second call) takes slow, later calls take 9 ms.
type staleLate struct {
	born  time.Time
	avail time.Duration
	slow  time.Duration
	calls atomic.Int64
	mu    sync.Mutex
	began []time.Duration // when each ResolveDependencies began, since born
	inits atomic.Int64
}

func (s *staleLate) Name() string               { return "late" }
func (s *staleLate) Init(Mesh)                  { s.inits.Add(1) }
func (s *staleLate) DependenciesResolved() bool { return time.Since(s.born) >= s.avail }
func (s *staleLate) ResolveDependencies([]Service) {
	s.mu.Lock()
	s.began = append(s.began, time.Since(s.born))
	s.mu.Unlock()
	switch s.calls.Add(1) {
	case 1: // its own goroutine's first attempt
	case 2:
		time.Sleep(s.slow)
	default:
		time.Sleep(9 * time.Millisecond)
	}
}

// Guards: no resolver call begins after the resolution timed out.
//
// The scheduler hands an attempt a clock reading taken before the resolver
// runs, so an attempt slower than what is left of the timeout is not found
// timed out when it returns. The next attempt must end the resolution
// before it calls the resolver: no call may begin after the timeout, and a
// call that would resolve it must not initialize the service. "stalled":
// the slow call outlasts the stall threshold and the watchdog hands the
// scheduler on; "slow": it does not.
func TestResolutionTimeoutNotJudgedOnStaleClock(t *testing.T) {
	for _, c := range []struct {
		name               string
		limit, slow, avail time.Duration
	}{
		{"stalled", 100 * time.Millisecond, 200 * time.Millisecond, 205 * time.Millisecond},
		{"slow", 5 * time.Millisecond, 9 * time.Millisecond, 12 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				m.SetDependencyResolutionTimeout(c.limit)
				SetDependencyWarningDelay(m, 0)
				failed := make(chan error, 1)
				m.Events().On(EventDependencyResolutionFailed, func(args ...any) { failed <- args[1].(error) })
				s := &staleLate{born: time.Now(), avail: c.avail, slow: c.slow}
				m.Add(s).Wait()
				m.Shutdown().Wait()
				s.mu.Lock()
				t.Logf("calls began at %v", s.began)
				for _, at := range s.began {
					assert.Less(t, at, c.limit, "a resolver call began after the resolution had timed out")
				}
				s.mu.Unlock()
				assert.Zero(t, s.inits.Load(), "initialized although its resolution had timed out before the attempt that resolved it began")
				select {
				case err := <-failed:
					assert.ErrorIs(t, err, ErrDependencyResolutionTimeout)
				default:
					assert.Fail(t, "no EventDependencyResolutionFailed")
				}
			})
		})
	}
}
