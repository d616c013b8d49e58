package servicemesh

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctxHook's InitContext and OnShutdownContext do what the case asks.
type ctxHook struct {
	name         string
	init, stop   string // "ok", "panic", "error", "ignore" (block, ignoring the context)
	release      chan struct{}
	inInit, inSt chan struct{}
}

func (h *ctxHook) Name() string { return h.name }
func (h *ctxHook) Init(Mesh)    {}
func (h *ctxHook) OnShutdown()  {}
func (h *ctxHook) act(what string, in chan struct{}) error {
	close(in)
	switch what {
	case "panic":
		panic(what)
	case "error":
		return errors.New(h.name + " failed")
	case "ignore":
		<-h.release
	}
	return nil
}
func (h *ctxHook) InitContext(context.Context, Mesh) error { return h.act(h.init, h.inInit) }
func (h *ctxHook) OnShutdownContext(context.Context) error { return h.act(h.stop, h.inSt) }

// Context hooks that panic, fail, or ignore their context: each is reported
// once, with the right step, and the run still ends within its budget.
func TestContextHookFaults(t *testing.T) {
	tests := []struct {
		init, stop string
		op         string
		is         error // nil: any error
		stopped    bool  // OnShutdownContext runs
	}{
		{"panic", "ok", "init", ErrServicePanicked, false},
		{"error", "ok", "init", nil, false},
		{"ignore", "ok", "init", ErrStartTimeout, false},
		{"ok", "panic", "stop", ErrServicePanicked, true},
		{"ok", "error", "stop", nil, true},
		{"ok", "ignore", "stop", ErrStopTimeout, true},
	}
	for _, tc := range tests {
		t.Run(tc.init+"/"+tc.stop, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				require.True(t, SetStartTimeout(m, time.Second))
				require.True(t, SetShutdownTimeout(m, 2*time.Second))
				h := &ctxHook{name: "h", init: tc.init, stop: tc.stop, release: make(chan struct{}),
					inInit: make(chan struct{}), inSt: make(chan struct{})}
				m.Add(h).Wait()
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				start := time.Now()
				err := RunContext(ctx, m)
				assert.LessOrEqual(t, time.Since(start), 2*time.Second+timing.MaxStopGrace)
				var se *ServiceError
				require.True(t, errors.As(err, &se), "%v", err)
				assert.Equal(t, tc.op, se.Op)
				if tc.is != nil {
					assert.ErrorIs(t, err, tc.is)
				}
				assert.Equal(t, tc.stopped, isClosed(h.inSt), "OnShutdownContext ran")
				close(h.release)
			})
		})
	}
}

// grapher calls Graph from its Init and its OnShutdown.
type grapher struct {
	mesh       Mesh
	atInit     DependencyGraph
	atShutdown DependencyGraph
}

func (g *grapher) Name() string { return "grapher" }
func (g *grapher) Init(m Mesh) {
	g.mesh = m
	g.atInit = Graph(m)
}
func (g *grapher) OnShutdown() { g.atShutdown = Graph(g.mesh) }

func TestGraphFromCallbacksAndDuringShutdown(t *testing.T) {
	m := quietMesh(t)
	m.Add(&plainSvc{name: "p"}).Wait()
	g := &grapher{}
	m.Add(g).Wait()
	m.Shutdown().Wait()
	require.Len(t, g.atInit.Nodes, 2)
	assert.Equal(t, StateStarting, g.atInit.Nodes[1].State, "its own Init is running")
	require.Len(t, g.atShutdown.Nodes, 2)
	assert.Equal(t, StateStopping, g.atShutdown.Nodes[1].State)
	assert.NotEmpty(t, g.atShutdown.Edges, "it holds the mesh")
}

// A service removed while it stops: its stop goes on, the shutdown ends.
func TestRemovedWhileStopping(t *testing.T) {
	m := quietMesh(t)
	in := make(chan struct{})
	release := make(chan struct{})
	s := &named{name: "s", stop: func() {
		close(in)
		<-release
	}}
	m.Add(s).Wait()
	done := m.Shutdown()
	<-in
	m.Remove(s).Wait()
	assert.NotContains(t, m.Services(), Service(s))
	close(release)
	done.Wait()
	assert.NotContains(t, Graph(m).Nodes, GraphNode{Name: "s"})
}
