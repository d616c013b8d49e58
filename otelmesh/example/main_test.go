package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example's server, on loopback, serves the mesh's metrics for
// Prometheus beside its probes and its status page.
func TestExampleServesMetrics(t *testing.T) {
	a, err := newApp("127.0.0.1:0")
	require.NoError(t, err)
	a.mesh.SetLogDestination(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- servicemesh.RunContext(ctx, a.mesh) }()
	require.NoError(t, servicemesh.WaitReady(ctx, a.mesh))
	base := "http://" + a.web.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}
	// otelmesh hears of the changes on a goroutine of its own, and the
	// mesh tells its readiness to subscribers up to a second late: scrape
	// until the mesh reads ready.
	var body string
	for {
		var code int
		code, body = get("/metrics")
		require.Equal(t, http.StatusOK, code)
		if regexp.MustCompile(`servicemesh_mesh_ready\{[^}]*\} 1`).MatchString(body) {
			break
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "the mesh never read ready", body)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, svc := range []string{"store", "worker", "web"} {
		assert.Regexp(t, `servicemesh_service_state\{[^}]*servicemesh_service="`+svc+`",servicemesh_state="running"[^}]*\} 1`, body)
		assert.Regexp(t, `servicemesh_service_state\{[^}]*servicemesh_service="`+svc+`",servicemesh_state="failed"[^}]*\} 0`, body)
		assert.Regexp(t, `servicemesh_service_init_duration_seconds_count\{[^}]*servicemesh_service="`+svc+`"[^}]*\} 1`, body)
	}
	code, _ := get("/health/readyz")
	assert.Equal(t, http.StatusOK, code)
	code, body = get("/status/status.json")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"name":"example"`)

	a.mesh.Shutdown()
	require.NoError(t, <-ran)
	a.close()
	http.DefaultClient.CloseIdleConnections()
}
