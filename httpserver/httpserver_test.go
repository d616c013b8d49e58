package httpserver_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/httpserver"
	"github.com/gravestench/servicemesh/meshtest"
)

// bound is the generous limit on every wait on real sockets and on the
// mesh: a wait that takes it has failed, one that succeeds takes
// milliseconds.
const bound = 10 * time.Second

// runner runs a mesh with RunContext on a goroutine of its own.
type runner struct {
	cancel context.CancelFunc
	done   chan error
}

// run starts m with RunContext; the test ends it with stop (or waits for
// a run that ends by itself with wait).
func run(t *testing.T, m servicemesh.Mesh) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- servicemesh.RunContext(ctx, m) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(bound):
			t.Errorf("RunContext did not return within %v of the test's end", bound)
		}
	})
	return r
}

// wait returns what RunContext returned, failing the test if it has not
// returned within bound.
func (r *runner) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(bound):
		t.Fatalf("RunContext did not return within %v", bound)
		return nil
	}
}

// stop ends the run as a signal would, and returns what RunContext returned.
func (r *runner) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// waitReady waits, within bound, until m is ready.
func waitReady(t *testing.T, m servicemesh.Mesh) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	require.NoError(t, servicemesh.WaitReady(ctx, m))
}

// recv receives from c within bound.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(bound):
		t.Fatalf("no %s within %v", what, bound)
		var zero T
		return zero
	}
}

// newClient returns a client of its own, whose connections are closed when
// the test ends, so that none is left behind.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: bound}
}

// result is the outcome of one request.
type result struct {
	status int
	body   string
	err    error
}

// get makes a GET request to addr's path.
func get(c *http.Client, addr net.Addr, path string) result {
	resp, err := c.Get("http://" + addr.String() + path)
	if err != nil {
		return result{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(body), err: err}
}

// state returns the state of the service named name in m.
func state(t *testing.T, m servicemesh.Mesh, name string) servicemesh.ServiceStatus {
	t.Helper()
	for _, s := range servicemesh.Status(m).Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q in the mesh", name)
	return servicemesh.ServiceStatus{}
}

// serviceError returns the *servicemesh.ServiceError in err.
func serviceError(t *testing.T, err error) *servicemesh.ServiceError {
	t.Helper()
	var se *servicemesh.ServiceError
	require.ErrorAs(t, err, &se)
	return se
}

// hello answers every request with "hello".
var hello = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "hello")
})

func TestServesRequestsAfterWaitReady(t *testing.T) {
	m := meshtest.New(t)
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: hello})
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)

	assert.True(t, web.Ready())
	c := newClient(t)
	for range 3 {
		res := get(c, web.Addr(), "/")
		require.NoError(t, res.err)
		assert.Equal(t, http.StatusOK, res.status)
		assert.Equal(t, "hello", res.body)
	}
	require.NoError(t, r.stop(t))
}

func TestAddrIsTheBoundAddress(t *testing.T) {
	m := meshtest.New(t)
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: hello})
	assert.Nil(t, web.Addr(), "before the bind")
	assert.False(t, web.Ready(), "before the bind")
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)

	addr, ok := web.Addr().(*net.TCPAddr)
	require.True(t, ok, "Addr is %T", web.Addr())
	assert.True(t, addr.IP.Equal(net.IPv4(127, 0, 0, 1)), "IP %v", addr.IP)
	assert.NotZero(t, addr.Port, "port 0 was replaced by the port bound")
	res := get(newClient(t), addr, "/")
	require.NoError(t, res.err)
	assert.Equal(t, "hello", res.body)

	require.NoError(t, r.stop(t))
	assert.Equal(t, addr, web.Addr(), "the same after the stop")
}

func TestPortInUseFailsTheStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	addr := taken.Addr().String()

	m := meshtest.New(t)
	web := httpserver.New("web", &http.Server{Addr: addr, Handler: hello})
	m.Add(web)
	// Fail fast: the mesh shuts down by itself and RunContext returns.
	err = run(t, m).wait(t)

	se := serviceError(t, err)
	assert.Equal(t, "web", se.Service)
	assert.Equal(t, "init", se.Op)
	assert.Contains(t, err.Error(), addr, "the error names the address")
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr, "it wraps the listen error")
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Nil(t, web.Addr())
	assert.False(t, web.Ready())
	assert.Equal(t, servicemesh.StateFailed, state(t, m, "web").State)
}

func TestInFlightRequestFinishesDuringShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux}
	shutdownBegan := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdownBegan) })

	m := meshtest.New(t)
	servicemesh.SetShutdownTimeout(m, bound)
	web := httpserver.New("web", srv)
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)

	results := make(chan result, 1)
	c := newClient(t)
	go func() { results <- get(c, web.Addr(), "/slow") }()
	recv(t, entered, "request in the handler")

	r.cancel()
	recv(t, shutdownBegan, "srv.Shutdown")
	assert.False(t, web.Ready(), "not ready once its stop began")
	select {
	case err := <-r.done:
		t.Fatalf("RunContext returned while a request was in flight: %v", err)
	default: // the drain waits for the handler, which cannot return yet
	}

	close(release)
	res := recv(t, results, "response")
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "finished", res.body)
	require.NoError(t, r.wait(t))
	assert.Equal(t, servicemesh.StateStopped, state(t, m, "web").State)
}

func TestStuckHandlerIsBoundedByShutdownTimeout(t *testing.T) {
	entered, release, handlerDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/stuck", func(http.ResponseWriter, *http.Request) {
		defer close(handlerDone)
		close(entered)
		<-release // not even the request's context: it never returns by itself
	})
	t.Cleanup(func() { // let its goroutine end, for goleak
		close(release)
		recv(t, handlerDone, "end of the released handler")
	})

	const budget = 300 * time.Millisecond
	m := meshtest.New(t)
	servicemesh.SetShutdownTimeout(m, budget)
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: mux})
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)

	results := make(chan result, 1)
	c := newClient(t)
	go func() { results <- get(c, web.Addr(), "/stuck") }()
	recv(t, entered, "request in the handler")

	began := time.Now()
	err := r.stop(t)
	took := time.Since(began)

	require.ErrorIs(t, err, servicemesh.ErrStopTimeout)
	se := serviceError(t, err)
	assert.Equal(t, "web", se.Service)
	assert.Equal(t, "stop", se.Op)
	assert.GreaterOrEqual(t, took, budget, "the drain waited for the budget")
	assert.Less(t, took, bound, "the budget bounded the stop")
	// srv.Close closed the stuck request's connection: its client gets an
	// error while the handler is still blocked.
	res := recv(t, results, "end of the stuck request")
	assert.Error(t, res.err)
	select {
	case <-handlerDone:
		t.Fatal("the handler returned before it was released")
	default:
	}
	assert.Equal(t, servicemesh.StateFailed, state(t, m, "web").State)
}

func TestCleanShutdownLeavesStateStopped(t *testing.T) {
	m := meshtest.New(t)
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: hello})
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)
	addr := web.Addr()
	assert.Equal(t, servicemesh.StateRunning, state(t, m, "web").State)

	require.NoError(t, r.stop(t))
	st := state(t, m, "web")
	assert.Equal(t, servicemesh.StateStopped, st.State)
	assert.Empty(t, st.Error)
	assert.False(t, web.Ready())
	// The listener is closed: the address can be bound again.
	ln, err := net.Listen("tcp", addr.String())
	require.NoError(t, err, "the stopped server still holds %v", addr)
	require.NoError(t, ln.Close())
}

func TestServeAfterTheStop(t *testing.T) {
	m := meshtest.New(t)
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: hello})
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)
	require.NoError(t, r.stop(t))

	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	err := web.Serve(ctx) // returns at once: the context is live
	require.ErrorIs(t, err, httpserver.ErrStopped)
	assert.ErrorIs(t, err, servicemesh.ErrDoNotRestart)
	assert.Contains(t, err.Error(), `"web"`)
	assert.ErrorIs(t, web.InitContext(ctx, m), httpserver.ErrStopped)
	assert.False(t, web.Ready())
}

func TestHandlerPanicIsRecoveredByNetHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.Handle("/", hello)
	// net/http logs the recovered panic to ErrorLog: keep it off the output.
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	m := meshtest.New(t)
	web := httpserver.New("web", srv)
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)

	c := newClient(t)
	res := get(c, web.Addr(), "/panic")
	assert.Error(t, res.err, "net/http closes the connection without a response")
	res = get(c, web.Addr(), "/")
	require.NoError(t, res.err)
	assert.Equal(t, "hello", res.body, "the server goes on serving")
	assert.True(t, web.Ready())
	assert.True(t, servicemesh.Ready(m))

	require.NoError(t, r.stop(t))
	assert.Equal(t, servicemesh.StateStopped, state(t, m, "web").State)
}

func TestNilHTTPServerFailsTheStart(t *testing.T) {
	m := meshtest.New(t)
	web := httpserver.New("web", nil)
	m.Add(web)
	err := run(t, m).wait(t)

	se := serviceError(t, err)
	assert.Equal(t, "web", se.Service)
	assert.Equal(t, "init", se.Op)
	assert.Contains(t, se.Err.Error(), `"web"`, "the error names the service")
	assert.Contains(t, se.Err.Error(), "nil *http.Server")
	assert.Equal(t, servicemesh.StateFailed, state(t, m, "web").State)
}

func TestEmptyNameIsDefaultName(t *testing.T) {
	web := httpserver.New("", &http.Server{})
	assert.Equal(t, httpserver.DefaultName, web.Name())
	assert.Equal(t, "http server", web.Name())
}

func TestSameHTTPServerGivenTwice(t *testing.T) {
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: hello}
	first := httpserver.New("first", srv)
	second := httpserver.New("second", srv)

	m := meshtest.New(t)
	m.Add(first)
	m.Add(second)
	err := run(t, m).wait(t)

	se := serviceError(t, err)
	assert.Equal(t, "second", se.Service)
	assert.Equal(t, "init", se.Op)
	assert.Contains(t, se.Err.Error(), `"first"`, "the error names the owner")
	assert.Nil(t, second.Addr(), "the second bound nothing")
	assert.Equal(t, servicemesh.StateFailed, state(t, m, "second").State)
	assert.NotNil(t, first.Addr(), "the first was started")
	assert.Equal(t, servicemesh.StateStopped, state(t, m, "first").State, "and stopped by the fail-fast shutdown")
	// The second's stop leaves the first's server alone.
	assert.NoError(t, second.OnShutdownContext(context.Background()))
}

func TestServerClosedOutsideItsStopFailsForGood(t *testing.T) {
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: hello}
	m := meshtest.New(t)
	web := httpserver.New("web", srv)
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)

	require.NoError(t, srv.Close()) // not the mesh: a shut server never serves again
	err := r.wait(t)                // fail fast: no restart

	require.ErrorIs(t, err, http.ErrServerClosed)
	assert.ErrorIs(t, err, servicemesh.ErrDoNotRestart)
	se := serviceError(t, err)
	assert.Equal(t, "web", se.Service)
	assert.Equal(t, "serve", se.Op)
	assert.Equal(t, servicemesh.StateFailed, state(t, m, "web").State)
	assert.Zero(t, state(t, m, "web").Restarts)
	assert.False(t, web.Ready())
}

// restartWatcher tells the errors of the restarts in its mesh.
type restartWatcher struct{ restarting chan error }

func (*restartWatcher) Name() string          { return "restart watcher" }
func (*restartWatcher) Init(servicemesh.Mesh) {}
func (w *restartWatcher) OnServiceRestarting(_ servicemesh.Service, err error) {
	select {
	case w.restarting <- err:
	default:
	}
}

func TestServeRestartsOnTheSameAddress(t *testing.T) {
	// BaseContext is handed each listener srv.Serve serves on.
	listeners := make(chan net.Listener, 2)
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: hello, BaseContext: func(ln net.Listener) context.Context {
		listeners <- ln
		return context.Background()
	}}
	m := meshtest.New(t)
	servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{Backoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	watcher := &restartWatcher{restarting: make(chan error, 1)}
	m.Add(watcher)
	web := httpserver.New("web", srv)
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)
	addr := web.Addr()
	c := newClient(t)
	require.NoError(t, get(c, addr, "/").err)

	// The listener fails under srv.Serve, which returns by itself.
	require.NoError(t, recv(t, listeners, "first listener").Close())
	err := recv(t, watcher.restarting, "restart")
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.Contains(t, err.Error(), addr.String())

	recv(t, listeners, "listener of the restarted Serve")
	waitReady(t, m)
	assert.Equal(t, addr, web.Addr(), "the same address")
	c.CloseIdleConnections() // the old connection died with the old listener
	res := get(c, addr, "/")
	require.NoError(t, res.err)
	assert.Equal(t, "hello", res.body)
	assert.Equal(t, 1, state(t, m, "web").Restarts)

	require.NoError(t, r.stop(t))
	assert.Equal(t, servicemesh.StateStopped, state(t, m, "web").State)
}

func TestInitContextCutShortKeepsNothingBound(t *testing.T) {
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := web.InitContext(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, web.Addr())
	assert.False(t, web.Ready())
}

// TestMisuseWithoutAMesh calls the methods directly, out of order: each
// returns an error or nothing, and none panics.
func TestMisuseWithoutAMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	t.Run("nil http.Server", func(t *testing.T) {
		web := httpserver.New("web", nil)
		err := web.InitContext(ctx, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"web"`)
		assert.Contains(t, err.Error(), "nil *http.Server")
		assert.ErrorIs(t, web.Serve(ctx), servicemesh.ErrDoNotRestart)
		assert.NoError(t, web.OnShutdownContext(ctx))
		assert.Nil(t, web.Addr())
		assert.False(t, web.Ready())
	})
	t.Run("nil Server", func(t *testing.T) {
		var web *httpserver.Server
		assert.Equal(t, httpserver.DefaultName, web.Name())
		assert.Error(t, web.InitContext(ctx, nil))
		web.Init(nil)
		assert.ErrorIs(t, web.Serve(ctx), servicemesh.ErrDoNotRestart)
		assert.NoError(t, web.OnShutdownContext(ctx))
		assert.Nil(t, web.Addr())
		assert.False(t, web.Ready())
		web.SetLogger(nil)
		assert.Nil(t, web.Logger())
	})
	t.Run("Addr before Init", func(t *testing.T) {
		web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0"})
		assert.Nil(t, web.Addr())
		assert.False(t, web.Ready())
	})
	t.Run("Serve before Init", func(t *testing.T) {
		web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0"})
		err := web.Serve(ctx) // returns at once: the context is live
		require.ErrorIs(t, err, servicemesh.ErrDoNotRestart)
		assert.Contains(t, err.Error(), "before InitContext")
	})
	t.Run("OnShutdownContext without a start", func(t *testing.T) {
		web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0"})
		assert.NoError(t, web.OnShutdownContext(ctx))
		assert.ErrorIs(t, web.InitContext(ctx, nil), httpserver.ErrStopped, "it cannot start any more")
		assert.Nil(t, web.Addr())
		assert.False(t, web.Ready())
	})
	t.Run("stop of a bound Server never served", func(t *testing.T) {
		web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0"})
		require.NoError(t, web.InitContext(ctx, nil))
		addr := web.Addr()
		require.NotNil(t, addr)
		assert.True(t, web.Ready(), "ready once bound")
		require.NoError(t, web.OnShutdownContext(ctx))
		assert.False(t, web.Ready())
		assert.NoError(t, web.OnShutdownContext(ctx), "a second stop")
		err := web.Serve(ctx)
		assert.ErrorIs(t, err, httpserver.ErrStopped)
		assert.ErrorIs(t, err, servicemesh.ErrDoNotRestart)
		ln, err := net.Listen("tcp", addr.String())
		require.NoError(t, err, "the listener was closed")
		require.NoError(t, ln.Close())
	})
	t.Run("same http.Server twice", func(t *testing.T) {
		srv := &http.Server{Addr: "127.0.0.1:0"}
		_ = httpserver.New("first", srv)
		second := httpserver.New("second", srv)
		err := second.InitContext(ctx, nil)
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), `"second"`) && strings.Contains(err.Error(), `"first"`), err.Error())
		assert.Nil(t, second.Addr())
		assert.False(t, errors.Is(err, httpserver.ErrStopped))
	})
}

func TestRemoveLeavesItServingAndAddHandsItBack(t *testing.T) {
	m := meshtest.New(t)
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: hello})
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)
	addr := web.Addr()
	c := newClient(t)

	m.Remove(web).Wait() // ends Serve's context, calls no stop
	res := get(c, addr, "/")
	require.NoError(t, res.err, "the server goes on serving after Remove")
	assert.Equal(t, "hello", res.body)
	assert.True(t, web.Ready())

	m.Add(web).Wait() // binds nothing: the running server is handed back
	waitReady(t, m)
	assert.Equal(t, addr, web.Addr())
	res = get(c, addr, "/")
	require.NoError(t, res.err)
	assert.Equal(t, "hello", res.body)

	require.NoError(t, r.stop(t))
	assert.Equal(t, servicemesh.StateStopped, state(t, m, "web").State)
	assert.False(t, web.Ready())
}

func TestOnShutdownContextCalledWhileServing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: hello})
	require.NoError(t, web.InitContext(ctx, nil))
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx) }() // its context stays live
	res := get(newClient(t), web.Addr(), "/")
	require.NoError(t, res.err)
	assert.Equal(t, "hello", res.body)

	require.NoError(t, web.OnShutdownContext(ctx))
	assert.NoError(t, recv(t, served, "return of Serve"), "a stop is no failure of Serve")
	assert.False(t, web.Ready())
}

func TestRestartThatCannotBindAgainGivesUp(t *testing.T) {
	listeners := make(chan net.Listener, 1)
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: hello, BaseContext: func(ln net.Listener) context.Context {
		listeners <- ln
		return context.Background()
	}}
	m := meshtest.New(t)
	servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{MaxRestarts: 1, Backoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	web := httpserver.New("web", srv)
	m.Add(web)
	r := run(t, m)
	waitReady(t, m)
	addr := web.Addr().String()

	// The listener fails, and something else takes the port before the
	// restart can bind it again.
	require.NoError(t, recv(t, listeners, "listener").Close())
	taken, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()

	err = r.wait(t) // the policy gives up: fail fast
	se := serviceError(t, err)
	assert.Equal(t, "web", se.Service)
	assert.Equal(t, "serve", se.Op)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Contains(t, err.Error(), "listen again on "+addr)
	assert.Equal(t, servicemesh.StateFailed, state(t, m, "web").State)
	assert.False(t, web.Ready())
}
