package servicemesh

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

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

// The scheduler hands an attempt a clock reading taken before the resolver
// runs, so an attempt slower than what is left of the timeout is not found
// timed out when it returns. The next attempt must end the resolution
// before it calls the resolver: no call may begin after the timeout, and a
// call that would resolve it must not initialize the service. "stalled":
// the slow call outlasts the stall threshold and the watchdog hands the
// scheduler on; "slow": it does not.
func TestRegressTimeoutNotJudgedOnStaleClock(t *testing.T) {
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
