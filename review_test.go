package servicemesh_test

// Regressions found by reviewing the library as a new user would.

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
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

// rejecter removes, and waits for the removal of, a service it is told was
// added: from inside that service's own lifecycle event.
type rejecter struct {
	mesh   servicemesh.Mesh
	reject servicemesh.Service
	done   chan struct{}
}

func (r *rejecter) Name() string               { return "rejecter" }
func (r *rejecter) Init(mesh servicemesh.Mesh) {}
func (r *rejecter) OnServiceAdded(s servicemesh.Service) {
	if s == r.reject {
		r.mesh.Remove(s).Wait()
		close(r.done)
	}
}

type neverResolves struct{ calls int }

func (n *neverResolves) Name() string                              { return "unwanted" }
func (n *neverResolves) Init(servicemesh.Mesh)                     { panic("must not be initialized") }
func (n *neverResolves) DependenciesResolved() bool                { n.calls++; return false }
func (n *neverResolves) ResolveDependencies([]servicemesh.Service) {}

func TestRemoveAndWaitFromTheRemovedServicesOwnAddedEvent(t *testing.T) {
	m := newTestMesh(t)
	unwanted := &neverResolves{}
	r := &rejecter{mesh: m, reject: unwanted, done: make(chan struct{})}
	require.True(t, waitTimeout(t, m.Add(r), bound))

	added := m.Add(unwanted)
	require.True(t, waitChan(t, r.done, bound), "Remove(...).Wait() in OnServiceAdded returned")
	require.True(t, waitTimeout(t, added, bound), "the removed service's lifecycle ended")
	assert.Zero(t, unwanted.calls, "a resolution that had not begun never calls the resolver")
	assert.False(t, slices.Contains(m.Services(), servicemesh.Service(unwanted)))
}

func TestResolutionErrorNamesThePanicOnce(t *testing.T) {
	err := &servicemesh.ResolutionError{
		Service: "bad",
		Err:     &servicemesh.PanicError{Service: "bad", Call: "ResolveDependencies", Value: errors.New("boom")},
	}
	msg := err.Error()
	assert.Equal(t, 1, strings.Count(msg, "servicemesh:"), msg)
	assert.Contains(t, msg, `"bad" panicked in ResolveDependencies: boom`)
	assert.ErrorIs(t, err, servicemesh.ErrServicePanicked)
}
