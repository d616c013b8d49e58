package signals

// The anchor's bookkeeping, without sending the process a signal: deliver
// is called as the dispatcher calls it. What a signal does to a process
// (raised again when no mesh listens, the second-signal exit) is tested by
// the root package, which re-runs its test binary as a child.

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deliver hands sig on as the dispatcher does.
func deliver(sig os.Signal) {
	process.mu.Lock()
	defer process.mu.Unlock()
	process.deliver(sig)
}

func received(l Listener) []os.Signal {
	var got []os.Signal
	for {
		select {
		case sig := <-l.C():
			got = append(got, sig)
		default:
			return got
		}
	}
}

// Every listener gets every signal; one whose channel is full drops the
// signal for itself alone; Release returns what was left, and nothing
// reaches that listener after it.
func TestEveryListenerGetsEverySignal(t *testing.T) {
	a, b := Listen(), Listen()
	deliver(syscall.SIGTERM)
	assert.Equal(t, []os.Signal{syscall.SIGTERM}, received(a))
	assert.Equal(t, []os.Signal{syscall.SIGTERM}, received(b))

	for range meshSignalBuffer + 2 {
		deliver(os.Interrupt) // a takes none: its channel fills, then drops
		received(b)
	}
	left := a.Release()
	assert.Len(t, left, meshSignalBuffer, "a full channel keeps what it holds")
	deliver(syscall.SIGTERM)
	assert.Empty(t, received(a), "released: no signal reaches it")
	assert.Equal(t, []os.Signal{syscall.SIGTERM}, received(b))
	assert.Empty(t, b.Release())
}

// The registration lingers after the last listener released, is kept by a
// listener that comes meanwhile, and ends once the linger is over.
func TestTheRegistrationLingers(t *testing.T) {
	on := func() bool {
		process.mu.Lock()
		defer process.mu.Unlock()
		return process.ch != nil
	}
	a := Listen()
	require.True(t, on())
	a.Release()
	assert.True(t, on(), "lingering")
	b := Listen() // within the linger: the same registration
	time.Sleep(2 * timing.AnchorLinger)
	assert.True(t, on(), "a listener came back: no linger ends it")
	b.Release()
	deadline := time.Now().Add(10 * time.Second)
	for on() && time.Now().Before(deadline) {
		time.Sleep(timing.AnchorLinger / 10)
	}
	assert.False(t, on(), "off once the linger is over")
	process.mu.Lock()
	assert.Empty(t, process.meshes)
	assert.Nil(t, process.linger)
	process.mu.Unlock()
}
