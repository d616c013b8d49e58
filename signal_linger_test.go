package servicemesh_test

// Tests of signals and the process-wide signal anchor, from the
// second adversarial review. Before the fix each mesh registered its own
// channel with os/signal beside the anchor's, and the anchor took every
// signal it caught while a mesh listened to have reached that mesh too:
//
//   - a signal that arrived between the anchor's registration and the
//     mesh's own (in New), or between the mesh's signal.Stop and the
//     anchor's release (at the end of its shutdown), reached the anchor
//     alone and was thrown away: neither a mesh nor the default action saw
//     it, and a process that makes mesh after mesh went on running;
//   - a signal caught while no mesh listened (during the anchor's linger)
//     was raised again by the next New, which at once turned os/signal's
//     handling back on: the kernel could deliver the raised signal after
//     that, and it was caught again, by the anchor alone or by the new
//     mesh, instead of ending the process.
//
// Each test re-runs this binary as a child (see startChild).

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
)

const (
	meshAfterMeshMode = "regress: mesh after mesh"
	lingerSignalMode  = "regress: signal while no mesh listens"

	// meshAfterMeshWarmup is how many meshes the mesh-after-mesh child
	// makes before it prints that it is ready to be signaled.
	meshAfterMeshWarmup = 50
	// meshAfterMeshRuns is how many children
	// TestSignalToAProcessMakingMeshAfterMeshIsNeverLost signals, one
	// signal each. Before the fix most signals were lost (see
	// meshAfterMeshChild); after it each child takes about 40 ms.
	meshAfterMeshRuns = 16

	// signalReceived is the start of the line a mesh logs, at Info, when a
	// signal starts its shutdown.
	signalReceived = "signal received"
	// secondMeshShutDownLine is printed by the linger child if its second
	// mesh was shut down, which only a signal can have done.
	secondMeshShutDownLine = "second mesh shut down"
	// stillAliveLine is printed by the linger child if it outlived the
	// signal.
	stillAliveLine = "still alive"
)

func init() {
	childModes[meshAfterMeshMode] = meshAfterMeshChild
	childModes[lingerSignalMode] = lingerSignalChild
}

// meshAfterMeshChild makes mesh after mesh, as a program or a test suite
// may, each shut down at once, and never stops. Its meshes log to standard
// output: a signal that a mesh acts on shows there (signalReceived). It
// runs on one processor: os/signal's goroutine then shares it with the
// meshes, which makes the windows in which the signal used to be lost a
// larger share of each mesh's life (about 9 signals in 10 were lost before
// the fix, against 5 to 7 in 10 on two processors).
func meshAfterMeshChild() int {
	runtime.GOMAXPROCS(1)
	for i := 0; ; i++ {
		m := servicemesh.New("mesh after mesh")
		m.Shutdown().Wait()
		if i == meshAfterMeshWarmup {
			childLine(signalChildReady)
		}
	}
}

// Design §3, Signals: a SIGTERM is either acted on by a mesh that listens
// or, when none does, ends the process by its default action. A process
// that makes mesh after mesh never loses one, whenever it arrives.
func TestSignalToAProcessMakingMeshAfterMeshIsNeverLost(t *testing.T) {
	for i := range meshAfterMeshRuns {
		passed := t.Run(strconv.Itoa(i), func(t *testing.T) {
			c := startChild(t, meshAfterMeshMode, childOptions{})
			c.waitFor(t, signalChildReady, childStartTimeout)
			c.signal(t, syscall.SIGTERM)

			timer := time.NewTimer(childExitTimeout)
			defer timer.Stop()
			for {
				select {
				case line, ok := <-c.lines:
					if !ok { // the child is ending: reap it
						c.exit(t, childExitTimeout)
						ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
						assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGTERM,
							"the child ended by SIGTERM's default action, not %v", c.cmd.ProcessState)
						return
					}
					c.got = append(c.got, line)
					if strings.Contains(line, signalReceived) {
						return // a mesh acted on it; the child is killed at cleanup
					}
				case <-timer.C:
					assert.Fail(t, "SIGTERM was lost: neither a mesh acted on it nor did it end the process within "+childExitTimeout.String())
					return
				}
			}
		})
		if !passed {
			break // one lost signal is enough; each costs childExitTimeout
		}
	}
}

// lingerShutdownSeen notes whether its mesh began a shutdown.
type lingerShutdownSeen struct{ seen chan struct{} }

func (s *lingerShutdownSeen) Name() string                    { return "shutdown seen" }
func (s *lingerShutdownSeen) Init(servicemesh.Mesh)           {}
func (s *lingerShutdownSeen) OnServiceMeshShutdownInitiated() { close(s.seen) }

// lingerSignalChild signals itself while no mesh listens, during the
// anchor's linger after its first mesh, then makes a second mesh. The
// signal should end it before, or as, the second mesh is made; if it lives
// on, it says whether the second mesh was shut down.
func lingerSignalChild() int {
	m1 := servicemesh.New("first")
	m1.SetLogDestination(os.Stderr)
	m1.Shutdown().Wait() // no mesh listens now; the anchor lingers

	if self, err := os.FindProcess(os.Getpid()); err == nil {
		_ = self.Signal(syscall.SIGTERM)
	}
	// Nothing outside os/signal can tell when it has handed the signal to
	// the anchor (registering a channel to find out would change what is
	// tested), so the child gives it time: well within the anchor's linger,
	// long enough for the signal's delivery. After the fix the process ends
	// during this sleep.
	time.Sleep(10 * time.Millisecond)

	m2 := servicemesh.New("second")
	m2.SetLogDestination(os.Stderr)
	seen := &lingerShutdownSeen{seen: make(chan struct{})}
	m2.Add(seen).Wait()
	timer := time.NewTimer(500 * time.Millisecond)
	select {
	case <-seen.seen:
		childLine(secondMeshShutDownLine)
	case <-timer.C:
		childLine(stillAliveLine)
	}
	m2.Shutdown().Wait()
	return 0
}

// lingerSignalRunsEnv opts in to TestSignalWhileNoMeshListensIsNotCaughtAgain:
// set it to how many children to run. Before the fix the signal was caught
// again in about 1 to 3 of 100 children, under -race only (4 and 5 of 300
// in two runs), too rare for a test that runs by default; 300 children take
// about 10 s under -race and, at that rate, find it nearly every time.
const lingerSignalRunsEnv = "SERVICEMESH_TEST_LINGER_SIGNAL_RUNS"

// Design §3, Signals (see the anchor in internal/signals): a signal that
// arrives while no mesh listens is raised again with the process's default
// action: SIGTERM ends the process. It is not the next mesh's, and it is never
// caught again, lost, or left for the next mesh to act on.
func TestSignalWhileNoMeshListensIsNotCaughtAgain(t *testing.T) {
	runs, err := strconv.Atoi(os.Getenv(lingerSignalRunsEnv))
	if err != nil || runs <= 0 {
		t.Skipf("a rare race (1 to 3 of 100 children under -race before the fix); set %s=300 to run it", lingerSignalRunsEnv)
	}
	tally := map[string]int{}
	for i := range runs {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			c := startChild(t, lingerSignalMode, childOptions{})
			code := c.exit(t, childExitTimeout)
			ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
			outcome := fmt.Sprintf("exit status %d", code)
			switch {
			case ws.Signaled() && ws.Signal() == syscall.SIGTERM:
				outcome = "ended by SIGTERM"
			case len(c.got) > 0:
				outcome = strings.Join(c.got, "; ")
			}
			tally[outcome]++
			assert.Equal(t, "ended by SIGTERM", outcome, "a SIGTERM that arrived while no mesh listened")
		})
	}
	t.Logf("outcomes of %d children: %v", runs, tally)
}
