package servicemesh_test

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gravestench/servicemesh"
)

// exampleGreeter is the smallest service: Name and Init. Its Init ends the
// program by asking the mesh to shut down.
type exampleGreeter struct{}

func (g *exampleGreeter) Name() string { return "greeter" }

func (g *exampleGreeter) Init(mesh servicemesh.Mesh) {
	fmt.Println("hello from the greeter")
	mesh.Shutdown() // starts the shutdown; never wait on it from Init
}

// A program creates a mesh, adds its services and runs it. Run returns once
// the mesh has shut down, here because the service asked for it; in a real
// program, usually because of Ctrl+C.
func Example() {
	mesh := servicemesh.New("example")
	mesh.SetLogDestination(io.Discard) // keep the mesh's log lines out of the output

	mesh.Add(&exampleGreeter{})
	mesh.Run()
	fmt.Println("the mesh has stopped")

	// Output:
	// hello from the greeter
	// the mesh has stopped
}

// exampleStore records that its Init ran.
type exampleStore struct{ initialized bool }

func (s *exampleStore) Name() string          { return "store" }
func (s *exampleStore) Init(servicemesh.Mesh) { s.initialized = true }

// Add starts the service's lifecycle in the background and returns at once.
// Its WaitGroup is done once the service's Init has returned.
func ExampleMesh_Add() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)
	// Not "defer mesh.Shutdown().Wait()": that would call Shutdown at once.
	defer func() { mesh.Shutdown().Wait() }()

	store := &exampleStore{}
	mesh.Add(store).Wait()
	fmt.Println("store initialized:", store.initialized)

	// Services lists the mesh itself first, then the services in the order
	// they were added.
	for _, s := range mesh.Services() {
		fmt.Println("in the mesh:", s.Name())
	}

	// Output:
	// store initialized: true
	// in the mesh: Service Mesh
	// in the mesh: store
}

// exampleGreetings is what exampleWelcome depends on: any service with a
// greeting will do.
type exampleGreetings interface {
	Greeting() string
}

// exampleEnglish provides greetings.
type exampleEnglish struct{}

func (e *exampleEnglish) Name() string          { return "english" }
func (e *exampleEnglish) Init(servicemesh.Mesh) {}
func (e *exampleEnglish) Greeting() string      { return "hello" }

// exampleWelcome needs an exampleGreetings and finds it by that interface.
type exampleWelcome struct{ greetings exampleGreetings }

func (w *exampleWelcome) Name() string { return "welcome" }

func (w *exampleWelcome) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if g, ok := s.(exampleGreetings); ok {
			w.greetings = g
		}
	}
}

func (w *exampleWelcome) DependenciesResolved() bool { return w.greetings != nil }

func (w *exampleWelcome) Init(servicemesh.Mesh) {
	fmt.Printf("welcome: %s, world\n", w.greetings.Greeting())
}

// A service that implements HasDependencies is handed the services of the
// mesh until it reports its dependencies resolved; only then is its Init
// called. The order of Add does not matter.
func ExampleHasDependencies() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)
	defer func() { mesh.Shutdown().Wait() }()

	welcome := mesh.Add(&exampleWelcome{}) // waits for a greetings service
	mesh.Add(&exampleEnglish{})
	welcome.Wait()

	// Output:
	// welcome: hello, world
}

// exampleNewsletter needs a mailer that never comes.
type exampleNewsletter struct{ mailer interface{ Send(string) } }

func (n *exampleNewsletter) Name() string { return "newsletter" }
func (n *exampleNewsletter) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if m, ok := s.(interface{ Send(string) }); ok {
			n.mailer = m
		}
	}
}
func (n *exampleNewsletter) DependenciesResolved() bool { return n.mailer != nil }
func (n *exampleNewsletter) Init(servicemesh.Mesh)      { fmt.Println("never printed") }

// exampleWatchdog is told about every failed dependency resolution.
type exampleWatchdog struct{}

func (w *exampleWatchdog) Name() string          { return "watchdog" }
func (w *exampleWatchdog) Init(servicemesh.Mesh) {}
func (w *exampleWatchdog) OnDependencyResolutionFailed(svc servicemesh.Service, err error) {
	fmt.Printf("%s was not started; timed out: %v\n",
		svc.Name(), errors.Is(err, servicemesh.ErrDependencyResolutionTimeout))
}

// A service whose dependencies are not resolved in time is never
// initialized; EventDependencyResolutionFailed reports it with an error that
// wraps ErrDependencyResolutionTimeout.
func ExampleMesh_SetDependencyResolutionTimeout() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)
	defer func() { mesh.Shutdown().Wait() }()

	mesh.SetDependencyResolutionTimeout(50 * time.Millisecond)
	mesh.Add(&exampleWatchdog{}).Wait()
	mesh.Add(&exampleNewsletter{}).Wait() // done once the resolution failed

	// Output:
	// newsletter was not started; timed out: true
}

// exampleKitchen listens for a custom event on the mesh's event bus.
type exampleKitchen struct{}

func (k *exampleKitchen) Name() string { return "kitchen" }

func (k *exampleKitchen) Init(mesh servicemesh.Mesh) {
	mesh.Events().On("order placed", func(args ...any) {
		fmt.Println("kitchen: cooking", args[0])
	})
}

// Services can use the mesh's event bus for their own events. Emit runs
// each listener in a goroutine of its own and returns a WaitGroup that is
// done when they have all returned.
func ExampleMesh_Events() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)
	defer func() { mesh.Shutdown().Wait() }()

	mesh.Add(&exampleKitchen{}).Wait() // the listener is registered in Init
	for _, dish := range []string{"soup", "tea"} {
		mesh.Events().Emit("order placed", dish).Wait()
	}

	// Output:
	// kitchen: cooking soup
	// kitchen: cooking tea
}

// exampleLayer is one layer of an application; it needs the layer named
// below, if any, and says when it starts and stops.
type exampleLayer struct {
	name, belowName string
	below           servicemesh.Service // what it uses: kept, so the mesh sees it
}

func (l *exampleLayer) Name() string { return l.name }

func (l *exampleLayer) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if s.Name() == l.belowName {
			l.below = s
		}
	}
}

func (l *exampleLayer) DependenciesResolved() bool { return l.belowName == "" || l.below != nil }
func (l *exampleLayer) Init(servicemesh.Mesh)      { fmt.Println("started", l.name) }
func (l *exampleLayer) OnShutdown()                { fmt.Println("stopped", l.name) }

// Shutdown calls OnShutdown on every service whose Init began, in the order
// of the dependency graph: a service stops before what it holds (here, the
// layer below it, kept in a field). Services that hold nothing of each
// other stop concurrently.
func ExampleMesh_Shutdown() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)

	mesh.Add(&exampleLayer{name: "database"}).Wait()
	mesh.Add(&exampleLayer{name: "cache", belowName: "database"}).Wait()
	mesh.Add(&exampleLayer{name: "api", belowName: "cache"}).Wait()

	mesh.Shutdown().Wait() // done once every OnShutdown has returned

	// Output:
	// started database
	// started cache
	// started api
	// stopped api
	// stopped cache
	// stopped database
}
