package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newMesh returns a mesh that logs nowhere, shut down and waited for at
// cleanup.
func newMesh(t *testing.T) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New("shop")
	m.SetLogDestination(io.Discard)
	t.Cleanup(func() { m.Shutdown().Wait() })
	return m
}

// run runs m as main does, Run on a goroutine of its own, and returns once
// Run began: from then on the mesh's first readiness is latched, which
// /startupz reports. At cleanup it shuts m down and waits for Run.
func run(t *testing.T, m servicemesh.Mesh) {
	t.Helper()
	began := make(chan struct{})
	var once sync.Once
	m.Events().On(servicemesh.EventRuntimeRunLoopInitiated, func(...any) { once.Do(func() { close(began) }) })
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		m.Run()
	}()
	<-began
	t.Cleanup(func() {
		m.Shutdown().Wait()
		<-ran
	})
}

type plain struct{ name string }

func (p *plain) Name() string          { return p.name }
func (p *plain) Init(servicemesh.Mesh) {}

// blocked stays in Init until release is closed.
type blocked struct{ release chan struct{} }

func (*blocked) Name() string            { return "blocked" }
func (b *blocked) Init(servicemesh.Mesh) { <-b.release }

// broken fails to start.
type broken struct{}

func (broken) Name() string          { return "broken" }
func (broken) Init(servicemesh.Mesh) {}
func (broken) InitContext(context.Context, servicemesh.Mesh) error {
	return errors.New("password=hunter2 rejected")
}

// checked counts its HealthCheck calls and how many were in flight at
// most; each call takes took, or waits for block ignoring its context, or
// panics.
type checked struct {
	took   time.Duration
	block  chan struct{}
	panics bool

	calls, inFlight, maxInFlight atomic.Int32
}

func (*checked) Name() string          { return "checked" }
func (*checked) Init(servicemesh.Mesh) {}
func (c *checked) HealthCheck(context.Context) error {
	c.calls.Add(1)
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if c.panics {
		panic("check exploded")
	}
	if c.block != nil {
		<-c.block
	}
	time.Sleep(c.took)
	return nil
}

// answer is a probe's decoded reply.
type answer struct {
	Code     int
	Status   string `json:"status"`
	Mesh     string `json:"mesh"`
	Services []struct {
		Name  string            `json:"name"`
		State servicemesh.State `json:"state"`
		Error string            `json:"error"`
	} `json:"services"`
}

func probe(t *testing.T, h http.Handler, path string) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var a answer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a), rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	a.Code = rec.Code
	return a
}

// Only GET and HEAD of the three paths are answered.
func TestMethodsAndPaths(t *testing.T) {
	m := newMesh(t)
	m.Add(&plain{name: "db"}).Wait()
	run(t, m)
	require.NoError(t, servicemesh.WaitReady(t.Context(), m))
	h := health.Handler(m)
	tests := []struct {
		method, path string
		code         int
		body         bool
	}{
		{http.MethodGet, "/livez", http.StatusOK, true},
		{http.MethodGet, "/readyz", http.StatusOK, true},
		{http.MethodGet, "/startupz", http.StatusOK, true},
		{http.MethodHead, "/readyz", http.StatusOK, false},
		{http.MethodPost, "/readyz", http.StatusMethodNotAllowed, true},
		{http.MethodDelete, "/livez", http.StatusMethodNotAllowed, true},
		{http.MethodGet, "/", http.StatusNotFound, true},
		{http.MethodGet, "/healthz", http.StatusNotFound, true},
		{http.MethodGet, "/readyz/", http.StatusNotFound, true},
		{http.MethodPost, "/nowhere", http.StatusNotFound, true},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		assert.Equal(t, tc.code, rec.Code, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.body, rec.Body.Len() > 0, "%s %s: body", tc.method, tc.path)
		if tc.code == http.StatusMethodNotAllowed {
			assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		}
	}
}

// The three probes through a mesh's life: starting, running, a failure,
// shutting down, stopped.
func TestProbesThroughTheMeshsLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		h := health.Handler(m)
		b := &blocked{release: make(chan struct{})}
		// b first: added second, the mesh could be ready (and so started)
		// with db alone, between the two Adds.
		m.Add(b)
		m.Add(&plain{name: "db"})
		run(t, m)
		synctest.Wait()

		codes := func() [3]int {
			return [3]int{probe(t, h, "/livez").Code, probe(t, h, "/readyz").Code, probe(t, h, "/startupz").Code}
		}
		const ok, no = http.StatusOK, http.StatusServiceUnavailable
		assert.Equal(t, [3]int{ok, no, no}, codes(), "starting")

		close(b.release)
		synctest.Wait()
		assert.Equal(t, [3]int{ok, ok, ok}, codes(), "running")

		a := probe(t, h, "/readyz")
		assert.Equal(t, "pass", a.Status)
		assert.Equal(t, "shop", a.Mesh)
		require.Len(t, a.Services, 2)
		assert.Equal(t, "db", a.Services[1].Name)
		assert.Equal(t, servicemesh.StateRunning, a.Services[1].State)

		require.True(t, servicemesh.SetDrainDelay(m, time.Second))
		m.Shutdown()
		assert.Equal(t, [3]int{ok, no, ok}, codes(), "draining: alive, not ready")
		m.Shutdown().Wait()
		assert.Equal(t, [3]int{no, no, ok}, codes(), "stopped")
	})
}

// Liveness fails once the mesh has stopped, even with no failure.
func TestLivezAfterShutdown(t *testing.T) {
	m := newMesh(t)
	m.Add(&plain{name: "db"}).Wait()
	h := health.Handler(m)
	assert.Equal(t, http.StatusOK, probe(t, h, "/livez").Code)
	m.Shutdown().Wait()
	a := probe(t, h, "/livez")
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.Equal(t, "fail", a.Status)
	assert.Equal(t, servicemesh.StateStopped, a.Services[0].State)
}

// A service failed for good fails /livez; its error text is shown only when
// the application asks for it.
func TestFailedServiceAndErrorText(t *testing.T) {
	m := newMesh(t)
	m.Add(broken{}).Wait()
	for _, tc := range []struct {
		name string
		opts []health.Option
		want string
	}{
		{"by default", nil, ""},
		{"WithErrors", []health.Option{health.WithErrors()}, "password=hunter2 rejected"},
		{"a nil option", []health.Option{nil}, ""},
	} {
		a := probe(t, health.Handler(m, tc.opts...), "/livez")
		assert.Equal(t, http.StatusServiceUnavailable, a.Code, "a service failed for good")
		assert.Equal(t, "fail", a.Status)
		require.Len(t, a.Services, 1, tc.name)
		assert.Equal(t, servicemesh.StateFailed, a.Services[0].State, tc.name)
		assert.Contains(t, a.Services[0].Error, tc.want, tc.name)
		if tc.want == "" {
			assert.Empty(t, a.Services[0].Error, tc.name)
		}
	}
}

// Probes hammering the handler share one health check at a time: results
// are cached, and no goroutine piles up behind a slow check.
func TestHammeringProbesShareOneCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		c := &checked{took: 500 * time.Millisecond}
		m.Add(c)
		run(t, m)
		require.NoError(t, servicemesh.WaitReady(t.Context(), m))
		h := health.Handler(m)
		base := c.calls.Load()

		hammer := func() {
			var wg sync.WaitGroup
			for i := range 64 {
				path := [...]string{"/livez", "/readyz", "/startupz"}[i%3]
				wg.Go(func() {
					for range 20 {
						assert.Equal(t, http.StatusOK, probe(t, h, path).Code, path)
					}
				})
			}
			wg.Wait()
		}
		hammer()
		assert.Equal(t, base, c.calls.Load(), "answered from the cache")

		time.Sleep(time.Second) // the cached result is stale
		hammer()
		assert.Equal(t, base+1, c.calls.Load(), "one check for 1280 probes")
		assert.Equal(t, int32(1), c.maxInFlight.Load())
	})
}

// A hung health check makes /readyz fail after the timeout, then at once,
// without calling the service again; /livez and /startupz never wait.
func TestHungCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMesh(t)
		c := &checked{block: make(chan struct{})}
		m.Add(c)
		synctest.Wait()
		h := health.Handler(m)

		start := time.Now()
		assert.Equal(t, http.StatusOK, probe(t, h, "/livez").Code)
		assert.Zero(t, time.Since(start), "/livez does not wait for checks")

		assert.Equal(t, http.StatusServiceUnavailable, probe(t, h, "/readyz").Code)
		assert.LessOrEqual(t, time.Since(start), 2*time.Second)
		start = time.Now()
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				assert.Equal(t, http.StatusServiceUnavailable, probe(t, h, "/readyz").Code)
			})
		}
		wg.Wait()
		assert.Zero(t, time.Since(start), "past its timeout, a check fails at once")
		assert.Equal(t, int32(1), c.calls.Load(), "no pile-up")
		assert.Equal(t, http.StatusServiceUnavailable, probe(t, h, "/startupz").Code)
		close(c.block)
	})
}

// A panicking health check fails /readyz, not /livez.
func TestPanickingCheck(t *testing.T) {
	m := newMesh(t)
	m.Add(&checked{panics: true}).Wait()
	h := health.Handler(m)
	assert.Equal(t, http.StatusServiceUnavailable, probe(t, h, "/readyz").Code)
	assert.Equal(t, http.StatusOK, probe(t, h, "/livez").Code)
}

// Mounted under a prefix on a real server.
func TestMountedUnderAPrefix(t *testing.T) {
	m := newMesh(t)
	m.Add(&plain{name: "db"}).Wait()
	run(t, m)
	require.NoError(t, servicemesh.WaitReady(t.Context(), m))
	mux := http.NewServeMux()
	mux.Handle("/health/", http.StripPrefix("/health", health.Handler(m)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/health/livez", "/health/readyz", "/health/startupz"} {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		var a answer
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, "pass", a.Status, path)
	}
}

// A Mesh not made by New: alive, never ready, nothing listed.
func TestForeignMesh(t *testing.T) {
	h := health.Handler(nil)
	assert.Equal(t, http.StatusOK, probe(t, h, "/livez").Code)
	assert.Equal(t, http.StatusServiceUnavailable, probe(t, h, "/readyz").Code)
	a := probe(t, h, "/startupz")
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.Empty(t, a.Services)
}
