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

// A poll already queued when its service is removed, or the mesh shuts
// down, must become an attempt that sees the cancellation: polls do not look
// for one themselves. Two waiters poll at the same tick; while the first
// one's poll is held, the other, queued behind it, is removed.
func TestRegressRemoveJoinsQueuedPoll(t *testing.T) {
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
