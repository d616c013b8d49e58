package servicemesh_test

// Programs written for the original library must build and behave the same.
// The types below are written the way the original's README writes them:
// Ready() on every service (it was part of Service there), a logger set
// through SetLogger, a resolver that loops over the services, OnShutdown,
// and handlers bound by interface.

import (
	"io"
	"log/slog"
	"sync"
	"testing"

	ee "github.com/gravestench/eventemitter"
	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type legacyFoo struct {
	logger *slog.Logger
	mu     sync.Mutex
	calls  []string
}

func (s *legacyFoo) Init(manager servicemesh.Mesh)      { s.record("init") }
func (s *legacyFoo) Name() string                       { return "Foo" }
func (s *legacyFoo) Ready() bool                        { return true }
func (s *legacyFoo) SetLogger(logger *slog.Logger)      { s.logger = logger }
func (s *legacyFoo) Logger() *slog.Logger               { return s.logger }
func (s *legacyFoo) OnShutdown()                        { s.record("shutdown") }
func (s *legacyFoo) OnServiceAdded(servicemesh.Service) {}
func (s *legacyFoo) record(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

type legacyBar struct {
	foo *legacyFoo
}

func (s *legacyBar) Init(manager servicemesh.Mesh) {}
func (s *legacyBar) Name() string                  { return "Bar" }
func (s *legacyBar) Ready() bool                   { return s.foo != nil }
func (s *legacyBar) DependenciesResolved() bool    { return s.foo != nil }
func (s *legacyBar) ResolveDependencies(services []servicemesh.Service) {
	for _, service := range services {
		if candidate, ok := service.(*legacyFoo); ok {
			s.foo = candidate
		}
	}
}

// The original's interfaces, as the original's README spells them, are
// satisfied by these types and by what New returns.
var (
	_ servicemesh.Service                  = &legacyFoo{}
	_ servicemesh.HasLogger                = &legacyFoo{}
	_ servicemesh.HasGracefulShutdown      = &legacyFoo{}
	_ servicemesh.HasDependencies          = &legacyBar{}
	_ servicemesh.HasReadiness             = &legacyBar{}
	_ servicemesh.EventHandlerServiceAdded = &legacyFoo{}
	// Checked without calling New, which would start a mesh (it listens
	// for signals) that no test shuts down.
	_ func(...string) servicemesh.Mesh                            = servicemesh.New
	_ func(servicemesh.Mesh) *ee.EventEmitter                     = servicemesh.Mesh.Events
	_ func(servicemesh.Mesh, servicemesh.Service) *sync.WaitGroup = servicemesh.Mesh.Add
	_ func(servicemesh.Mesh, servicemesh.Service) *sync.WaitGroup = servicemesh.Mesh.Remove
	_ func(servicemesh.Mesh) *sync.WaitGroup                      = servicemesh.Mesh.Shutdown
	_ func(servicemesh.Mesh, io.Writer)                           = servicemesh.Mesh.SetLogDestination
	_ func(servicemesh.Mesh, slog.Handler)                        = servicemesh.Mesh.SetLogHandler
	_ func(servicemesh.Mesh, slog.Level)                          = servicemesh.Mesh.SetLogLevel
)

func TestProgramWrittenForTheOriginal(t *testing.T) {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)
	_, isService := mesh.(servicemesh.Service)
	require.True(t, isService, "the mesh is itself a Service")

	var added []string
	var mu sync.Mutex
	mesh.Events().On(servicemesh.EventServiceAdded, func(args ...any) {
		mu.Lock()
		defer mu.Unlock()
		added = append(added, args[0].(servicemesh.Service).Name())
	})

	foo, bar := &legacyFoo{}, &legacyBar{}
	barDone := mesh.Add(bar)
	mesh.Add(foo).Wait() // blocking call, as the original's README shows
	barDone.Wait()

	require.NotNil(t, foo.Logger(), "SetLogger was called")
	assert.Same(t, foo, bar.foo, "the resolver found its dependency")
	mesh.Shutdown().Wait()

	assert.Equal(t, []string{"init", "shutdown"}, foo.calls)
	mu.Lock()
	assert.ElementsMatch(t, []string{"Foo", "Bar"}, added)
	mu.Unlock()
}
