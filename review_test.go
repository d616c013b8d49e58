package servicemesh_test

// Regressions found by reviewing the library as a new user would.

import (
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// lifecycleRecorder records the lifecycle events it is told about.
type lifecycleRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *lifecycleRecorder) Name() string          { return "recorder" }
func (r *lifecycleRecorder) Init(servicemesh.Mesh) {}
func (r *lifecycleRecorder) add(what string, s servicemesh.Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, what+" "+s.Name())
}
func (r *lifecycleRecorder) OnServiceAdded(s servicemesh.Service)   { r.add("added", s) }
func (r *lifecycleRecorder) OnServiceRemoved(s servicemesh.Service) { r.add("removed", s) }
func (r *lifecycleRecorder) OnServiceInitialized(s servicemesh.Service) {
	r.add("initialized", s)
}

// gateOnBound holds the EventServiceEventsBound of the service named
// "unwanted" until release is closed.
type gateOnBound struct {
	entered, release chan struct{}
}

func (g *gateOnBound) Name() string          { return "gate" }
func (g *gateOnBound) Init(servicemesh.Mesh) {}
func (g *gateOnBound) OnServiceEventsBound(s servicemesh.Service) {
	if s.Name() == "unwanted" {
		close(g.entered)
		<-g.release
	}
}

// A service removed while its lifecycle is under way emits no lifecycle
// event after its EventServiceRemoved.
func TestNoLifecycleEventsAfterRemoved(t *testing.T) {
	m := newTestMesh(t)
	rec := &lifecycleRecorder{}
	gate := &gateOnBound{entered: make(chan struct{}), release: make(chan struct{})}
	require.True(t, waitTimeout(t, m.Add(rec), bound))
	require.True(t, waitTimeout(t, m.Add(gate), bound))

	s := &neverResolves{}
	added := m.Add(s)
	require.True(t, waitChan(t, gate.entered, bound))
	require.True(t, waitTimeout(t, m.Remove(s), bound))
	close(gate.release)
	require.True(t, waitTimeout(t, added, bound))
	require.True(t, waitTimeout(t, m.Shutdown(), bound))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Contains(t, rec.events, "removed unwanted")
	assert.NotContains(t, rec.events, "added unwanted", "no EventServiceAdded after the removal")
	assert.Zero(t, s.calls, "its resolution never began")
}

type nanService struct{ f float64 }

func (n nanService) Name() string          { return "nan" }
func (n nanService) Init(servicemesh.Mesh) {}

func TestServiceValueHoldingNaNIsStillOneService(t *testing.T) {
	m := newTestMesh(t)
	nan := nanService{f: math.NaN()}
	require.True(t, waitTimeout(t, m.Add(nan), bound))
	require.True(t, waitTimeout(t, m.Add(nan), bound))
	assert.Len(t, m.Services(), 2, "the mesh and one nan service")
	require.True(t, waitTimeout(t, m.Remove(nan), bound))
	assert.Len(t, m.Services(), 1)
}

func TestSetLogHandlerRefusesTheMeshsOwnHandler(t *testing.T) {
	m := newTestMesh(t)
	var buf syncBuffer
	m.SetLogDestination(&buf)
	s := &slowLogged{entered: make(chan struct{}), release: make(chan struct{})}
	close(s.release)
	require.True(t, waitTimeout(t, m.Add(s), bound))
	m.SetLogHandler(s.Logger().Handler()) // would route to itself
	s.Logger().Info("still works")
	assert.Contains(t, buf.String(), "SetLogHandler ignored")
	assert.Contains(t, buf.String(), "still works")
}

// blockingResolver signals when its resolver runs and holds it there.
type blockingResolver struct {
	entered chan struct{}
	release chan struct{}
	running atomic.Int32
	overlap atomic.Bool
	calls   atomic.Int32
}

func (b *blockingResolver) Name() string          { return "blocking resolver" }
func (b *blockingResolver) Init(servicemesh.Mesh) {}
func (b *blockingResolver) DependenciesResolved() bool {
	return b.calls.Load() > 1
}
func (b *blockingResolver) ResolveDependencies([]servicemesh.Service) {
	if b.running.Add(1) > 1 {
		b.overlap.Store(true)
	}
	defer b.running.Add(-1)
	if b.calls.Add(1) == 1 {
		close(b.entered)
		<-b.release
	}
}

// Removing a service while its resolver runs and adding it again at once
// must not run its resolver twice at the same time.
func TestReAddWaitsForThePreviousLifecycle(t *testing.T) {
	m := newTestMesh(t)
	b := &blockingResolver{entered: make(chan struct{}), release: make(chan struct{})}
	first := m.Add(b)
	require.True(t, waitChan(t, b.entered, bound))
	removed := m.Remove(b) // not waited: the resolver is still inside
	second := m.Add(b)
	close(b.release)
	require.True(t, waitTimeout(t, first, bound))
	require.True(t, waitTimeout(t, removed, bound))
	require.True(t, waitTimeout(t, second, bound))
	assert.False(t, b.overlap.Load(), "ResolveDependencies ran concurrently with itself")
	assert.Contains(t, m.Services(), servicemesh.Service(b))
}
