// Command minimal is the smallest useful servicemesh program: one service
// that has only the two required methods, Name and Init.
//
// The service does its work in Init and then asks the mesh to shut down, so
// Run returns and the program ends by itself. Run it from the repository
// root with:
//
//	go run ./examples/minimal
package main

import (
	"fmt"

	"github.com/gravestench/servicemesh"
)

// greeter implements servicemesh.Service and nothing else.
type greeter struct{}

// Name identifies the service in log lines and events.
func (g *greeter) Name() string { return "greeter" }

// Init is called once by the mesh, from a goroutine the mesh owns.
func (g *greeter) Init(mesh servicemesh.Mesh) {
	fmt.Println("greeter: hello from Init")

	// A long-running service would keep working, here or in a goroutine of
	// its own. This one is done, so it stops the whole program. Shutdown
	// only starts the shutdown; it is not waited on here, since a wait
	// from inside a callback of the mesh could wait for itself.
	mesh.Shutdown()
}

func main() {
	mesh := servicemesh.New("minimal example")
	mesh.Add(&greeter{})

	// Run blocks until Ctrl+C, SIGTERM or a call to Shutdown, and returns
	// once every service has stopped.
	mesh.Run()
	fmt.Println("main: the mesh has stopped")
}
