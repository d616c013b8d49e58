package servicemesh

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type r3Leaf struct{ stopped atomic.Bool }

func (s *r3Leaf) Name() string { return "leaf" }
func (s *r3Leaf) Init(Mesh)    {}
func (s *r3Leaf) OnShutdown()  { s.stopped.Store(true) }

type r3Mid struct {
	leaf    *r3Leaf
	took    time.Duration
	stopped atomic.Bool
}

func (s *r3Mid) Name() string { return "mid" }
func (s *r3Mid) Init(m Mesh)  { s.leaf, _ = Find[*r3Leaf](m.Services()) }
func (s *r3Mid) OnShutdown()  { time.Sleep(s.took); s.stopped.Store(true) }

type r3Top struct {
	mid  *r3Mid
	took time.Duration
}

func (s *r3Top) Name() string { return "top" }
func (s *r3Top) Init(m Mesh)  { s.mid, _ = Find[*r3Mid](m.Services()) }
func (s *r3Top) OnShutdown()  { time.Sleep(s.took) }

// A stop abandoned at the deadline that returns during the grace is
// finished twice: left is lowered twice and the oldest service of the
// chain is never stopped.
func TestAbandonedStopIsFinishedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		SetShutdownTimeout(m, time.Second) // grace: 100 ms
		leaf := &r3Leaf{}
		mid := &r3Mid{took: 50 * time.Millisecond}
		top := &r3Top{took: time.Second + 20*time.Millisecond}
		m.Add(leaf).Wait()
		m.Add(mid).Wait()
		m.Add(top).Wait()
		m.Shutdown().Wait()
		if !mid.stopped.Load() {
			t.Fatalf("mid was not stopped")
		}
		if !leaf.stopped.Load() {
			t.Errorf("leaf's OnShutdown was never called: the abandoned stop of top was finished twice")
		}
		synctest.Wait()
	})
}
