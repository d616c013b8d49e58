package servicemesh_test

// Run shuts the mesh down on SIGINT and SIGTERM (design §3, Run). As the
// standard library's os/signal tests do, the test re-runs its own binary as
// a child process (see childModeEnv in main_test.go) that runs a mesh, and
// signals it.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// childService prints a line from OnShutdown. It declares (trivially
// resolved) dependencies so that the mesh stops it alone, making the order
// of the lines the order of the stops.
type childService struct{ name string }

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
	for _, name := range signalChildServices {
		m.Add(&childService{name: name}).Wait()
	}
	m.Add(&readyAnnouncer{}).Wait()
	m.Run()
	childLine(signalChildDone)
	return 0
}

func TestSignalShutsDownRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sending SIGINT/SIGTERM to a process is not supported on Windows")
	}
	tests := []struct {
		name string
		sig  os.Signal
	}{
		{"SIGINT", os.Interrupt},
		{"SIGTERM", syscall.SIGTERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childModeEnv+"="+signalChildMode,
				// Under -race, do not linger a second at exit.
				"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			var stderr syncBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())

			lines := make(chan string, 64)
			var reader sync.WaitGroup
			reader.Go(func() {
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
				_, _ = io.Copy(io.Discard, stdout)
			})
			var got []string
			waited := false
			defer func() {
				// Never leave the child, the reader or os/exec's
				// goroutines behind.
				cancel()
				for range lines {
				}
				reader.Wait()
				if !waited {
					_ = cmd.Wait()
				}
				if t.Failed() {
					t.Logf("child stdout so far: %q\nchild stderr:\n%s", got, stderr.String())
				}
			}()

			// Wait until the child's Run is listening.
			timer := time.NewTimer(30 * time.Second)
			defer timer.Stop()
		waitReady:
			for {
				select {
				case line, ok := <-lines:
					require.True(t, ok, "the child exited before it was ready")
					got = append(got, line)
					if line == signalChildReady {
						break waitReady
					}
				case <-timer.C:
					require.FailNow(t, "the child did not get ready in time")
				}
			}

			require.NoError(t, cmd.Process.Signal(tc.sig))

			// Read what the child prints until it exits.
		readRest:
			for {
				select {
				case line, ok := <-lines:
					if !ok {
						break readRest
					}
					got = append(got, line)
				case <-timer.C:
					require.FailNow(t, "the child did not exit in time after "+tc.name)
				}
			}
			reader.Wait()
			err = cmd.Wait()
			waited = true
			assert.NoError(t, err, "the child exits with status 0")
			assert.Equal(t, 0, cmd.ProcessState.ExitCode())

			want := []string{signalChildReady}
			for i := len(signalChildServices) - 1; i >= 0; i-- {
				want = append(want, "stopped "+signalChildServices[i])
			}
			want = append(want, signalChildDone)
			assert.Equal(t, want, got, "every OnShutdown, newest first, then Run returned")
		})
	}
}
