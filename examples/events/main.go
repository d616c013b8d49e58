// Command events shows two services talking through custom events on the
// mesh's event bus, Mesh.Events().
//
// The kitchen listens for "order placed" with On and answers each order
// with an "order ready" event; the counter listens for "order ready" and
// emits "order placed". Emit returns a *sync.WaitGroup that is done once
// every listener has returned, so Emit(...).Wait() makes the exchange
// synchronous. Listeners run in goroutines of their own, so a service's
// state touched by them needs the usual protection (here a mutex).
//
// The program ends by itself. Run it from the repository root with:
//
//	go run ./examples/events
package main

import (
	"fmt"
	"sync"

	"github.com/gravestench/servicemesh"
)

// Names of the custom events. Any string will do; keep them apart from the
// mesh's own event names.
const (
	eventOrderPlaced = "example: order placed"
	eventOrderReady  = "example: order ready"
)

// kitchen cooks what the counter orders.
type kitchen struct{}

func (k *kitchen) Name() string { return "kitchen" }

func (k *kitchen) Init(mesh servicemesh.Mesh) {
	events := mesh.Events()
	events.On(eventOrderPlaced, func(args ...any) {
		number, _ := args[0].(int)
		dish, _ := args[1].(string)
		fmt.Printf("kitchen: cooking order %d (%s)\n", number, dish)
		// Waiting here delays the "order placed" emitter's Wait until
		// the counter has handled "order ready": the output stays in
		// order.
		events.Emit(eventOrderReady, number).Wait()
	})
}

// counter takes orders and collects them when they are ready.
type counter struct {
	mu    sync.Mutex
	ready []int
}

func (c *counter) Name() string { return "counter" }

func (c *counter) Init(mesh servicemesh.Mesh) {
	mesh.Events().On(eventOrderReady, func(args ...any) {
		number, _ := args[0].(int)
		c.mu.Lock()
		c.ready = append(c.ready, number)
		c.mu.Unlock()
		fmt.Printf("counter: order %d is ready\n", number)
	})
}

// serve places the orders, one at a time, and reports what came back.
func (c *counter) serve(mesh servicemesh.Mesh, dishes ...string) {
	for i, dish := range dishes {
		fmt.Printf("counter: placing order %d (%s)\n", i+1, dish)
		mesh.Events().Emit(eventOrderPlaced, i+1, dish).Wait()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Printf("counter: %d of %d orders served\n", len(c.ready), len(dishes))
}

func main() {
	mesh := servicemesh.New("events example")

	// Add returns a WaitGroup that is done once the service's Init has
	// returned: after these two Waits both listeners are registered.
	k, c := &kitchen{}, &counter{}
	mesh.Add(k).Wait()
	mesh.Add(c).Wait()

	c.serve(mesh, "soup", "noodles", "tea")

	mesh.Shutdown().Wait()
	fmt.Println("main: done")
}
