package servicemesh_test

import (
	"fmt"
	"io"

	"github.com/gravestench/servicemesh"
)

// Clock is what exampleReporter depends on: any service that tells the time.
type Clock interface{ Now() string }

type exampleClock struct{ name, now string }

func (c *exampleClock) Name() string          { return c.name }
func (c *exampleClock) Init(servicemesh.Mesh) {}
func (c *exampleClock) Now() string           { return c.now }

// exampleReporter finds its Clock by interface, whatever service provides it.
type exampleReporter struct{ clock Clock }

func (r *exampleReporter) Name() string { return "reporter" }
func (r *exampleReporter) Init(servicemesh.Mesh) {
	fmt.Println("reporter: it is", r.clock.Now())
}
func (r *exampleReporter) DependenciesResolved() bool { return r.clock != nil }
func (r *exampleReporter) ResolveDependencies(services []servicemesh.Service) {
	r.clock, _ = servicemesh.Find[Clock](services)
}

// Find picks the first service of a type, typically an interface, out of the
// list a resolver is handed.
func ExampleFind() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)

	reporter := mesh.Add(&exampleReporter{}) // waits until a Clock is added
	mesh.Add(&exampleClock{name: "wall clock", now: "noon"})
	reporter.Wait()
	mesh.Shutdown().Wait()

	// Output:
	// reporter: it is noon
}

// FindAll collects every service of a type, in the order they were added.
func ExampleFindAll() {
	mesh := servicemesh.New()
	mesh.SetLogDestination(io.Discard)
	mesh.Add(&exampleClock{name: "utc", now: "12:00"}).Wait()
	mesh.Add(&exampleClock{name: "tokyo", now: "21:00"}).Wait()

	for _, c := range servicemesh.FindAll[Clock](mesh.Services()) {
		fmt.Println(c.(servicemesh.Service).Name(), c.Now())
	}
	mesh.Shutdown().Wait()

	// Output:
	// utc 12:00
	// tokyo 21:00
}
