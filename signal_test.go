package servicemesh_test

// Run shuts the mesh down on SIGINT and SIGTERM (design §3, Run). As the
// standard library's os/signal tests do, the test re-runs its own binary as
// a child process (see childModeEnv in main_test.go) that runs a mesh, and
// signals it.

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
)

const signalChildMode = "signal"

// signalChildServices are the child's services, in initialization order.
var signalChildServices = []string{"database", "cache", "api", "frontend"}

const (
	signalChildReady = "ready"
	signalChildDone  = "run returned"
)

func init() { childModes[signalChildMode] = signalChild }

// childLine prints one line to standard output for the parent to read.
var childOut sync.Mutex

func childLine(format string, args ...any) {
	childOut.Lock()
	defer childOut.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// childService prints a line from OnShutdown. It holds the service added
// before it, so the mesh stops it first: the order of the lines is the
// order of the stops.
type childService struct {
	name string
	prev servicemesh.Service // the service added before it: stopped after it
}

func (s *childService) Name() string                              { return s.name }
func (s *childService) Init(servicemesh.Mesh)                     {}
func (s *childService) DependenciesResolved() bool                { return true }
func (s *childService) ResolveDependencies([]servicemesh.Service) {}
func (s *childService) OnShutdown()                               { childLine("stopped %s", s.name) }

// readyAnnouncer prints "ready" once Run listens for signals: Run registers
// its signal handler before it emits the run-loop event.
type readyAnnouncer struct{ once sync.Once }

func (*readyAnnouncer) Name() string          { return "ready announcer" }
func (*readyAnnouncer) Init(servicemesh.Mesh) {}
func (r *readyAnnouncer) OnServiceMeshRunLoopInitiated() {
	r.once.Do(func() { childLine(signalChildReady) })
}

// signalChild is the child process: a mesh that runs until signaled.
func signalChild() int {
	m := servicemesh.New("signal child")
	m.SetLogDestination(os.Stderr)
	var prev servicemesh.Service
	for _, name := range signalChildServices {
		s := &childService{name: name, prev: prev}
		m.Add(s).Wait()
		prev = s
	}
	m.Add(&readyAnnouncer{}).Wait()
	m.Run()
	childLine(signalChildDone)
	return 0
}

func TestSignalShutsDownRun(t *testing.T) {
	tests := []struct {
		name string
		sig  os.Signal
	}{
		{"SIGINT", os.Interrupt},
		{"SIGTERM", syscall.SIGTERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startChild(t, signalChildMode, childOptions{}) // see faithful_signal_test.go

			// Wait until the child's Run is listening.
			c.waitFor(t, signalChildReady, childStartTimeout)
			c.signal(t, tc.sig)
			assert.Equal(t, 0, c.exit(t, childExitTimeout), "the child exits with status 0")

			want := []string{signalChildReady}
			for i := len(signalChildServices) - 1; i >= 0; i-- {
				want = append(want, "stopped "+signalChildServices[i])
			}
			want = append(want, signalChildDone)
			assert.Equal(t, want, c.got, "every OnShutdown, newest first, then Run returned")
		})
	}
}
