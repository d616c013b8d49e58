package servicemesh

import (
	"bytes"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

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
// listening, so the process's default behaviour is back.
//
// A mesh made inside a testing/synctest bubble does not listen: os/signal's
// goroutines live outside any bubble and cannot use its channels.
func (m *mesh) listenForSignals() {
	m.sigDone = make(chan struct{})
	if inSynctestBubble() {
		close(m.sigDone)
		return
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go m.handleSignals(sigs)
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

// handleSignals is the signal goroutine. Shutdown waits for it to end.
func (m *mesh) handleSignals(sigs chan os.Signal) {
	defer close(m.sigDone)
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
			"signal", sig.String(), "stopping", m.named(phaseStopping), "in_init", m.stillInInit())
		exit(1)
	case <-m.finished:
	}
}
