// Command forever shows a program written the way users of the original
// library write theirs: a service that runs its loop inside Init, so that
// its Init never returns, next to an ordinary one.
//
// The clock's Init prints a heartbeat every second until its quit channel
// is closed. The mesh does not wait for an Init like that when it shuts
// down: it calls the clock's OnShutdown in its turn, and OnShutdown closing
// the quit channel is what ends the loop. So one Ctrl+C (or a SIGTERM) stops
// the program at once, with exit status 0, after every service has stopped.
//
// main adds the clock without waiting for it: Add's WaitGroup is done when
// Init returns, which for the clock is never. Waiting for the greeter, added
// after it, is fine, and since services without dependencies begin their
// Init in the order they were added, the clock's Init has begun by then.
//
// Run it from the repository root, then press Ctrl+C:
//
//	go run ./examples/forever
package main

import (
	"fmt"
	"time"

	"github.com/gravestench/servicemesh"
)

// clock runs its heartbeat loop inside Init.
type clock struct {
	quit  chan struct{} // closed by OnShutdown to end the loop
	ended chan struct{} // closed by Init once the loop has ended
}

func newClock() *clock {
	return &clock{quit: make(chan struct{}), ended: make(chan struct{})}
}

func (c *clock) Name() string { return "clock" }

// Init never returns while the program runs: it is the clock's loop.
func (c *clock) Init(servicemesh.Mesh) {
	defer close(c.ended)
	fmt.Println("clock: started, a heartbeat every second")
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for beats := 1; ; beats++ {
		select {
		case <-c.quit:
			fmt.Printf("clock: loop ended after %d heartbeats\n", beats-1)
			return
		case <-ticker.C:
			fmt.Printf("clock: heartbeat %d\n", beats)
		}
	}
}

// OnShutdown tells the loop to end, and waits until it has, so that the
// clock has stopped once the mesh's shutdown is over.
func (c *clock) OnShutdown() {
	close(c.quit)
	<-c.ended
	fmt.Println("clock: stopped")
}

// greeter is an ordinary service: its Init returns at once.
type greeter struct{}

func (*greeter) Name() string          { return "greeter" }
func (*greeter) Init(servicemesh.Mesh) { fmt.Println("greeter: hello") }
func (*greeter) OnShutdown()           { fmt.Println("greeter: stopped") }

// OnServiceMeshRunLoopInitiated runs once Run has started: from then on the
// program is up and waits for a signal.
func (*greeter) OnServiceMeshRunLoopInitiated() {
	fmt.Println("ready: press Ctrl+C or send SIGTERM to stop")
}

func main() {
	mesh := servicemesh.New("forever example")
	mesh.Add(newClock())        // no Wait: the clock's Init never returns
	mesh.Add(&greeter{}).Wait() // the clock's Init has begun by now
	mesh.Run()
	fmt.Println("main: every service has stopped")
}
