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
	anchor.acquire()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, caught...)
	go m.handleSignals(sigs)
}

// handleSignals is the signal goroutine. Shutdown waits for it to end.
func (m *mesh) handleSignals(sigs chan os.Signal) {
	defer close(m.sigDone)
	defer anchor.release()
	defer signal.Stop(sigs)
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

// anchor keeps the caught signals enabled in os/signal while any mesh of
// the process listens, and for anchorLinger after the last one stopped.
// Enabling and disabling a signal costs the runtime a round trip to a
// thread of its own; a program (or a test suite) that makes mesh after
// mesh pays it once rather than per mesh.
//
// A signal that arrives while no mesh listens is caught by the anchor only;
// when the linger ends the anchor stops and raises it again, so that the
// process's default behaviour applies after all (at most anchorLinger
// late): SIGTERM ends it, and SIGINT ends it too unless it was ignored when
// the process started.
var anchor signalAnchor

const anchorLinger = 100 * time.Millisecond

type signalAnchor struct {
	mu        sync.Mutex     // guards the fields below
	listening int            // meshes listening
	ch        chan os.Signal // registered with os/signal while on
	linger    *time.Timer    // ends the linger; nil unless lingering
}

func (a *signalAnchor) acquire() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.linger != nil {
		a.linger.Stop()
		a.linger = nil
		a.reraise() // a signal nobody listened for is not the new mesh's
	}
	if a.ch == nil {
		a.ch = make(chan os.Signal, len(caught))
		signal.Notify(a.ch, caught...)
	}
	a.listening++
}

func (a *signalAnchor) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listening--
	if a.listening > 0 {
		return
	}
	// Every signal so far reached a listening mesh too.
	for len(a.ch) > 0 {
		<-a.ch
	}
	a.linger = time.AfterFunc(anchorLinger, a.end)
}

// end stops the anchor once the linger is over.
func (a *signalAnchor) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.listening > 0 || a.ch == nil {
		return
	}
	a.linger = nil
	signal.Stop(a.ch)
	a.reraise()
	a.ch = nil
}

// reraise raises again, with os/signal's handling off for it, a signal the
// anchor caught while no mesh listened. The caller holds mu.
func (a *signalAnchor) reraise() {
	select {
	case sig := <-a.ch:
		signal.Stop(a.ch)
		a.ch = nil
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Signal(sig)
		}
	default:
	}
}
