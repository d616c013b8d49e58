package servicemesh_test

// Removing a service whose lifecycle is under way (DESIGN §3, Remove): the
// removal may be waited for from that service's own events, and nothing
// about the service is told after its EventServiceRemoved.

import (
	"slices"
	"sync"
	"testing"

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
