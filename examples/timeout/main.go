// Command timeout shows how a dependency that never arrives is reported.
//
// The newsletter service needs a Mailer, and no service in the mesh is one.
// With SetDependencyResolutionTimeout(200 * time.Millisecond) the mesh gives
// up after 200 ms: the newsletter's Init is never called and the event
// servicemesh.EventDependencyResolutionFailed is emitted with the service
// and an error. The watchdog service implements
// servicemesh.EventHandlerDependencyResolutionFailed to receive it, prints
// the error and checks it with errors.Is.
//
// A resolution that fails for good is a failure of the service, like a
// failed Init: the mesh logs it at level ERROR, tells EventServiceFailed and
// shuts down at once, so Run returns. Run returns nothing, and this program
// exits with status 0; a program that should exit non-zero calls
// servicemesh.RunContext instead (see examples/http and examples/failures).
//
// The program ends by itself. Run it from the repository root with:
//
//	go run ./examples/timeout
package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/gravestench/servicemesh"
)

// Mailer sends mail. Nothing in this program provides one.
type Mailer interface {
	Send(to, body string) error
}

// newsletter needs a Mailer.
type newsletter struct {
	mailer Mailer
}

func (n *newsletter) Name() string { return "newsletter" }

func (n *newsletter) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if m, ok := s.(Mailer); ok {
			n.mailer = m
		}
	}
}

func (n *newsletter) DependenciesResolved() bool { return n.mailer != nil }

func (n *newsletter) Init(servicemesh.Mesh) {
	fmt.Println("newsletter: initialized (this never happens)")
}

// watchdog reports failed dependency resolutions.
type watchdog struct{}

func (w *watchdog) Name() string { return "watchdog" }

func (w *watchdog) Init(servicemesh.Mesh) {}

// OnDependencyResolutionFailed is bound automatically because watchdog
// implements servicemesh.EventHandlerDependencyResolutionFailed.
func (w *watchdog) OnDependencyResolutionFailed(svc servicemesh.Service, err error) {
	fmt.Printf("watchdog: %s could not start: %v\n", svc.Name(), err)
	fmt.Printf("watchdog: errors.Is(err, servicemesh.ErrDependencyResolutionTimeout) = %v\n",
		errors.Is(err, servicemesh.ErrDependencyResolutionTimeout))
	// No need to stop the program: the mesh is shutting down already.
}

func main() {
	mesh := servicemesh.New("timeout example")
	mesh.SetDependencyResolutionTimeout(200 * time.Millisecond)

	// The watchdog is added first: its handler is bound when Add returns,
	// before the newsletter can fail.
	mesh.Add(&watchdog{})
	mesh.Add(&newsletter{})

	mesh.Run() // returns once the shutdown the failure began has completed
	fmt.Println("main: done")
}
