package servicemesh

import (
	"fmt"
	"sync/atomic"
	"testing"
)

type r3MeshHolder struct{ m Mesh }

func (s *r3MeshHolder) Name() string { return "holder" }
func (s *r3MeshHolder) Init(m Mesh)  { s.m = m }

type r3Plain struct{ name string }

func (s *r3Plain) Name() string { return s.name }
func (s *r3Plain) Init(Mesh)    {}

// graph() reads every entry's initSeq under registry.mu, but beginInit
// writes it on the lifecycle goroutine without that lock: a data race
// between Graph (or Status' /readyz-style callers of it) and any Init that
// begins meanwhile. Run with -race.
func TestGraphDoesNotRaceWithBeginInit(t *testing.T) {
	m := quietMesh(t)
	defer func() { m.Shutdown().Wait() }()
	m.Add(&r3MeshHolder{}).Wait()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = Graph(m)
		}
	}()
	for i := range 200 {
		m.Add(&r3Plain{name: fmt.Sprint("s", i)}).Wait()
	}
	stop.Store(true)
	<-done
}
