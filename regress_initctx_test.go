package servicemesh

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type r3CtxInit struct{ returned atomic.Bool }

func (s *r3CtxInit) Name() string { return "ctxinit" }
func (s *r3CtxInit) Init(Mesh)    {}
func (s *r3CtxInit) InitContext(ctx context.Context, _ Mesh) error {
	<-ctx.Done()
	s.returned.Store(true)
	return ctx.Err()
}

type r3FailWatcher struct{ in, out atomic.Int32 }

func (s *r3FailWatcher) Name() string { return "failwatcher" }
func (s *r3FailWatcher) Init(Mesh)    {}
func (s *r3FailWatcher) OnServiceFailed(Service, error) {
	s.in.Add(1)
	time.Sleep(200 * time.Millisecond)
	s.out.Add(1)
}

// An InitContext ended by the shutdown returns an error; fail() tells
// EventServiceFailed on the lifecycle goroutine, which is not counted in
// busy while "in Init": the shutdown completes while the handlers still
// run, though that Init has returned.
func TestInitContextFailureIsToldBeforeShutdownCompletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		w := &r3FailWatcher{}
		m.Add(w).Wait()
		s := &r3CtxInit{}
		m.Add(s)
		time.Sleep(10 * time.Millisecond) // InitContext is waiting on its ctx
		m.Shutdown().Wait()
		returned, in, out := s.returned.Load(), w.in.Load(), w.out.Load()
		time.Sleep(time.Second) // let the handler end, so the bubble can
		if returned && in != out {
			t.Errorf("shutdown completed while an EventServiceFailed handler for a returned InitContext still ran (in=%d out=%d)", in, out)
		}
	})
}
