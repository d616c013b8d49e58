package benchmarks

// The readiness probe (servicemesh only): one GET /readyz answered by
// health.Handler against a mesh of running services, some of which
// implement HasReadiness and some HasHealthCheck.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
)

// meshReadiness is a running service with Ready (HasReadiness).
type meshReadiness struct {
	name  string
	ready atomic.Bool
}

func (s *meshReadiness) Name() string          { return s.name }
func (s *meshReadiness) Init(servicemesh.Mesh) { s.ready.Store(true) }
func (s *meshReadiness) Ready() bool           { return s.ready.Load() }

// meshChecked is a running service with a HealthCheck (HasHealthCheck)
// that passes at once and counts its calls, so that what is timed is the
// mesh's work, not the check's.
type meshChecked struct {
	name   string
	checks *atomic.Int64
}

func (s *meshChecked) Name() string          { return s.name }
func (s *meshChecked) Init(servicemesh.Mesh) {}
func (s *meshChecked) HealthCheck(ctx context.Context) error {
	s.checks.Add(1)
	return ctx.Err()
}

// ReadyzBench is a mesh of running services and its health handler.
type ReadyzBench struct {
	m       servicemesh.Mesh
	h       http.Handler
	names   []string
	checked []*meshChecked // the services with a HealthCheck, in the mesh
	checks  atomic.Int64   // HealthCheck calls so far
	rec     *httptest.ResponseRecorder
	req     *http.Request
	wgs     []*sync.WaitGroup
}

// NewReadyzBench adds n services to a new mesh, one in five with Ready,
// one in five with a HealthCheck, the rest with neither, and waits until
// the mesh is ready.
func NewReadyzBench(n int) (*ReadyzBench, error) {
	if n <= 0 {
		return nil, errors.New("no services")
	}
	r := &ReadyzBench{
		m:     newMesh("readyz"),
		names: serviceNames(n),
		req:   httptest.NewRequest(http.MethodGet, "/readyz", nil),
	}
	r.h = health.Handler(r.m)
	var inits atomic.Int64
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		var s servicemesh.Service
		switch i % 5 {
		case 0:
			s = &meshReadiness{name: r.names[i]}
		case 1:
			c := &meshChecked{name: r.names[i], checks: &r.checks}
			r.checked = append(r.checked, c)
			s = c
		default:
			s = &meshPlain{name: r.names[i], inits: &inits}
		}
		wgs[i] = r.m.Add(s)
	}
	waitAll(wgs)
	if err := servicemesh.WaitReady(context.Background(), r.m); err != nil {
		r.m.Shutdown().Wait()
		return nil, err
	}
	return r, nil
}

// Checked returns how many services have a HealthCheck.
func (r *ReadyzBench) Checked() int { return len(r.checked) }

// Checks returns how many HealthChecks were called so far.
func (r *ReadyzBench) Checks() int64 { return r.checks.Load() }

// Probe serves one GET /readyz into a new recorder and checks that the
// answer is 200 with a body that says so.
func (r *ReadyzBench) Probe() error {
	r.rec = httptest.NewRecorder()
	r.h.ServeHTTP(r.rec, r.req)
	if r.rec.Code != http.StatusOK {
		return fmt.Errorf("/readyz answered %d: %s", r.rec.Code, r.rec.Body)
	}
	if !strings.HasPrefix(r.rec.Body.String(), `{"status":"pass"`) {
		return fmt.Errorf("/readyz answered 200 with %s", r.rec.Body)
	}
	return nil
}

// Chill makes the next probe find no cached health check result: it
// removes every service with a HealthCheck and adds a new one in its
// place (the cache is kept per service in the mesh), and waits for both.
// The mesh, already found ready once, does not check the new ones itself,
// so the next probe runs every HealthCheck, in parallel, and waits for
// them.
func (r *ReadyzBench) Chill() {
	r.wgs = r.wgs[:0]
	for _, c := range r.checked {
		r.wgs = append(r.wgs, r.m.Remove(c))
	}
	waitAll(r.wgs)
	r.wgs = r.wgs[:0]
	for i, c := range r.checked {
		r.checked[i] = &meshChecked{name: c.name, checks: &r.checks}
		r.wgs = append(r.wgs, r.m.Add(r.checked[i]))
	}
	waitAll(r.wgs)
}

// Close shuts the mesh down.
func (r *ReadyzBench) Close() { r.m.Shutdown().Wait() }
