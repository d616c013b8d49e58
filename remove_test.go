package servicemesh_test

// Removing a service whose lifecycle is under way (DESIGN §3, Remove): the
// removal may be waited for from that service's own events, and nothing
// about the service is told after its EventServiceRemoved.

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// neverResolves never resolves, and must never be initialized.
type neverResolves struct{ calls int }

func (n *neverResolves) Name() string                              { return "unwanted" }
func (n *neverResolves) Init(servicemesh.Mesh)                     { panic("must not be initialized") }
func (n *neverResolves) DependenciesResolved() bool                { n.calls++; return false }
func (n *neverResolves) ResolveDependencies([]servicemesh.Service) {}

// Guards: Remove(s).Wait() in s's own EventServiceAdded returns; s never resolves.
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

// Guards: no lifecycle event about a service after its EventServiceRemoved.
//
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

// resolutionRecorder is a lifecycleRecorder that records the resolution
// events too, and closes removed once it was told of the removal of the
// service named "unwanted".
type resolutionRecorder struct {
	*lifecycleRecorder
	removed chan struct{}
}

func (r *resolutionRecorder) OnServiceRemoved(s servicemesh.Service) {
	r.add("removed", s)
	if s.Name() == "unwanted" {
		close(r.removed)
	}
}
func (r *resolutionRecorder) OnDependencyResolutionStarted(s servicemesh.Service) {
	r.add("resolution started", s)
}
func (r *resolutionRecorder) OnDependencyResolutionEnded(s servicemesh.Service) {
	r.add("resolution ended", s)
}
func (r *resolutionRecorder) OnDependencyResolutionFailed(s servicemesh.Service, _ error) {
	r.add("resolution failed", s)
}

// selfRemover's resolver, at its first call, removes its own service and
// waits until the removal was told; then its dependencies are resolved.
type selfRemover struct {
	mesh   servicemesh.Mesh
	told   <-chan struct{}
	calls  atomic.Int32
	inits  atomic.Int32
	waited atomic.Bool
}

func (s *selfRemover) Name() string               { return "unwanted" }
func (s *selfRemover) Init(servicemesh.Mesh)      { s.inits.Add(1) }
func (s *selfRemover) DependenciesResolved() bool { return s.calls.Load() > 0 }
func (s *selfRemover) ResolveDependencies([]servicemesh.Service) {
	if s.calls.Add(1) == 1 {
		s.mesh.Remove(s) // not waited for: it waits for this resolution
		select {
		case <-s.told:
			s.waited.Store(true)
		case <-time.After(bound):
		}
	}
}

// Guards: neither the start nor the end of a service's resolution is told
// after its EventServiceRemoved, and it is never initialized, whether it
// was removed before its resolution began (nothing of it is told) or
// during an attempt that then found its dependencies. (A resolution that
// the removal cancels is told failed: TestRemoveWhileResolving.)
func TestNoResolutionEventsAfterRemoved(t *testing.T) {
	t.Run("removed from its own EventServiceAdded", func(t *testing.T) {
		m := newTestMesh(t)
		rec := &resolutionRecorder{lifecycleRecorder: &lifecycleRecorder{}, removed: make(chan struct{})}
		require.True(t, waitTimeout(t, m.Add(rec), bound))
		unwanted := &neverResolves{}
		r := &rejecter{mesh: m, reject: unwanted, done: make(chan struct{})}
		require.True(t, waitTimeout(t, m.Add(r), bound))
		added := m.Add(unwanted)
		require.True(t, waitChan(t, r.done, bound))
		require.True(t, waitTimeout(t, added, bound))
		require.True(t, waitTimeout(t, m.Shutdown(), bound))

		rec.mu.Lock()
		defer rec.mu.Unlock()
		i := slices.Index(rec.events, "removed unwanted")
		require.GreaterOrEqual(t, i, 0, "told of the removal: %v", rec.events)
		assert.Empty(t, slices.DeleteFunc(slices.Clone(rec.events[i+1:]), func(ev string) bool {
			return !strings.HasSuffix(ev, " unwanted")
		}), "nothing about it after its removal")
		assert.Zero(t, unwanted.calls)
	})
	t.Run("removed during an attempt that resolves", func(t *testing.T) {
		m := newTestMesh(t)
		rec := &resolutionRecorder{lifecycleRecorder: &lifecycleRecorder{}, removed: make(chan struct{})}
		require.True(t, waitTimeout(t, m.Add(rec), bound))
		s := &selfRemover{mesh: m, told: rec.removed}
		require.True(t, waitTimeout(t, m.Add(s), bound))
		require.True(t, waitTimeout(t, m.Shutdown(), bound))

		require.True(t, s.waited.Load(), "the removal was told while the attempt ran")
		assert.Zero(t, s.inits.Load(), "a removed service is never initialized")
		rec.mu.Lock()
		defer rec.mu.Unlock()
		i := slices.Index(rec.events, "removed unwanted")
		require.GreaterOrEqual(t, i, 0, "told of the removal: %v", rec.events)
		assert.Empty(t, slices.DeleteFunc(slices.Clone(rec.events[i+1:]), func(ev string) bool {
			return !strings.HasSuffix(ev, " unwanted")
		}), "nothing about it after its removal")
	})
}
