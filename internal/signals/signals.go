// Package signals owns the process's one registration with os/signal for
// the signals a mesh shuts down on (SIGINT and SIGTERM), and the channels of
// the meshes that listen: every caught signal goes to every listening mesh.
//
// It imports nothing of the mesh but internal/timing. The root package's
// signal goroutine (one per mesh, signals.go) is its only caller: Listen
// when the mesh is made, Listener.Release once its shutdown has completed.
// What a mesh does with a signal (shut down, exit on the second) is the
// root's; this package only delivers them, and makes the process's default
// behaviour apply to a signal no mesh was given.
//
// All of its state is guarded by one mutex, never held while a mesh's code
// runs; it is held while a signal is delivered (sends that never block) and
// while a signal no mesh listens for is raised again.
package signals

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// caught are the signals a mesh shuts down on.
var caught = []os.Signal{os.Interrupt, syscall.SIGTERM}

// process is the process's one registration with os/signal for the caught
// signals, kept while any mesh listens and for timing.AnchorLinger after
// the last one stopped. Each listening mesh gets its own channel, which the
// anchor's dispatcher goroutine feeds: every signal goes to every mesh that
// listens when the dispatcher takes it (design §8). Enabling and disabling
// a signal costs the runtime a round trip to a thread of its own; a program
// (or a test suite) that makes mesh after mesh pays it once rather than per
// mesh.
//
// A mesh that stops listening takes its channel out under the anchor's
// lock, so no signal reaches it after that, and drops what is left in it
// (the root's signal goroutine logs it): the other meshes were given the
// same signals, so handing them on would count each twice, and a second
// signal exits 1.
//
// A signal that arrives while no mesh listens at all (during the linger, or
// queued as the last mesh stopped) is nobody's: without the linger
// os/signal would be off and the process's default behaviour would apply,
// so the anchor makes it apply. It raises the signal again with os/signal's
// handling off, on the dispatcher's own thread and under the anchor's lock
// so that no mesh starts listening meanwhile, at most timing.AnchorLinger
// late. SIGTERM ends the process, and so does SIGINT unless it was ignored
// when the process started. This is no mesh re-raising a signal: no mesh
// was given it.
var process = anchor{meshes: make(map[chan os.Signal]struct{})}

// meshSignalBuffer is the capacity of each mesh's channel. A mesh acts on
// at most two signals (the first starts its shutdown, the second exits),
// so a channel that is full holds at least two it has not taken yet:
// deliver may then drop a signal without the mesh missing its first or its
// second. It must stay at least 2.
const meshSignalBuffer = 4

// anchor is the type of process; see there.
type anchor struct {
	mu     sync.Mutex                  // guards the fields below
	meshes map[chan os.Signal]struct{} // the channels of listening meshes
	ch     chan os.Signal              // registered with os/signal while on; nil when off
	stop   chan struct{}               // closed to end the dispatcher
	linger *time.Timer                 // ends the linger; nil unless lingering
}

// Listener is one mesh's place among the listeners, from Listen to
// Release. Its zero value listens to nothing.
type Listener struct {
	c chan os.Signal
}

// Listen starts listening for one mesh: from its return on, every SIGINT
// and SIGTERM the process gets reaches the Listener's channel, as it
// reaches every other Listener's. A signal ignored when the process
// started (nohup, a shell's &) is caught too. Safe for concurrent use.
func Listen() Listener {
	return Listener{process.acquire()}
}

// C is the channel the signals arrive on. It holds a few; when it is full
// a signal is dropped for this Listener alone (it has at least two it has
// not taken, all a mesh acts on).
func (l Listener) C() <-chan os.Signal { return l.c }

// Release stops listening and returns the signals left in the channel,
// which this Listener was given but did not take: they are dropped, never
// handed to the other Listeners (which were given each of them too) nor
// raised again. No signal reaches the channel once Release has returned.
// Once the last Listener has released, the registration lingers for
// timing.AnchorLinger, then ends, and the process's default behaviour is
// back. Release must be called once per Listen.
func (l Listener) Release() []os.Signal {
	return process.release(l.c)
}

// acquire starts listening for a mesh and returns its channel.
func (a *anchor) acquire() chan os.Signal {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.linger != nil {
		a.linger.Stop()
		a.linger = nil
	}
	if a.ch == nil {
		a.ch, a.stop = make(chan os.Signal, 8), make(chan struct{})
		signal.Notify(a.ch, caught...)
		go a.dispatch(a.ch, a.stop)
	}
	c := make(chan os.Signal, meshSignalBuffer)
	a.meshes[c] = struct{}{}
	return c
}

// release stops listening for the mesh of channel c and returns the
// signals left in it (see Listener.Release). Once the last mesh has
// stopped the anchor lingers.
func (a *anchor) release(c chan os.Signal) []os.Signal {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.meshes, c)
	var left []os.Signal
	for len(c) > 0 {
		left = append(left, <-c)
	}
	if len(a.meshes) == 0 && a.ch != nil && a.linger == nil {
		a.linger = time.AfterFunc(timing.AnchorLinger, a.end)
	}
	return left
}

// dispatch hands each caught signal on until the anchor is off.
func (a *anchor) dispatch(ch chan os.Signal, stop chan struct{}) {
	for {
		select {
		case sig := <-ch:
			a.mu.Lock()
			a.deliver(sig)
			a.mu.Unlock()
		case <-stop:
			return
		}
	}
}

// deliver gives sig to every listening mesh, or, if none listens, turns the
// anchor off and raises sig again (see process). The caller holds mu.
func (a *anchor) deliver(sig os.Signal) {
	if len(a.meshes) == 0 {
		a.off()
		raise(sig)
		return
	}
	for c := range a.meshes {
		select {
		case c <- sig:
		default:
			// Full: that mesh has at least two signals it has not taken
			// yet, all it can act on (see meshSignalBuffer).
		}
	}
}

// end turns the anchor off once the linger is over, if no mesh listens.
func (a *anchor) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.linger = nil
	if len(a.meshes) == 0 {
		a.off()
	}
}

// off ends the registration with os/signal and the dispatcher, and raises
// again the signals still queued, which no mesh was given. The caller holds
// mu.
func (a *anchor) off() {
	if a.ch == nil {
		return
	}
	signal.Stop(a.ch)
	close(a.stop)
	ch := a.ch
	a.ch, a.stop = nil, nil
	for len(ch) > 0 {
		raise(<-ch)
	}
}
