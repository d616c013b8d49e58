package servicemesh

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type r3FailLater struct{ release chan struct{} }

func (s *r3FailLater) Name() string { return "faillater" }
func (s *r3FailLater) Init(Mesh)    {}
func (s *r3FailLater) InitContext(context.Context, Mesh) error {
	<-s.release
	return errors.New("could not start")
}

// Once Remove has begun, a lifecycle emits nothing more (DESIGN §3), but
// an Init that fails after its service was removed is still recorded as a
// failure of the run and told through EventServiceFailed, after
// EventServiceRemoved. The start timeout's timer does the same.
func TestNoFailureToldAfterRemoval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		var removed, failedAfter atomic.Bool
		m.Events().On(EventServiceRemoved, func(...any) { removed.Store(true) })
		m.Events().On(EventServiceFailed, func(...any) {
			if removed.Load() {
				failedAfter.Store(true)
			}
		})
		s := &r3FailLater{release: make(chan struct{})}
		m.Add(s)
		time.Sleep(10 * time.Millisecond)
		m.Remove(s).Wait()
		close(s.release)
		time.Sleep(10 * time.Millisecond)
		err := m.failed()
		m.Shutdown().Wait()
		if failedAfter.Load() {
			t.Errorf("EventServiceFailed told about a service after its EventServiceRemoved; RunContext would return %v", err)
		}
	})
}
