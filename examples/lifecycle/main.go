// Command lifecycle prints the lifecycle events of a mesh as a listener
// service sees them.
//
// The listener implements the servicemesh.EventHandler* interfaces; the
// mesh binds them when the listener is added, before its own lifecycle
// starts, so it sees its own events too. Then:
//
//   - worker has a logger (HasLogger) and dependencies (HasDependencies), so
//     it goes through every step: events bound, logger bound, added,
//     dependency resolution started and ended, Init, initialized;
//   - helper, which worker depends on, has neither;
//   - visitor comes and goes: it is added, then removed;
//   - when the run loop starts, the listener asks the mesh to shut down, and
//     the remaining services stop, worker before the helper it holds (a
//     removed service is not stopped).
//
// Each service is added with Add(...).Wait(), so one finishes its lifecycle
// before the next begins and the output is in a fixed order. The mesh waits
// for every handler of an event before its next step, so a slow handler
// slows the lifecycle it observes.
//
// The program ends by itself. Run it from the repository root with:
//
//	go run ./examples/lifecycle
package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/gravestench/servicemesh"
)

// listener prints every lifecycle event.
type listener struct {
	mesh servicemesh.Mesh
}

func (l *listener) Name() string { return "listener" }

func (l *listener) Init(mesh servicemesh.Mesh) {
	l.mesh = mesh
	fmt.Println("  listener: Init")
}

func (l *listener) OnServiceEventsBound(s servicemesh.Service) { l.print("events bound", s) }
func (l *listener) OnServiceLoggerBound(s servicemesh.Service) { l.print("logger bound", s) }
func (l *listener) OnServiceAdded(s servicemesh.Service)       { l.print("added", s) }
func (l *listener) OnDependencyResolutionStarted(s servicemesh.Service) {
	l.print("dependency resolution started", s)
}
func (l *listener) OnDependencyResolutionEnded(s servicemesh.Service) {
	l.print("dependency resolution ended", s)
}
func (l *listener) OnDependencyResolutionFailed(s servicemesh.Service, err error) {
	l.print("dependency resolution failed ("+err.Error()+")", s)
}
func (l *listener) OnServiceInitialized(s servicemesh.Service) { l.print("initialized", s) }
func (l *listener) OnServiceRemoved(s servicemesh.Service)     { l.print("removed", s) }

func (l *listener) OnServiceMeshRunLoopInitiated() {
	fmt.Println("event: run loop started")
	l.mesh.Shutdown() // the demo is over; this returns at once
}

func (l *listener) OnServiceMeshShutdownInitiated() {
	fmt.Println("event: shutdown started")
}

func (l *listener) print(event string, s servicemesh.Service) {
	fmt.Printf("event: %-30s %s\n", event, s.Name())
}

// Greeter is what the worker needs.
type Greeter interface {
	Greet(name string) string
}

// helper is a plain service, a Greeter, that others can ask for a greeting.
// It has a field: the mesh sees that worker holds it by its address, and
// values of zero size may all share one address, so a service of an empty
// struct type cannot be told apart from the others by what holds it.
type helper struct{ greeting string }

func (h *helper) Name() string             { return "helper" }
func (h *helper) Init(servicemesh.Mesh)    { fmt.Println("  helper: Init") }
func (h *helper) OnShutdown()              { fmt.Println("  helper: OnShutdown") }
func (h *helper) Greet(name string) string { return h.greeting + ", " + name }

// visitor is added and removed again. Remove does not call OnShutdown.
type visitor struct{}

func (v *visitor) Name() string          { return "visitor" }
func (v *visitor) Init(servicemesh.Mesh) { fmt.Println("  visitor: Init") }
func (v *visitor) OnShutdown()           { fmt.Println("  visitor: OnShutdown (never printed)") }

// worker has a logger and needs a helper.
type worker struct {
	logger *slog.Logger
	helper Greeter
}

func (w *worker) Name() string                  { return "worker" }
func (w *worker) SetLogger(logger *slog.Logger) { w.logger = logger }
func (w *worker) Logger() *slog.Logger          { return w.logger }
func (w *worker) DependenciesResolved() bool    { return w.helper != nil }
func (w *worker) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if h, ok := s.(Greeter); ok {
			w.helper = h
		}
	}
}
func (w *worker) Init(servicemesh.Mesh) {
	fmt.Printf("  worker: Init, the helper says %q\n", w.helper.Greet("worker"))
}
func (w *worker) OnShutdown() { fmt.Println("  worker: OnShutdown") }

func main() {
	mesh := servicemesh.New("lifecycle example")
	mesh.SetLogDestination(io.Discard) // only the listener speaks

	mesh.Add(&listener{}).Wait()
	mesh.Add(&helper{greeting: "hello"}).Wait()
	mesh.Add(&worker{}).Wait()
	v := &visitor{}
	mesh.Add(v).Wait()
	mesh.Remove(v).Wait()

	mesh.Run()
	fmt.Println("main: done")
}
