package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	// runTimeout bounds one run of an example, from start to exit.
	runTimeout = 30 * time.Second
	// buildTimeout bounds building one example (a cold build cache with
	// -race compiles much of the standard library).
	buildTimeout = 5 * time.Minute
)

// programs lists the directories under examples/, one program each.
var programs = []string{
	"dependencies", "events", "failures", "forever", "graph", "http", "lifecycle",
	"loglevel", "minimal", "outside", "shutdown", "timeout", "worker",
}

// TestExamples builds every example once, then runs them: those that end by
// themselves to their end, those that wait for a signal until they say they
// are ready, and then with SIGINT or SIGTERM.
func TestExamples(t *testing.T) {
	bin := buildAll(t)

	t.Run("ends by itself", func(t *testing.T) {
		for _, tc := range selfEnding {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				p := start(t, bin[tc.program], nil, tc.env, tc.args...)
				out, err := p.wait(t)
				assertExit(t, tc.exitCode, err, out)
				assertLinesInOrder(t, out, tc.inOrder...)
				for _, s := range tc.anyOrder {
					assert.Contains(t, out, s)
				}
				for _, s := range tc.absent {
					assert.NotContains(t, out, s)
				}
			})
		}
	})

	t.Run("stops on signal", func(t *testing.T) {
		for _, sig := range []struct {
			name   string
			signal syscall.Signal
			logged string // how the mesh logs the signal
		}{
			{"SIGINT", syscall.SIGINT, "signal=interrupt"},
			{"SIGTERM", syscall.SIGTERM, "signal=terminated"},
		} {
			t.Run("shutdown/"+sig.name, func(t *testing.T) {
				t.Parallel()
				testShutdown(t, bin["shutdown"], sig.signal, sig.logged)
			})
			t.Run("http/"+sig.name, func(t *testing.T) {
				t.Parallel()
				testHTTP(t, bin["http"], sig.signal, sig.logged)
			})
			t.Run("forever/"+sig.name, func(t *testing.T) {
				t.Parallel()
				testForever(t, bin["forever"], sig.signal, sig.logged)
			})
			t.Run("worker/"+sig.name, func(t *testing.T) {
				t.Parallel()
				testWorker(t, bin["worker"], sig.signal, sig.logged)
			})
		}
	})
}

// selfEnding lists the runs of examples that end by themselves.
var selfEnding = []struct {
	name     string
	program  string
	args     []string
	env      []string // added to the environment
	exitCode int
	inOrder  []string // substrings of successive lines, in this order
	anyOrder []string // substrings of the output, in any order
	absent   []string // substrings the output must not contain
}{
	{
		name:    "minimal",
		program: "minimal",
		inOrder: []string{"greeter: hello from Init", "main: the mesh has stopped"},
	},
	{
		name:    "dependencies",
		program: "dependencies",
		inOrder: []string{
			"report: cannot order ghost: no user with id 3",
			"report: ada ordered [book pen]",
			"report: grace ordered [compiler]",
			"main: done",
		},
		anyOrder: []string{
			"users: found an OrderBook (orders)",
			"orders: found a UserDirectory (users)",
		},
	},
	{
		name:    "outside",
		program: "outside",
		inOrder: []string{
			"loader: configuration loaded",
			`app: configuration arrived, greeting is "hello from outside the mesh"`,
			"main: done after",
		},
	},
	{
		name:    "timeout",
		program: "timeout",
		inOrder: []string{
			"watchdog: newsletter could not start: ",
			"watchdog: errors.Is(err, servicemesh.ErrDependencyResolutionTimeout) = true",
			"main: done",
		},
		// The error wraps the sentinel, whose text is part of the contract.
		// The timeout is a failure of the newsletter: the mesh logs it at
		// level ERROR and shuts down by itself, so Run returns (and, Run
		// returning nothing, the program exits with status 0).
		anyOrder: []string{
			"dependency resolution timed out",
			`level=ERROR msg="service failed" service="timeout example" subject=newsletter op=resolve`,
			"shutting the mesh down: a service failed for good",
		},
		absent: []string{"newsletter: initialized"},
	},
	{
		name:    "events",
		program: "events",
		inOrder: []string{
			"counter: placing order 1 (soup)",
			"kitchen: cooking order 1 (soup)",
			"counter: order 1 is ready",
			"counter: placing order 2 (noodles)",
			"kitchen: cooking order 2 (noodles)",
			"counter: order 2 is ready",
			"counter: placing order 3 (tea)",
			"kitchen: cooking order 3 (tea)",
			"counter: order 3 is ready",
			"counter: 3 of 3 orders served",
			"main: done",
		},
	},
	{
		name:    "lifecycle",
		program: "lifecycle",
		inOrder: []string{
			"event: events bound                   listener",
			"event: added                          listener",
			"  listener: Init",
			"event: initialized                    listener",
			"event: events bound                   helper",
			"event: added                          helper",
			"  helper: Init",
			"event: initialized                    helper",
			"event: events bound                   worker",
			"event: logger bound                   worker",
			"event: added                          worker",
			"event: dependency resolution started  worker",
			"event: dependency resolution ended    worker",
			`  worker: Init, the helper says "hello, worker"`,
			"event: initialized                    worker",
			"event: events bound                   visitor",
			"event: added                          visitor",
			"  visitor: Init",
			"event: initialized                    visitor",
			"event: removed                        visitor",
			"event: run loop started",
			"event: shutdown started",
			"  worker: OnShutdown",
			"  helper: OnShutdown",
			"main: done",
		},
		absent: []string{"visitor: OnShutdown", "resolution failed", "level="},
	},
	{
		name:    "loglevel",
		program: "loglevel",
		inOrder: []string{
			"--- step 1",
			`level=INFO msg="something worth knowing" service=chatty step=1`,
			"--- step 2",
			`level=DEBUG msg="a detail nobody needs" service=chatty step=2`,
			`level=INFO msg="something worth knowing" service=chatty step=2`,
			"--- step 3",
			"--- the buffer caught 2 lines:",
			`level=DEBUG msg="a detail nobody needs" service=chatty step=3`,
			`level=INFO msg="something worth knowing" service=chatty step=3`,
			"--- step 4",
			"--- shutting down",
			`level=DEBUG`, // the mesh's own chatter
			"main: done",
		},
		absent: []string{`nobody needs" service=chatty step=1`, "step=4"},
	},
	{
		name:     "http with an invalid address",
		program:  "http",
		args:     []string{"-addr", "127.0.0.1:99999"},
		exitCode: 1,
		inOrder: []string{
			"level=ERROR", // the mesh logs the failure
			"main: the run failed:",
			`servicemesh: service "http server": init: listen tcp: address 99999: invalid port`,
		},
		absent: []string{"listening on", "ready:", "main: stopped cleanly"},
	},
	{
		name:     "http with a store that fails to open (flag)",
		program:  "http",
		args:     []string{"-addr", "127.0.0.1:0", "-fail-store"},
		exitCode: 1,
		inOrder:  storeFailed,
		absent:   []string{"listening on", "ready:", "http server: drained", "http server: stopped", "main: stopped cleanly"},
	},
	{
		name:     "http with a store that fails to open (environment)",
		program:  "http",
		env:      []string{"HTTP_ADDR=127.0.0.1:0", "STORE_FAIL=true"},
		exitCode: 1,
		inOrder:  storeFailed,
		absent:   []string{"listening on", "ready:", "http server: drained", "http server: stopped", "main: stopped cleanly"},
	},
	{
		name:    "graph as Mermaid",
		program: "graph",
		inOrder: append([]string{
			"flowchart LR",
			`n0["api<br/>running"]`,
			`n1["cache<br/>running"]`,
			`n2["db<br/>running"]`,
			`n3["config<br/>running"]`,
			`n4["admin<br/>running"]`,
		}, graphStopOrder...),
		anyOrder: append([]string{
			"n0 --> n1\n", // api holds cache
			"n0 --> n3\n", // api holds config
			"n1 --> n2\n", // cache holds db
			"n2 --> n3\n", // db holds config
			// admin holds the mesh
			"n4 -.-> n0\n", "n4 -.-> n1\n", "n4 -.-> n2\n", "n4 -.-> n3\n",
		}, graphEdgesInWords...),
		// Nothing else: config holds nothing, cache not the config.
		absent: []string{"n3 --", "n3 -.", "n1 --> n3", "n0 --> n2", "digraph"},
	},
	{
		name:    "graph as DOT",
		program: "graph",
		args:    []string{"-dot"},
		inOrder: append([]string{
			"digraph servicemesh {",
			`n0 [label="api\nrunning"];`,
			`n4 [label="admin\nrunning"];`,
			"}",
		}, graphStopOrder...),
		anyOrder: append([]string{
			"n0 -> n1;", "n0 -> n3;", "n1 -> n2;", "n2 -> n3;",
			"n4 -> n0 [style=dashed];", "n4 -> n1 [style=dashed];",
			"n4 -> n2 [style=dashed];", "n4 -> n3 [style=dashed];",
		}, graphEdgesInWords...),
		absent: []string{"n3 ->", "n1 -> n3", "n0 -> n2", "flowchart"},
	},
}

// storeFailed is how the http example reports a store that failed to open:
// the mesh logs it, and main prints the error RunContext returned.
var storeFailed = []string{
	"msg=opening service=store",
	"level=ERROR", // the mesh logs the failure
	"main: the run failed:",
	`servicemesh: service "store": init: open: connection refused (simulated: -fail-store or STORE_FAIL)`,
}

// graphStopOrder is the order in which the graph example's services stop:
// each after every service that holds it.
var graphStopOrder = []string{
	"admin: stopped", "api: stopped", "cache: stopped", "db: stopped", "config: stopped",
	"main: done",
}

// graphEdgesInWords are the edges the graph example lists on stderr.
var graphEdgesInWords = []string{
	"edge: api holds cache\n",
	"edge: api holds config\n",
	"edge: cache holds db\n",
	"edge: db holds config\n",
	"edge: admin holds the mesh, so depends on api\n",
	"edge: admin holds the mesh, so depends on config\n",
}

// testShutdown runs the shutdown example until it is ready, signals it, and
// checks that every service stopped, newest first.
func testShutdown(t *testing.T, bin string, sig syscall.Signal, logged string) {
	p := start(t, bin, regexp.MustCompile(`^ready: press Ctrl\+C`), nil)
	p.ready(t)
	require.NoError(t, p.cmd.Process.Signal(sig))

	out, err := p.wait(t)
	assertExit(t, 0, err, out)
	assertLinesInOrder(t, out,
		"store: started",
		"cache: started",
		"api: started",
		"ready: press Ctrl+C or send SIGTERM to stop",
		logged,
		"api: stopped",
		"cache: stopped",
		"store: stopped",
		"main: every service has stopped",
	)
}

// promptExit bounds how long the forever example may take to exit after
// the signal: far less than the default shutdown budget (25 s), so waiting
// for the Init that never returns, until the deadline, fails the test.
const promptExit = 5 * time.Second

// testForever runs the forever example, whose clock service runs its loop
// inside Init, until it is ready, signals it, and checks that it exits at
// once with status 0, every OnShutdown having run and the loop ended.
func testForever(t *testing.T, bin string, sig syscall.Signal, logged string) {
	p := start(t, bin, regexp.MustCompile(`^ready: press Ctrl\+C`), nil)
	p.ready(t)
	require.NoError(t, p.cmd.Process.Signal(sig))

	timer := time.NewTimer(promptExit)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		require.FailNow(t, "the example did not exit within "+promptExit.String()+" of the signal",
			"output:\n%s", p.out)
	}
	out, err := p.wait(t)
	assertExit(t, 0, err, out)
	assertLinesInOrder(t, out,
		"ready: press Ctrl+C or send SIGTERM to stop",
		logged,
		"main: every service has stopped",
	)
	// The clock's and the greeter's lines interleave in any order: the two
	// declare no dependencies, so the mesh may stop them concurrently.
	assertLinesInOrder(t, out,
		"clock: started, a heartbeat every second",
		"clock: loop ended after ",
		"clock: stopped",
		"main: every service has stopped",
	)
	assertLinesInOrder(t, out,
		"greeter: hello",
		"greeter: stopped",
		"main: every service has stopped",
	)
}

// workerRestarts are the lines the worker example prints while its first
// three runs crash and the mesh restarts it, in order.
var workerRestarts = []string{
	"worker: initialized",
	"worker: run 1",
	"watcher: worker restarting after: lost the connection to the queue",
	"worker: run 2",
	`watcher: worker restarting after: servicemesh: service "worker" panicked in Serve: job 7 has no payload`,
	"worker: run 3",
	"watcher: worker restarting after: the queue is not there yet",
	"worker: run 4",
	"worker: working",
	"ready: press Ctrl+C or send SIGTERM to stop",
}

// testWorker runs the worker example until its fourth run works, checks
// that the first three were restarted in order, signals it, and checks that
// Serve returned before OnShutdown and that it exited with status 0.
func testWorker(t *testing.T, bin string, sig syscall.Signal, logged string) {
	p := start(t, bin, regexp.MustCompile(`^ready: press Ctrl\+C`), nil)
	p.ready(t)
	// Everything up to the ready line has been written by now.
	assertLinesInOrder(t, p.out.String(), workerRestarts...)
	require.NoError(t, p.cmd.Process.Signal(sig))

	out, err := p.wait(t)
	assertExit(t, 0, err, out)
	assertLinesInOrder(t, out, slices.Concat(workerRestarts, []string{
		logged,
		"worker: Serve returned after ",
		"worker: OnShutdown",
		"main: the worker was restarted 3 times; its last error: the queue is not there yet",
		"main: stopped cleanly",
	})...)
	assert.Contains(t, out, "level=ERROR") // the mesh logs the panic
	assert.NotContains(t, out, "worker: run 5")
}

// httpDrain is the drain delay the http example runs with in the tests:
// long enough to make requests while it drains, even under -race.
const httpDrain = 2 * time.Second

// testHTTP runs the http example on a free loopback port, waits until its
// readiness probe passes, makes requests to its routes and probes, signals
// it, checks that it drains (not ready, still serving), and that it then
// stopped gracefully, the server before the store, and exited with status 0.
func testHTTP(t *testing.T, bin string, sig syscall.Signal, logged string) {
	listening := regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+)$`)
	// SIGINT runs use the flags, SIGTERM runs the environment variables.
	var env, args []string
	if sig == syscall.SIGINT {
		args = []string{"-addr", "127.0.0.1:0", "-drain", httpDrain.String()}
	} else {
		env = []string{"HTTP_ADDR=127.0.0.1:0", "DRAIN_DELAY=" + httpDrain.String()}
	}
	p := start(t, bin, listening, env, args...)
	base := p.ready(t)[1]

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		require.NoError(t, err, path)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err, path)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode, string(body)
	}
	// until asks for path until it answers want, for at most 10 s.
	until := func(path string, want int) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := get(path)
			if code == want {
				return body
			}
			if time.Now().After(deadline) {
				require.FailNow(t, fmt.Sprintf("%s kept answering %d, not %d", path, code, want),
					"last body: %s\noutput:\n%s", body, p.out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Listening comes before ready: the server may answer before the mesh
	// is ready, and /readyz says when it is.
	var ready struct {
		Status   string `json:"status"`
		Mesh     string `json:"mesh"`
		Services []struct{ Name, State string }
	}
	require.NoError(t, json.Unmarshal([]byte(until("/readyz", http.StatusOK)), &ready))
	assert.Equal(t, "pass", ready.Status)
	assert.Equal(t, "http example", ready.Mesh)
	var listed []string
	for _, s := range ready.Services {
		listed = append(listed, s.Name+"="+s.State)
	}
	assert.Equal(t, []string{"config=running", "store=running", "http server=running"}, listed)

	for _, req := range []struct {
		path   string
		status int
		body   string // a prefix of the body
	}{
		{"/livez", http.StatusOK, `{"status":"pass","mesh":"http example","services":[`},
		{"/startupz", http.StatusOK, `{"status":"pass","mesh":"http example","services":[`},
		{"/hello", http.StatusOK, "hello, world (visit 1)\n"},
		{"/hello?name=gopher", http.StatusOK, "hello, gopher (visit 1)\n"},
		{"/hello?name=gopher", http.StatusOK, "hello, gopher (visit 2)\n"},
		{"/missing", http.StatusNotFound, "404 page not found\n"},
	} {
		code, body := get(req.path)
		assert.Equal(t, req.status, code, req.path)
		assert.True(t, strings.HasPrefix(body, req.body), "%s answered %q, want it to start with %q", req.path, body, req.body)
	}

	// The signal makes the mesh not ready at once, while it goes on
	// serving for the drain delay.
	signaled := time.Now()
	require.NoError(t, p.cmd.Process.Signal(sig))
	assert.Contains(t, until("/readyz", http.StatusServiceUnavailable), `"status":"fail"`)
	code, body := get("/hello")
	assert.Equal(t, http.StatusOK, code, "/hello while draining")
	assert.Equal(t, "hello, world (visit 2)\n", body, "/hello while draining")

	out, err := p.wait(t)
	assertExit(t, 0, err, out)
	assert.GreaterOrEqual(t, time.Since(signaled), httpDrain, "exited before the drain delay was over")
	assertLinesInOrder(t, out,
		"msg=opening service=store",
		"listening on http://127.0.0.1:",
		"ready: try curl http://127.0.0.1:",
		`msg=request service="http server" method=GET path=/hello`,
		`msg=request service="http server" method=GET path=/hello`,
		`msg=request service="http server" method=GET path=/hello`,
		`msg=request service="http server" method=GET path=/missing`,
		logged,
		`msg=request service="http server" method=GET path=/hello`, // while draining
		"http server: drained", // Serve returned
		"http server: stopped", // then OnShutdownContext
		"store: closed",
		"main: stopped cleanly",
	)
	// The probes are logged at Debug, which the example does not show.
	assert.NotContains(t, out, "path=/readyz")
	assert.NotContains(t, out, "level=ERROR")
}

// failureRuns are the runs of the failures example, one per kind of
// failure (DESIGN §8, docs/failures.md), plus the runs that
// look like failures and are not: a clean run, a start cut short by the
// shutdown, and a Serve that asks for the shutdown.
var failureRuns = []struct {
	name string
	args []string
	// ready, if set, is the line after which the run is sent SIGTERM; the
	// other runs must end by themselves (fail fast).
	ready    string
	exitCode int
	service  string // the service that fails, or ends the run
	op       string // the failure's op=; "" when nothing may fail
	state    string // the state the service ends in, after the shutdown
	// inOrder are substrings of successive lines; absent, substrings the
	// output must not contain.
	inOrder, absent []string
}{
	{
		name:    "nothing fails",
		args:    []string{"-kind", "none"},
		ready:   `^ready: press Ctrl\+C`, // EventMeshReady, told once Run runs
		service: "worker", state: "stopped",
		inOrder: []string{"signal=terminated", "worker: stopped", "main: stopped cleanly"},
	},
	{
		name:     "init returns an error",
		args:     []string{"-kind", "init-error"},
		exitCode: 1, service: "store", op: "init", state: "failed",
		inOrder: []string{`servicemesh: service "store": init: open: connection refused`},
	},
	{
		name:     "init panics",
		args:     []string{"-kind", "init-panic"},
		exitCode: 1, service: "store", op: "init", state: "failed",
		inOrder: []string{`servicemesh: service "store": init: service "store" panicked in Init: the store's files are corrupt`},
	},
	{
		name:     "init outlasts the start timeout",
		args:     []string{"-kind", "start-timeout"},
		exitCode: 1, service: "store", op: "init", state: "failed",
		inOrder: []string{"store: connecting", `servicemesh: service "store": init: service start timed out after 200ms`},
	},
	{
		name:     "init with a context outlasts the start timeout",
		args:     []string{"-kind", "start-timeout-ctx"},
		exitCode: 1, service: "store", op: "init", state: "failed",
		inOrder: []string{"store: connecting", `servicemesh: service "store": init: service start timed out after 200ms`},
	},
	{
		name:     "resolution times out",
		args:     []string{"-kind", "resolve-timeout"},
		exitCode: 1, service: "newsletter", op: "resolve", state: "failed",
		inOrder: []string{`servicemesh: service "newsletter": resolve: dependency resolution timed out`},
	},
	{
		name:     "serve is given up on",
		args:     []string{"-kind", "serve-giveup"},
		exitCode: 1, service: "consumer", op: "serve", state: "failed",
		inOrder: []string{
			"Serve failed; restarting after a backoff", "Serve failed; restarting after a backoff",
			`servicemesh: service "consumer": serve: gave up after 2 restarts within 1m0s: the queue went away`,
		},
	},
	{
		name:     "serve returns ErrDoNotRestart",
		args:     []string{"-kind", "do-not-restart"},
		exitCode: 1, service: "consumer", op: "serve", state: "failed",
		inOrder: []string{`servicemesh: service "consumer": serve: bad credentials: do not restart`},
		absent:  []string{"restarting after a backoff"},
	},
	{
		name:     "serve returns ErrShutdownMesh", // no failure, but RunContext returns it
		args:     []string{"-kind", "shutdown-mesh"},
		exitCode: 1, service: "consumer", state: "stopped",
		inOrder: []string{
			"service asked for the mesh to shut down",
			"worker: stopped",
			`servicemesh: service "consumer": serve: the migration is done: shut the mesh down`,
		},
	},
	{
		name:     "stop outlasts the shutdown budget",
		args:     []string{"-kind", "stop-timeout"},
		ready:    `^ready: press Ctrl\+C`,
		exitCode: 1, service: "cache", op: "stop", state: "failed",
		inOrder: []string{
			"signal=terminated", "cache: flushing, forever",
			`servicemesh: service "cache": stop: service stop timed out`,
		},
	},
	{
		name:     "stop returns an error",
		args:     []string{"-kind", "stop-error"},
		ready:    `^ready: press Ctrl\+C`,
		exitCode: 1, service: "cache", op: "stop", state: "failed",
		inOrder: []string{"signal=terminated", `servicemesh: service "cache": stop: flush: disk full`},
	},
	{
		name:    "a start cut short by the shutdown",
		args:    []string{"-kind", "slow-start"},
		ready:   `^store: connecting`,
		service: "store", state: "stopped",
		inOrder: []string{"signal=terminated", "main: stopped cleanly"},
	},
	{
		name:     "KeepRunning",
		args:     []string{"-kind", "keep"},
		ready:    `^running: the mesh keeps running without store; /livez answers 503;`,
		exitCode: 1, service: "store", op: "init", state: "failed",
		inOrder: []string{"signal=terminated", "worker: stopped", `servicemesh: service "store": init: open: connection refused`},
	},
	{
		name:    "Run: init returns an error",
		args:    []string{"-kind", "init-error", "-run"},
		service: "store", op: "init", state: "failed",
		inOrder: []string{"worker: stopped", "main: Run returned"},
	},
	{
		name:    "Run: KeepRunning",
		args:    []string{"-kind", "keep", "-run"},
		ready:   `^running: the mesh keeps running without store; /livez answers 503;`,
		service: "store", op: "init", state: "failed",
		inOrder: []string{"signal=terminated", "worker: stopped", "main: Run returned"},
	},
}

// TestFailures runs the failures example once per kind of failure and
// checks the one failure rule from outside the process: the failure is
// logged once at level ERROR with its op and service and told once as
// EventServiceFailed; the mesh shuts down by itself (or, with KeepRunning,
// runs until SIGTERM); the healthy service is stopped gracefully; the
// failed service is still failed after the shutdown; and a program that
// exits with status 1 when RunContext returns an error does so, while one
// that calls Run exits with status 0.
func TestFailures(t *testing.T) {
	bin := build(t, "failures")["failures"]
	for _, tc := range failureRuns {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ready *regexp.Regexp
			if tc.ready != "" {
				ready = regexp.MustCompile(tc.ready)
			}
			p := start(t, bin, ready, nil, tc.args...)
			if ready != nil {
				p.ready(t)
				require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
			}
			out, err := p.wait(t)
			assertExit(t, tc.exitCode, err, out)
			assertLinesInOrder(t, out, tc.inOrder...)
			for _, s := range tc.absent {
				assert.NotContains(t, out, s)
			}

			failed := fmt.Sprintf("watcher: %s failed: ", tc.service) // told as EventServiceFailed
			if tc.op == "" {
				assert.NotContains(t, out, `msg="service failed"`)
				assert.NotContains(t, out, "watcher: ")
				if tc.exitCode == 0 {
					assert.NotContains(t, out, "level=ERROR")
				}
			} else {
				assert.Equal(t, 1, strings.Count(out, `msg="service failed"`), "logged once\noutput:\n%s", out)
				assertLinesInOrder(t, out, fmt.Sprintf(`level=ERROR msg="service failed" service="failures example" subject=%s op=%s `, tc.service, tc.op))
				assert.Equal(t, 1, strings.Count(out, failed), "told once\noutput:\n%s", out)
				assert.Equal(t, 1, strings.Count(out, "watcher: "), "no other service failed\noutput:\n%s", out)
			}
			// A failure outside the shutdown shuts the mesh down, unless the
			// mesh is kept running; one during the shutdown has nothing to
			// shut down.
			failFast := tc.op != "" && tc.op != "stop" && !slices.Contains(tc.args, "keep")
			if failFast {
				assertLinesInOrder(t, out, "shutting the mesh down: a service failed for good", "worker: stopped")
				assert.NotContains(t, out, "signal=", "shut down without a signal")
			} else {
				assert.NotContains(t, out, "shutting the mesh down")
			}
			if tc.op == "init" || tc.op == "resolve" {
				// Never ready: no EventMeshReady, no "mesh ready" line. (A
				// Serve fails once its Init returned, so the mesh may have
				// been ready for a moment.)
				assert.NotContains(t, out, "ready: press Ctrl+C")
				assert.NotContains(t, out, `msg="mesh ready"`)
			}
			// The healthy service was stopped gracefully, the service
			// that failed is still failed after the shutdown; and RunContext
			// returned what main printed.
			assertLinesInOrder(t, out, "worker: stopped", "main: worker is stopped")
			assert.Contains(t, out, fmt.Sprintf("main: %s is %s\n", tc.service, tc.state))
			if tc.exitCode != 0 {
				assertLinesInOrder(t, out, "main: the run failed:", fmt.Sprintf("servicemesh: service %q: ", tc.service))
			} else {
				assert.NotContains(t, out, "main: the run failed")
			}
		})
	}
}

// buildAll builds every example into a temporary directory, two at a time,
// and returns the path of each program's binary by name. It does not use
// subtests, so that -run filters cannot skip it.
func buildAll(t *testing.T) map[string]string {
	t.Helper()
	return build(t, programs...)
}

// build is buildAll for the programs named.
func build(t *testing.T, programs ...string) map[string]string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"), "the tests must run from the examples directory")

	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	dir := t.TempDir()
	bin := make(map[string]string, len(programs))
	failures := make([]string, len(programs))
	slots := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, name := range programs {
		path := filepath.Join(dir, name)
		bin[name] = path
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			args := []string{"build", "-o", path}
			if raceEnabled {
				args = append(args, "-race")
			}
			cmd := exec.CommandContext(ctx, "go", append(args, "./examples/"+name)...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				failures[i] = fmt.Sprintf("go build ./examples/%s: %v\n%s", name, err, out)
			}
		})
	}
	wg.Wait()
	for _, f := range failures {
		assert.Empty(t, f)
	}
	if t.Failed() {
		t.FailNow()
	}
	return bin
}

// process is a running example.
type process struct {
	ctx    context.Context // ends at runTimeout; the process is then killed
	cmd    *exec.Cmd
	out    *output
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's result, set before exited is closed
}

// start runs bin with args, bounded by runTimeout, with env added to the
// environment. If ready is not nil, the first output line matching it can
// be awaited with process.ready. The process is killed, if still running,
// and reaped when the test ends.
func start(t *testing.T, bin string, ready *regexp.Regexp, env []string, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	out := &output{match: ready, found: make(chan []string, 1)}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // bounds Wait once the process was killed
	// Race-enabled binaries otherwise linger a second before exiting.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append(os.Environ(), "GORACE="+gorace), env...)

	p := &process{ctx: ctx, cmd: cmd, out: out, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		require.NoError(t, err)
	}
	go func() {
		defer close(p.exited)
		p.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-p.exited
	})
	return p
}

// ready waits until the process prints its ready line and returns the
// line's submatches. It fails the test if the process exits first or the
// run times out.
func (p *process) ready(t *testing.T) []string {
	t.Helper()
	select {
	case m := <-p.out.found:
		return m
	case <-p.exited:
		require.FailNow(t, "the example exited before it was ready", "error: %v\noutput:\n%s", p.err, p.out)
	case <-p.ctx.Done():
		require.FailNow(t, "the example was not ready in time", "output:\n%s", p.out)
	}
	return nil
}

// wait waits for the process to exit and returns its output and Wait's
// error. A run that exceeds runTimeout is killed and reported.
func (p *process) wait(t *testing.T) (string, error) {
	t.Helper()
	<-p.exited // the context kills the process at runTimeout at the latest
	out := p.out.String()
	if err := p.ctx.Err(); err != nil {
		require.FailNow(t, "the example did not exit in time", "%v\noutput:\n%s", err, out)
	}
	return out, p.err
}

// output collects a process's output, stdout and stderr together, and
// reports the first line that matches a pattern.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int            // bytes of buf already looked at for the pattern
	match   *regexp.Regexp // nil once a line matched
	found   chan []string  // receives the first matching line's submatches
}

// Write records p and checks the lines it completes against the pattern.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for o.match != nil {
		rest := o.buf.Bytes()[o.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		o.scanned += i + 1
		if m := o.match.FindStringSubmatch(string(rest[:i])); m != nil {
			o.found <- m // buffered; sent at most once
			o.match = nil
		}
	}
	return len(p), nil
}

// String returns everything written so far.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// assertExit checks that the process exited with code want.
func assertExit(t *testing.T, want int, err error, out string) {
	t.Helper()
	if want == 0 {
		assert.NoError(t, err, "output:\n%s", out)
		return
	}
	var exit *exec.ExitError
	if assert.ErrorAs(t, err, &exit, "output:\n%s", out) {
		assert.Equal(t, want, exit.ExitCode(), "output:\n%s", out)
	}
}

// assertLinesInOrder checks that out has lines containing each of want, in
// that order (other lines may come between them).
func assertLinesInOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	next := 0
	for _, w := range want {
		found := false
		for next < len(lines) {
			line := lines[next]
			next++
			if strings.Contains(line, w) {
				found = true
				break
			}
		}
		if !assert.True(t, found, "no line containing %q (in this order) in the output:\n%s", w, out) {
			return
		}
	}
}
