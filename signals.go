package servicemesh

import (
	"bytes"
	"os"
	"runtime"

	"github.com/gravestench/servicemesh/internal/signals"
)

// Signals: each mesh's signal goroutine, from New until its shutdown has
// completed, fed by the process-wide anchor of internal/signals (guarded by
// its own mutex, never held while service code runs). The goroutine's
// state is its own; sigDone is closed by it and read by the shutdown.

// exit ends the process; a variable so that nothing else in the package
// calls os.Exit.
var exit = os.Exit

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
// listening, so the process's default behaviour is back (see
// internal/signals).
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
	go m.handleSignals(signals.Listen())
}

// handleSignals is the signal goroutine. Shutdown waits for it to end.
func (m *mesh) handleSignals(l signals.Listener) {
	defer close(m.sigDone)
	defer func() {
		// Once the shutdown has completed nothing is left for a signal to
		// do; one that came meanwhile is only told of (design §3: a
		// signal that reaches a mesh already shutting down is logged).
		for _, sig := range l.Release() {
			m.logger.Info("signal received as the shutdown completed: nothing left to do", "signal", sig.String())
		}
	}()
	sigs := l.C()
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
