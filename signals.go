package servicemesh

import (
	"bytes"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Signals: each mesh's signal goroutine, from New until its shutdown has
// completed, and the process-wide anchor that feeds them (guarded by its own
// mutex, never held while service code runs).

// exit ends the process; a variable so that nothing else in the package
// calls os.Exit.
var exit = os.Exit

// caught are the signals a mesh shuts down on.
var caught = []os.Signal{os.Interrupt, syscall.SIGTERM}

// listenForSignals catches SIGINT and SIGTERM from New on, in a goroutine
// the mesh owns until its shutdown has completed.
//
// The first signal starts the shutdown, whether or not Run was called yet:
// a Ctrl+C while main still adds services, or waits on Add(...).Wait(), is
// neither lost nor fatal. A signal ignored when the process started (nohup,
// a shell's &) is caught too: the mesh asked for it. While the shutdown
// runs, another signal names at level Error what is still stopping, or
// still in Init, and exits with status 1. The buffer keeps two signals sent
// microseconds apart. Once the shutdown has completed the mesh stops
// listening, so the process's default behaviour is back (see anchor).
//
// Every mesh that listens gets every signal (design §8): a process with
// several meshes stops them all on one Ctrl+C, each taking it as its first
// signal, and exits 0. A signal still in the mesh's channel when it stops
// listening (it came as the shutdown completed) is logged at Info and
// dropped: never handed on to the other meshes, which got it already and
// would take it as their second, nor raised again.
//
// A mesh made inside a testing/synctest bubble does not listen: os/signal's
// goroutines live outside any bubble and cannot use its channels.
func (m *mesh) listenForSignals() {
	m.sigDone = make(chan struct{})
	if inSynctestBubble() {
		close(m.sigDone)
		return
	}
	sigs := anchor.acquire()
	go m.handleSignals(sigs)
}

// handleSignals is the signal goroutine. Shutdown waits for it to end.
func (m *mesh) handleSignals(sigs chan os.Signal) {
	defer close(m.sigDone)
	defer func() {
		// Once the shutdown has completed nothing is left for a signal to
		// do; one that came meanwhile is only told of (design §3: a
		// signal that reaches a mesh already shutting down is logged).
		for _, sig := range anchor.release(sigs) {
			m.logger.Info("signal received as the shutdown completed: nothing left to do", "signal", sig.String())
		}
	}()
	select {
	case sig := <-sigs:
		m.logger.Info("signal received, shutting down; send it again to exit at once", "signal", sig.String())
		m.Shutdown()
	case <-m.finished:
		return
	}
	select {
	case sig := <-sigs:
		m.logger.Error("signal received again while shutting down: exiting with status 1",
			"signal", sig.String(), "stopping", m.named(StateStopping), "in_init", m.stillInInit())
		exit(1)
	case <-m.finished:
	}
}

// inSynctestBubble reports whether the calling goroutine runs inside a
// testing/synctest bubble, which the runtime writes in the header of the
// goroutine's stack trace.
func inSynctestBubble() bool {
	var buf [128]byte
	n := runtime.Stack(buf[:], false)
	header, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	return bytes.Contains(header, []byte("synctest bubble"))
}

// anchor is the process's one registration with os/signal for the caught
// signals, kept while any mesh listens and for timing.AnchorLinger after the last
// one stopped. Each listening mesh gets its own channel, which the anchor's
// dispatcher goroutine feeds: every signal goes to every mesh that listens
// when the dispatcher takes it (design §8). Enabling and disabling a signal
// costs the runtime a round trip to a thread of its own; a program (or a
// test suite) that makes mesh after mesh pays it once rather than per mesh.
//
// A mesh that stops listening takes its channel out under the anchor's
// lock, so no signal reaches it after that, and drops what is left in it
// (handleSignals logs it): the other meshes were given the same signals, so
// handing them on would count each twice, and a second signal exits 1.
//
// A signal that arrives while no mesh listens at all (during the linger, or
// queued as the last mesh stopped) is nobody's: without the linger
// os/signal would be off and the process's default behaviour would apply,
// so the anchor makes it apply. It raises the signal again with os/signal's
// handling off, on the dispatcher's own thread and under the anchor's lock
// so that no mesh starts listening meanwhile, at most timing.AnchorLinger late.
// SIGTERM ends the process, and so does SIGINT unless it was ignored when
// the process started. This is no mesh re-raising a signal: no mesh was
// given it.
var anchor = signalAnchor{meshes: make(map[chan os.Signal]struct{})}

// meshSignalBuffer is the capacity of each mesh's channel. A mesh acts on
// at most two signals (the first starts its shutdown, the second exits),
// so a channel that is full holds at least two it has not taken yet:
// deliver may then drop a signal without the mesh missing its first or its
// second. It must stay at least 2.
const meshSignalBuffer = 4

type signalAnchor struct {
	mu     sync.Mutex                  // guards the fields below
	meshes map[chan os.Signal]struct{} // the channels of listening meshes
	ch     chan os.Signal              // registered with os/signal while on; nil when off
	stop   chan struct{}               // closed to end the dispatcher
	linger *time.Timer                 // ends the linger; nil unless lingering
}

// acquire starts listening for a mesh and returns its channel.
func (a *signalAnchor) acquire() chan os.Signal {
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
// signals left in it, which that mesh was given but did not take. They are
// dropped: never handed to the other meshes, which were given each of them
// too, nor raised again. Once the last mesh has stopped the anchor lingers.
func (a *signalAnchor) release(c chan os.Signal) []os.Signal {
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
func (a *signalAnchor) dispatch(ch chan os.Signal, stop chan struct{}) {
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
// anchor off and raises sig again (see anchor). The caller holds mu.
func (a *signalAnchor) deliver(sig os.Signal) {
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
func (a *signalAnchor) end() {
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
func (a *signalAnchor) off() {
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
