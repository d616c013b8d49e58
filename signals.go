package servicemesh

import (
	"bytes"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
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
	defer anchor.release(sigs)
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
// signals, kept while any mesh listens and for anchorLinger after the last
// one stopped. Each listening mesh gets its own channel, which the anchor's
// dispatcher goroutine feeds. Enabling and disabling a signal costs the
// runtime a round trip to a thread of its own; a program (or a test suite)
// that makes mesh after mesh pays it once rather than per mesh.
//
// A signal that no mesh takes (it arrives while none listens, or is left in
// a mesh's channel when it stops listening) is raised again with os/signal's
// handling off, on the dispatcher's own thread and under the anchor's lock
// so that no mesh starts listening meanwhile: the process's default
// behaviour applies, at most anchorLinger late. SIGTERM ends the process,
// and so does SIGINT unless it was ignored when the process started.
var anchor = signalAnchor{meshes: make(map[chan os.Signal]struct{})}

const anchorLinger = 100 * time.Millisecond

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
	c := make(chan os.Signal, 4)
	a.meshes[c] = struct{}{}
	return c
}

// release stops listening for the mesh of channel c. A signal left in c was
// not taken by that mesh: it is handled as if it arrived now.
func (a *signalAnchor) release(c chan os.Signal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.meshes, c)
	for len(c) > 0 {
		a.deliver(<-c)
	}
	if len(a.meshes) == 0 && a.ch != nil && a.linger == nil {
		a.linger = time.AfterFunc(anchorLinger, a.end)
	}
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
// anchor off and raises sig again. The caller holds mu.
func (a *signalAnchor) deliver(sig os.Signal) {
	if len(a.meshes) == 0 {
		a.off()
		raise(sig)
		return
	}
	for c := range a.meshes {
		select {
		case c <- sig:
		default: // that mesh already has signals enough to act on
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
// again the signals still queued. The caller holds mu.
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
