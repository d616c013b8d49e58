package servicemesh

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// loopCtx runs its loop inside Init until OnShutdownContext tells it to end.
type r3LoopCtx struct {
	quit     chan struct{}
	returned atomic.Bool
}

func (s *r3LoopCtx) Name() string { return "loopctx" }
func (s *r3LoopCtx) Init(Mesh) {
	<-s.quit
	time.Sleep(10 * time.Millisecond) // tidy up
	s.returned.Store(true)
}
func (s *r3LoopCtx) OnShutdownContext(context.Context) error { close(s.quit); return nil }

type r3Loop struct {
	quit     chan struct{}
	returned atomic.Bool
}

func (s *r3Loop) Name() string { return "loop" }
func (s *r3Loop) Init(Mesh) {
	<-s.quit
	time.Sleep(10 * time.Millisecond)
	s.returned.Store(true)
}
func (s *r3Loop) OnShutdown() { close(s.quit) }

// settleInits waits for the Inits of stopped services that implement
// HasGracefulShutdown only: a service told to end its Init by
// OnShutdownContext is left behind (and named at Warn) although it was
// told.
func TestSettleInitsHonoursOnShutdownContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		legacy := &r3Loop{quit: make(chan struct{})}
		m.Add(legacy)
		time.Sleep(time.Millisecond)
		m.Shutdown().Wait()
		if !legacy.returned.Load() {
			t.Fatalf("legacy: Init not settled")
		}
		synctest.Wait()
	})
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &r3LoopCtx{quit: make(chan struct{})}
		m.Add(s)
		time.Sleep(time.Millisecond)
		m.Shutdown().Wait()
		if !s.returned.Load() {
			t.Errorf("the Init of a service stopped by OnShutdownContext was not given initSettle to return")
		}
		time.Sleep(time.Second) // let it end, so the bubble can
	})
}
