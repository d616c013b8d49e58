package servicemesh

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// r3LoopWriter finds the store in Init, keeps it in a field, and runs its
// loop inside Init until OnShutdown ends it; OnShutdown then flushes to the
// store.
type r3LoopWriter struct {
	mu      sync.Mutex
	store   *store // a plain field the mesh can see
	quit    chan struct{}
	looping chan struct{} // closed once it holds the store and loops
	ok      atomic.Bool
}

func (w *r3LoopWriter) Name() string { return "loopwriter" }
func (w *r3LoopWriter) Init(m Mesh) {
	st, _ := Find[*store](m.Services())
	w.mu.Lock()
	w.store = st
	w.mu.Unlock()
	close(w.looping)
	<-w.quit
}
func (w *r3LoopWriter) OnShutdown() {
	close(w.quit)
	time.Sleep(time.Millisecond) // flushing takes a moment
	w.mu.Lock()
	st := w.store
	w.mu.Unlock()
	w.ok.Store(st != nil && st.write())
}

// The edges a service's Init creates are recorded only once Init returns,
// so a shutdown that begins while Init runs (the original's loop-in-Init
// services, or a signal during startup) plans the stop without them,
// although the field is already set and readable: the store is stopped
// concurrently with, and before, the writer that holds it (DESIGN §5: "No
// edge the mesh can see is ever broken — in particular not the one where a
// service found another in Init ... and keeps it in a field").
func TestEdgeFoundInRunningInitOrdersTheStop(t *testing.T) {
	for round := range 10 {
		m := quietMesh(t)
		s := &store{}
		w := &r3LoopWriter{quit: make(chan struct{}), looping: make(chan struct{})}
		m.Add(s).Wait()
		m.Add(w)
		<-w.looping // its Init has found the store and loops
		m.Shutdown().Wait()
		if !w.ok.Load() {
			t.Fatalf("round %d: the writer flushed to a store already stopped", round)
		}
	}
}
