// Command outside shows a dependency that arrives from outside the mesh.
//
// The app service needs a configuration that no service provides: it is
// fetched by a goroutine of main (here simulated with a short timer). The
// app's DependenciesResolved checks for it, and since nothing in the mesh
// changes when it arrives, the mesh notices by polling (within 50 ms) and
// then calls the app's Init.
//
// The program ends by itself. Run it from the repository root with:
//
//	go run ./examples/outside
package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// config is what the app needs before it can start.
type config struct {
	Greeting string
}

// loadedConfig is set, once, by whoever loads the configuration.
var loadedConfig atomic.Pointer[config]

// app waits for the configuration, then uses it.
type app struct {
	cfg *config
}

func (a *app) Name() string { return "app" }

// ResolveDependencies ignores the services: what the app waits for is not
// one of them.
func (a *app) ResolveDependencies([]servicemesh.Service) {
	a.cfg = loadedConfig.Load()
}

func (a *app) DependenciesResolved() bool { return a.cfg != nil }

func (a *app) Init(mesh servicemesh.Mesh) {
	fmt.Printf("app: configuration arrived, greeting is %q\n", a.cfg.Greeting)
	mesh.Shutdown()
}

func main() {
	mesh := servicemesh.New("outside example")
	mesh.Add(&app{})

	start := time.Now()
	time.AfterFunc(150*time.Millisecond, func() {
		fmt.Println("loader: configuration loaded")
		loadedConfig.Store(&config{Greeting: "hello from outside the mesh"})
	})

	mesh.Run()
	fmt.Printf("main: done after %v\n", time.Since(start).Round(10*time.Millisecond))
}
