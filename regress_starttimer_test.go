package servicemesh

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type r3SlowInit struct{ release chan struct{} }

func (s *r3SlowInit) Name() string { return "slowinit" }
func (s *r3SlowInit) Init(Mesh)    { <-s.release }

// The start-timeout timer of a legacy Init left running is not disarmed by
// the shutdown: it fires after the shutdown completed, runs the mesh's
// code on a new goroutine, records a failure and tells EventServiceFailed
// after Shutdown's WaitGroup is done.
func TestStartTimeoutDoesNothingAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		SetStartTimeout(m, 300*time.Millisecond)
		var after atomic.Bool
		var finished atomic.Bool
		m.Events().On(EventServiceFailed, func(args ...any) {
			if finished.Load() && len(args) > 1 && errors.Is(args[1].(error), ErrStartTimeout) {
				after.Store(true)
			}
		})
		s := &r3SlowInit{release: make(chan struct{})}
		m.Add(s)
		time.Sleep(10 * time.Millisecond)
		m.Shutdown().Wait()
		finished.Store(true)
		before := m.failed()
		time.Sleep(time.Second)
		close(s.release)
		synctest.Wait()
		if after.Load() {
			t.Errorf("EventServiceFailed (start timeout) told after the shutdown completed; failures before: %v, after: %v; state %v",
				before, m.failed(), Status(m).Services[0].State)
		}
	})
}
