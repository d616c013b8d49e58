package servicemesh_test

// Signals as the original library's programs meet them (design §3, Signals,
// Run, Shutdown). Each test re-runs this binary as a child process (see
// childModeEnv in main_test.go) that builds a mesh the way such a program
// does, and signals it:
//
//   - a signal that arrives before Run, while main is still busy or blocked
//     in Add(...).Wait(), starts the shutdown at once, and Run returns once it
//     has completed;
//   - an Init that never returns (a service that runs its loop inside Init)
//     does not hold the shutdown: its OnShutdown, if it has one, is called in
//     its turn, and the process exits at once with status 0;
//   - a second signal while the shutdown hangs logs at Error who is still
//     stopping and ends the process with status 1, even when the two arrive
//     back to back;
//   - the shutdown budget (SetShutdownTimeout) names a hung OnShutdown at
//     Error, still stops what it depends on, and lets Run return.
//
// Each runs for SIGINT and SIGTERM, once with the child started with SIGINT
// at its default action and once with SIGINT ignored, as a shell's & and
// nohup-style launchers leave it.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// childStartTimeout bounds how long a child may take to start and print
	// the line the parent waits for before it signals.
	childStartTimeout = 30 * time.Second
	// childExitTimeout bounds how long a child may take to do what a signal
	// asks, up to its exit. It is well under the default shutdown budget
	// (25 s), so a shutdown that waits for an Init that never returns fails
	// the test instead of being ended by the deadline.
	childExitTimeout = 10 * time.Second
	// childLifetime bounds a child's whole life: it is killed after it.
	childLifetime = 60 * time.Second
)

// childOptions say how to start a child process.
type childOptions struct {
	// ignoreSIGINT starts the child with SIGINT ignored (SIG_IGN at exec),
	// as a non-interactive shell leaves a command it starts with &.
	ignoreSIGINT bool
	// stdin gives the child a pipe as standard input, closed by closeStdin;
	// otherwise its standard input is the null device.
	stdin bool
}

// childProc is a running child process (see startChild).
type childProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr syncBuffer
	lines  chan string // standard output, line by line; closed at EOF
	reader sync.WaitGroup
	got    []string // the lines read so far, by the test goroutine only
	waited bool     // cmd.Wait has returned
}

// startChild runs this test binary as a child process in mode (a key of
// childModes). Its standard output is read line by line (next, waitFor,
// exit); its standard error is kept, and logged with the lines read if the
// test fails. When the test ends the child is killed if still running and
// reaped, and the goroutine reading it has ended.
func startChild(t *testing.T, mode string, opt childOptions) *childProc {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("sending SIGINT/SIGTERM to a process is not supported on Windows")
	}
	ctx, cancel := context.WithTimeout(context.Background(), childLifetime)
	name, args := os.Args[0], []string{"-test.run=^$"}
	env := append(os.Environ(),
		// Under -race, do not linger a second at exit.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if opt.ignoreSIGINT {
		// The shell sets SIGINT to SIG_IGN and replaces itself with the
		// binary ($0) and its arguments ("$@"), which inherits it.
		args = append([]string{"-c", `trap "" INT; exec "$0" "$@"`, name}, args...)
		name = "/bin/sh"
		env = append(env, childModeEnv+"="+mode)
	} else {
		// A child inherits an ignored SIGINT from this process (a test run
		// in the background has it), so go through a launcher that resets
		// it to its default action.
		env = append(env, childModeEnv+"="+defaultSIGINTMode, childExecModeEnv+"="+mode)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second // bounds Wait once the child was killed
	c := &childProc{cmd: cmd, lines: make(chan string, 64)}
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err == nil && opt.stdin {
		c.stdin, err = cmd.StdinPipe()
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		cancel()
		require.NoError(t, err)
	}

	c.reader.Go(func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	})
	t.Cleanup(func() {
		// Never leave the child, the reader or os/exec's goroutines behind.
		cancel()
		for range c.lines {
		}
		c.reader.Wait()
		if !c.waited {
			_ = cmd.Wait()
		}
		if t.Failed() {
			status := "killed at the end of the test"
			if c.waited {
				status = c.cmd.ProcessState.String()
			}
			t.Logf("child %s\nchild stdout read: %q\nchild stderr:\n%s", status, c.got, c.stderr.String())
		}
	})
	return c
}

const (
	// defaultSIGINTMode is the child mode that replaces itself, through
	// exec, with the mode named by childExecModeEnv, SIGINT reset to its
	// default action on the way.
	defaultSIGINTMode = "exec with SIGINT at its default"
	childExecModeEnv  = "SERVICEMESH_TEST_CHILD_EXEC_MODE"
)

func init() { childModes[defaultSIGINTMode] = execWithDefaultSIGINT }

// execWithDefaultSIGINT is the launcher that startChild uses when SIGINT is
// not to be ignored: exec resets a caught signal to its default action, and
// an ignored one stays ignored, so catching SIGINT before exec makes the
// next program start with the default, whatever this process started with.
// The process ID stays the same, so the parent signals the new program.
func execWithDefaultSIGINT() int {
	mode, ok := os.LookupEnv(childExecModeEnv)
	if !ok {
		fmt.Fprintf(os.Stderr, "%s is not set\n", childExecModeEnv)
		return 2
	}
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, childModeEnv+"=") || strings.HasPrefix(kv, childExecModeEnv+"=")
	})
	err = syscall.Exec(self, os.Args, append(env, childModeEnv+"="+mode))
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", self, err)
	return 2
}

// next returns the child's next line, failing the test if the child exits
// first or prints nothing within d.
func (c *childProc) next(t *testing.T, d time.Duration) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case line, ok := <-c.lines:
		require.True(t, ok, "the child exited before it printed the next line")
		c.got = append(c.got, line)
		return line
	case <-timer.C:
		require.FailNow(t, "the child printed nothing in "+d.String())
	}
	return ""
}

// waitFor reads the child's lines until it prints want, failing the test if
// it exits first or does not print it within d.
func (c *childProc) waitFor(t *testing.T, want string, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			require.True(t, ok, "the child exited before it printed %q", want)
			c.got = append(c.got, line)
			if line == want {
				return
			}
		case <-timer.C:
			require.FailNow(t, "the child did not print "+strconv.Quote(want)+" within "+d.String())
		}
	}
}

// signal sends sig to the child.
func (c *childProc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(sig), "signal %v", sig)
}

// closeStdin closes the child's standard input (see childOptions.stdin).
func (c *childProc) closeStdin(t *testing.T) {
	t.Helper()
	require.NotNil(t, c.stdin, "the child was started without a stdin pipe")
	require.NoError(t, c.stdin.Close())
}

// exit reads the child's remaining lines until it exits, failing the test if
// that takes longer than d, and returns its exit status (-1 if a signal
// killed it).
func (c *childProc) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if ok {
				c.got = append(c.got, line)
				continue
			}
			c.reader.Wait()
			_ = c.cmd.Wait() // the status is read from ProcessState
			c.waited = true
			return c.cmd.ProcessState.ExitCode()
		case <-timer.C:
			require.FailNow(t, "the child did not exit within "+d.String())
		}
	}
}

// assertLogged checks that the child's standard error has a line holding
// every one of parts (slog text format, such as "level=ERROR" and a name).
func (c *childProc) assertLogged(t *testing.T, parts ...string) {
	t.Helper()
	for line := range strings.Lines(c.stderr.String()) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return
		}
	}
	assert.Fail(t, "no line on the child's stderr holds all of "+strings.Join(parts, ", "))
}

// The child side.

const (
	faithfulBeforeRunMode = "faithful: signal before Run"
	faithfulAddWaitMode   = "faithful: signal during Add.Wait"
	faithfulForeverMode   = "faithful: Init never returns"
	faithfulHungMode      = "faithful: OnShutdown hangs"
	faithfulDeadlineMode  = "faithful: OnShutdown hangs past the deadline"

	// sigintIgnoredLine is the first line every faithful child prints,
	// followed by whether SIGINT was ignored when it started.
	sigintIgnoredLine = "sigint ignored: "
	// childAdded is printed once main has added its services, before it
	// blocks on standard input.
	childAdded = "added"
	// childWaitReturned is printed once Add(...).Wait() has returned.
	childWaitReturned = "wait returned"
	// childStartFailed is printed, and the child exits 3, if a service's
	// Init did not begin in time.
	childStartFailed = "init did not begin"

	// faithfulHungTimeout is the shutdown budget of the children whose
	// shutdown a second signal ends: longer than the test lasts, so the
	// second signal, not the deadline, is what ends it.
	faithfulHungTimeout = 5 * time.Minute
	// faithfulDeadline is the shutdown budget of the child whose shutdown
	// the deadline ends: short, so the test is fast, yet long enough for a
	// loaded machine to stop the service that comes before the hung one.
	faithfulDeadline = time.Second
)

func init() {
	childModes[faithfulBeforeRunMode] = faithfulBeforeRunChild
	childModes[faithfulAddWaitMode] = faithfulAddWaitChild
	childModes[faithfulForeverMode] = faithfulForeverChild
	childModes[faithfulHungMode] = func() int { return faithfulHungChild(faithfulHungTimeout) }
	childModes[faithfulDeadlineMode] = func() int { return faithfulHungChild(faithfulDeadline) }
}

// chained is the part every service of a faithful child shares. It declares
// trivially resolved dependencies, so that the mesh stops it alone, and it
// holds the service added before it, so that the mesh's dependency graph
// (design §5) orders the two as well: the services stop newest first.
type chained struct {
	name  string
	after servicemesh.Service // the service added before this one, or nil
}

func (s *chained) Name() string                              { return s.name }
func (s *chained) DependenciesResolved() bool                { return true }
func (s *chained) ResolveDependencies([]servicemesh.Service) {}

// quickService's Init returns at once; its OnShutdown prints "stopped NAME".
type quickService struct{ chained }

func (s *quickService) Init(servicemesh.Mesh) {}
func (s *quickService) OnShutdown()           { childLine("stopped %s", s.name) }

// loopService runs its loop inside Init, as the original library's users'
// services do, until OnShutdown tells it to end; OnShutdown waits for the
// loop to end, then prints "stopped NAME".
type loopService struct {
	chained
	started chan struct{} // closed when Init begins
	quit    chan struct{} // closed by OnShutdown
	ended   chan struct{} // closed when the loop has ended
}

func newLoopService(name string, after servicemesh.Service) *loopService {
	return &loopService{
		chained: chained{name: name, after: after},
		started: make(chan struct{}),
		quit:    make(chan struct{}),
		ended:   make(chan struct{}),
	}
}

func (s *loopService) Init(servicemesh.Mesh) {
	close(s.started)
	defer close(s.ended)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C: // a heartbeat's work would go here
		}
	}
}

func (s *loopService) OnShutdown() {
	close(s.quit)
	<-s.ended
	childLine("stopped %s", s.name)
}

// stuckService's Init never returns, and nothing can tell it to: it has no
// OnShutdown.
type stuckService struct {
	chained
	started chan struct{} // closed when Init begins
}

func (s *stuckService) Init(servicemesh.Mesh) {
	close(s.started)
	select {} // forever
}

// hangingService's Init returns at once; its OnShutdown prints
// "stopping NAME" and never returns.
type hangingService struct{ chained }

func (s *hangingService) Init(servicemesh.Mesh) {}
func (s *hangingService) OnShutdown() {
	childLine("stopping %s", s.name)
	select {} // forever
}

// unresolvedService's dependencies never resolve. Its first
// ResolveDependencies prints "resolving NAME"; it must never be initialized,
// so it must never be stopped either.
type unresolvedService struct {
	name string
	once sync.Once
}

func (s *unresolvedService) Name() string               { return s.name }
func (s *unresolvedService) Init(servicemesh.Mesh)      { childLine("initialized %s", s.name) }
func (s *unresolvedService) OnShutdown()                { childLine("stopped %s", s.name) }
func (s *unresolvedService) DependenciesResolved() bool { return false }
func (s *unresolvedService) ResolveDependencies([]servicemesh.Service) {
	s.once.Do(func() { childLine("resolving %s", s.name) })
}

// newFaithfulChild prints whether SIGINT is ignored, before the mesh exists,
// and returns a mesh that logs to standard error.
func newFaithfulChild() servicemesh.Mesh {
	childLine("%s%t", sigintIgnoredLine, signal.Ignored(os.Interrupt))
	m := servicemesh.New("faithful child")
	m.SetLogDestination(os.Stderr)
	return m
}

// addQuick adds quick services named names, one after the other, each
// after the one before (the first after prev), waiting for each Init, and
// returns the last.
func addQuick(m servicemesh.Mesh, prev servicemesh.Service, names ...string) servicemesh.Service {
	for _, name := range names {
		s := &quickService{chained{name: name, after: prev}}
		m.Add(s).Wait()
		prev = s
	}
	return prev
}

// began waits, bounded, for a service's Init to begin.
func began(started <-chan struct{}) bool {
	timer := time.NewTimer(childStartTimeout)
	defer timer.Stop()
	select {
	case <-started:
		return true
	case <-timer.C:
		childLine(childStartFailed)
		return false
	}
}

// faithfulBeforeRunChild adds its services, then is busy (reading standard
// input until the parent closes it) while the signal arrives, and only then
// calls Run.
func faithfulBeforeRunChild() int {
	m := newFaithfulChild()
	addQuick(m, nil, "alpha", "bravo")
	childLine(childAdded)
	_, _ = io.Copy(io.Discard, os.Stdin)
	m.Run()
	childLine(signalChildDone)
	return 0
}

// faithfulAddWaitChild is blocked in Add(...).Wait() on a service whose
// dependencies never resolve (and whose resolution never times out) when
// the signal arrives; once that wait ends it calls Run.
func faithfulAddWaitChild() int {
	m := newFaithfulChild()
	m.SetDependencyResolutionTimeout(0) // only the shutdown ends it
	addQuick(m, nil, "alpha", "bravo")
	m.Add(&unresolvedService{name: "charlie"}).Wait()
	childLine(childWaitReturned)
	m.Run()
	childLine(signalChildDone)
	return 0
}

// faithfulForeverChild has two services whose Init never returns among
// quick ones: "looper", whose OnShutdown ends its loop, and "stuck", which
// has no OnShutdown. Its shutdown budget is longer than the test lasts, so
// the deadline cannot be what ends the shutdown.
func faithfulForeverChild() int {
	m := newFaithfulChild()
	servicemesh.SetShutdownTimeout(m, faithfulHungTimeout)
	alpha := addQuick(m, nil, "alpha")
	looper := newLoopService("looper", alpha)
	m.Add(looper) // Wait would wait forever
	if !began(looper.started) {
		return 3
	}
	stuck := &stuckService{chained: chained{name: "stuck", after: looper}, started: make(chan struct{})}
	m.Add(stuck)
	if !began(stuck.started) {
		return 3
	}
	addQuick(m, stuck, "bravo")
	m.Add(&readyAnnouncer{}).Wait()
	m.Run()
	childLine(signalChildDone)
	return 0
}

// faithfulHungChild has a service, "hanger", whose OnShutdown never
// returns, between two quick ones, and a shutdown budget of timeout.
func faithfulHungChild(timeout time.Duration) int {
	m := newFaithfulChild()
	servicemesh.SetShutdownTimeout(m, timeout)
	alpha := addQuick(m, nil, "alpha")
	hanger := &hangingService{chained{name: "hanger", after: alpha}}
	m.Add(hanger).Wait()
	addQuick(m, hanger, "bravo")
	m.Add(&readyAnnouncer{}).Wait()
	m.Run()
	childLine(signalChildDone)
	return 0
}

// The parent side.

// faithfulScenario is one way a faithful child is started, signaled and
// checked. sig is the signal under test; other is the other of SIGINT and
// SIGTERM.
type faithfulScenario struct {
	name  string
	mode  string
	stdin bool
	check func(t *testing.T, c *childProc, sig, other os.Signal)
}

var faithfulScenarios = []faithfulScenario{
	{
		// Design §3, Signals: listening from New on, the signal starts the
		// shutdown at once, before main calls Run; Run then returns.
		name:  "signal before Run",
		mode:  faithfulBeforeRunMode,
		stdin: true,
		check: func(t *testing.T, c *childProc, sig, _ os.Signal) {
			c.waitFor(t, childAdded, childStartTimeout)
			c.signal(t, sig)
			// Every service stops while main is still busy.
			c.waitFor(t, "stopped alpha", childExitTimeout)
			c.closeStdin(t)
			assert.Equal(t, 0, c.exit(t, childExitTimeout), "exit status")
			assert.Equal(t, []string{childAdded, "stopped bravo", "stopped alpha", signalChildDone}, c.got,
				"every OnShutdown, newest first, before main called Run; then Run returned")
		},
	},
	{
		// Design §3, Signals: the shutdown cancels pending resolutions, so
		// main's Add(...).Wait() returns, and Run after it returns.
		name: "signal during Add.Wait",
		mode: faithfulAddWaitMode,
		check: func(t *testing.T, c *childProc, sig, _ os.Signal) {
			c.waitFor(t, "resolving charlie", childStartTimeout)
			c.signal(t, sig)
			assert.Equal(t, 0, c.exit(t, childExitTimeout), "exit status")
			// Main's line races with the OnShutdowns: only its place
			// before Run's is fixed.
			rest := slices.DeleteFunc(slices.Clone(c.got), func(l string) bool { return l == childWaitReturned })
			assert.Equal(t, []string{"resolving charlie", "stopped bravo", "stopped alpha", signalChildDone}, rest,
				"every initialized service stopped, newest first, charlie (never initialized) not; then Run returned")
			assert.Equal(t, 1, len(c.got)-len(rest), "Add(...).Wait() returned once")
			if i := slices.Index(c.got, childWaitReturned); i >= 0 {
				assert.Less(t, i, slices.Index(c.got, signalChildDone), "Wait returned before Run did")
			}
		},
	},
	{
		// Design §3, Shutdown: a service whose Init never returns is
		// stopped in its turn (OnShutdown ends its loop), one without
		// OnShutdown is named at Warn and left behind, and neither holds
		// the exit: the deadline is far away, yet the child exits at once.
		name: "Init never returns",
		mode: faithfulForeverMode,
		check: func(t *testing.T, c *childProc, sig, _ os.Signal) {
			c.waitFor(t, signalChildReady, childStartTimeout)
			c.signal(t, sig)
			assert.Equal(t, 0, c.exit(t, childExitTimeout), "exit status")
			assert.Equal(t, []string{signalChildReady, "stopped bravo", "stopped looper", "stopped alpha", signalChildDone}, c.got,
				"every OnShutdown, newest first, the looper's after its loop ended; then Run returned")
			c.assertLogged(t, "level=WARN", "stuck")
		},
	},
	{
		// Design §3, Signals: a second signal while the shutdown hangs
		// names who is still stopping at Error and exits 1. It is sent once
		// the hung OnShutdown has begun.
		name: "second signal",
		mode: faithfulHungMode,
		check: func(t *testing.T, c *childProc, sig, _ os.Signal) {
			c.waitFor(t, signalChildReady, childStartTimeout)
			c.signal(t, sig)
			c.waitFor(t, "stopping hanger", childExitTimeout)
			c.signal(t, sig)
			assert.Equal(t, 1, c.exit(t, childExitTimeout), "exit status")
			assert.Equal(t, []string{signalChildReady, "stopped bravo", "stopping hanger"}, c.got,
				"the shutdown hung in hanger's OnShutdown; Run did not return")
			c.assertLogged(t, "level=ERROR", "hanger")
		},
	},
	{
		// The same with the two signals sent back to back: the second is
		// not lost. They are two different signals because the kernel
		// merges a signal sent while the same one is still pending, which
		// no program can tell from one signal.
		name: "second signal back to back",
		mode: faithfulHungMode,
		check: func(t *testing.T, c *childProc, sig, other os.Signal) {
			c.waitFor(t, signalChildReady, childStartTimeout)
			c.signal(t, sig)
			c.signal(t, other)
			assert.Equal(t, 1, c.exit(t, childExitTimeout), "exit status")
			want := []string{signalChildReady, "stopped bravo", "stopping hanger"}
			assert.LessOrEqual(t, len(c.got), len(want), "Run did not return")
			assert.Equal(t, want[:min(len(c.got), len(want))], c.got, "no service stopped out of order")
			c.assertLogged(t, "level=ERROR")
		},
	},
	{
		// Design §5, Deadlines: once the budget has passed the hung
		// OnShutdown is named at Error, what it depends on still stops,
		// and Run returns: exit 0.
		name: "shutdown deadline",
		mode: faithfulDeadlineMode,
		check: func(t *testing.T, c *childProc, sig, _ os.Signal) {
			c.waitFor(t, signalChildReady, childStartTimeout)
			c.signal(t, sig)
			assert.Equal(t, 0, c.exit(t, childExitTimeout), "exit status")
			assert.Equal(t, []string{signalChildReady, "stopped bravo", "stopping hanger", "stopped alpha", signalChildDone}, c.got,
				"alpha stopped after the deadline left hanger behind; then Run returned")
			c.assertLogged(t, "level=ERROR", "hanger")
		},
	},
}

// TestFaithfulSignals runs every faithful scenario for SIGINT and SIGTERM,
// with the child started normally and with SIGINT ignored.
func TestFaithfulSignals(t *testing.T) {
	for _, launch := range []struct {
		name         string
		ignoreSIGINT bool
	}{
		{"SIGINT default", false},
		{"started with SIGINT ignored", true},
	} {
		for _, sig := range []struct {
			name       string
			sig, other os.Signal
		}{
			{name: "SIGINT", sig: os.Interrupt, other: syscall.SIGTERM},
			{name: "SIGTERM", sig: syscall.SIGTERM, other: os.Interrupt},
		} {
			for _, sc := range faithfulScenarios {
				t.Run(launch.name+"/"+sig.name+"/"+sc.name, func(t *testing.T) {
					t.Parallel()
					c := startChild(t, sc.mode, childOptions{ignoreSIGINT: launch.ignoreSIGINT, stdin: sc.stdin})

					require.Equal(t, sigintIgnoredLine+strconv.FormatBool(launch.ignoreSIGINT), c.next(t, childStartTimeout),
						"how the child was started")
					c.got = nil // checked; the scenario checks the lines that follow

					sc.check(t, c, sig.sig, sig.other)
				})
			}
		}
	}
}
