package servicemesh_test

// What Add publishes (DESIGN §3, Add): a service is listed, and found by
// other services, only once it is set up; a service is one service, however
// its value compares.

import (
	"log/slog"
	"math"
	"sync"
	"testing"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowLogged blocks in SetLogger until release is closed.
type slowLogged struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	logger  *slog.Logger
}

func (s *slowLogged) Name() string          { return "slow logged" }
func (s *slowLogged) Init(servicemesh.Mesh) {}
func (s *slowLogged) SetLogger(l *slog.Logger) {
	close(s.entered)
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logger = l
}
func (s *slowLogged) Logger() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logger
}

// Guards: a service is listed, and found by others, only once SetLogger returned.
//
// A service becomes visible to others, and so usable by their Inits, only
// once its logger is set.
func TestServiceIsPublishedOnlyAfterSetLogger(t *testing.T) {
	m := newTestMesh(t)
	s := &slowLogged{entered: make(chan struct{}), release: make(chan struct{})}
	added := make(chan struct{})
	go func() {
		m.Add(s)
		close(added)
	}()
	require.True(t, waitChan(t, s.entered, bound))

	assert.NotContains(t, m.Services(), servicemesh.Service(s), "listed while SetLogger still runs")
	found := make(chan servicemesh.Service, 1)
	finder := &finderOf[*slowLogged]{found: found}
	done := m.Add(finder)

	close(s.release)
	require.True(t, waitChan(t, added, bound))
	assert.Contains(t, m.Services(), servicemesh.Service(s), "listed once Add returned")
	require.True(t, waitTimeout(t, done, bound))
	assert.NotNil(t, s.Logger())
}

// finderOf resolves once it finds a T, and checks that what it found has
// a logger.
type finderOf[T interface {
	servicemesh.Service
	Logger() *slog.Logger
}] struct {
	got   T
	ok    bool
	found chan servicemesh.Service
}

func (f *finderOf[T]) Name() string { return "finder" }
func (f *finderOf[T]) Init(servicemesh.Mesh) {
	if f.got.Logger() == nil {
		panic("found a service whose logger is not set yet")
	}
	f.found <- f.got
}
func (f *finderOf[T]) DependenciesResolved() bool { return f.ok }
func (f *finderOf[T]) ResolveDependencies(services []servicemesh.Service) {
	f.got, f.ok = servicemesh.Find[T](services)
}

// nanService is a service value (not a pointer) holding a NaN, which is not
// equal to itself.
type nanService struct{ f float64 }

func (n nanService) Name() string          { return "nan" }
func (n nanService) Init(servicemesh.Mesh) {}

// Guards: a service value holding NaN, added twice, is one service.
func TestServiceValueHoldingNaNIsStillOneService(t *testing.T) {
	m := newTestMesh(t)
	nan := nanService{f: math.NaN()}
	require.True(t, waitTimeout(t, m.Add(nan), bound))
	require.True(t, waitTimeout(t, m.Add(nan), bound))
	assert.Len(t, m.Services(), 2, "the mesh and one nan service")
	require.True(t, waitTimeout(t, m.Remove(nan), bound))
	assert.Len(t, m.Services(), 1)
}
