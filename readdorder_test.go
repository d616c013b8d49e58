package servicemesh_test

// A service added again while its removal, or its previous lifecycle, is
// still under way (DESIGN §3, Remove): the new lifecycle begins only once
// the previous one is over (its removal told, its Init and resolver
// returned), also when shutdown begins meanwhile; those two cases run in a
// testing/synctest bubble. The re-add tests that need the package's
// internals are in readd_test.go.

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readdObserver records, in order, the events added and removed about the
// service named subject. Its EventServiceRemoved handler waits for release
// before it records, so the removal stays untold until the test says.
type readdObserver struct {
	subject string
	release chan struct{}
	rec     recorder
}

func (o *readdObserver) Name() string          { return "observer" }
func (o *readdObserver) Init(servicemesh.Mesh) {}
func (o *readdObserver) OnServiceAdded(s servicemesh.Service) {
	if s.Name() == o.subject {
		o.rec.add(servicemesh.EventServiceAdded)
	}
}
func (o *readdObserver) OnServiceRemoved(s servicemesh.Service) {
	if s.Name() == o.subject {
		<-o.release
		o.rec.add(servicemesh.EventServiceRemoved)
	}
}

// Guards: a re-add as shutdown begins is told only after the removal.
//
// Design §3, Remove: adding the same service again, even without waiting on
// Remove's WaitGroup, starts the new lifecycle only after the removal's
// events have been delivered. That holds when shutdown begins while the
// removal is still being told: no observer hears of the service again
// before it has heard of its removal. Once shutdown began the new
// lifecycle used to go on at once, and its EventServiceAdded could reach
// observers before the removal's EventServiceRemoved.
func TestReAddDuringShutdownKeepsRemovalFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		o := &readdObserver{subject: "subject", release: make(chan struct{})}
		require.True(t, waitTimeout(t, m.Add(o), bound, "the observer's Add"))
		s := newBase("subject")
		require.True(t, waitTimeout(t, m.Add(s), bound, "the first Add"))

		removed := m.Remove(s) // its EventServiceRemoved waits for release
		again := m.Add(s)      // waits for the removal to be told...
		shut := m.Shutdown()   // ...and shutdown begins meanwhile
		synctest.Wait()        // everything that can run without the release has run
		close(o.release)
		require.True(t, waitTimeout(t, removed, bound, "Remove"))
		require.True(t, waitTimeout(t, again, bound, "the second Add"))
		require.True(t, waitTimeout(t, shut, bound, "shutdown"))

		got := o.rec.list()
		require.NotEmpty(t, got)
		assert.Equal(t, servicemesh.EventServiceAdded, got[0], "the first Add")
		if assert.GreaterOrEqual(t, len(got), 2, "the removal was told: %v", got) {
			assert.Equal(t, servicemesh.EventServiceRemoved, got[1],
				"the removal is told before anything of the service added again: %v", got)
		}
		assert.Equal(t, int32(1), s.inits.Load(), "no Init after shutdown began")
	})
}

// readdLooper runs its loop inside its first Init until release is closed
// (it has no OnShutdown: shutdown leaves that Init behind), and records
// whether SetLogger is ever called while that Init runs.
type readdLooper struct {
	running chan struct{} // closed when the first Init begins
	release chan struct{}

	inits, sets atomic.Int32
	inInit      atomic.Bool
	overlap     atomic.Bool
	logger      atomic.Pointer[slog.Logger]
	once        sync.Once
}

func (s *readdLooper) Name() string { return "looper" }
func (s *readdLooper) Init(servicemesh.Mesh) {
	if s.inits.Add(1) > 1 {
		return
	}
	s.inInit.Store(true)
	s.once.Do(func() { close(s.running) })
	<-s.release
	s.inInit.Store(false)
}
func (s *readdLooper) SetLogger(l *slog.Logger) {
	s.sets.Add(1)
	if s.inInit.Load() {
		s.overlap.Store(true)
	}
	s.logger.Store(l)
}
func (s *readdLooper) Logger() *slog.Logger { return s.logger.Load() }

// Guards: a re-add as shutdown begins never sets up during the old Init.
//
// mesh.go, Add: a service added again while its previous lifecycle still
// runs is set up by its new lifecycle once both are over: its methods never
// run concurrently with themselves. When shutdown begins before the
// previous Init returns, no new Init follows, and the new lifecycle ends
// without setting the service up. Once shutdown began the new lifecycle
// used to go on at once, and set the service up (SetLogger, events) while
// the previous lifecycle's Init still ran.
func TestReAddDuringShutdownNeverOverlapsTheOldInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		s := &readdLooper{running: make(chan struct{}), release: make(chan struct{})}
		first := m.Add(s)
		require.True(t, waitChan(t, s.running, bound, "the first Init began"))
		require.True(t, waitTimeout(t, m.Remove(s), bound, "Remove"))
		again := m.Add(s) // waits for the first lifecycle to end
		synctest.Wait()
		require.Equal(t, int32(1), s.sets.Load(), "SetLogger calls before shutdown")

		require.True(t, waitTimeout(t, m.Shutdown(), time.Minute, "shutdown"))
		close(s.release)
		require.True(t, waitTimeout(t, first, bound, "the first Add"))
		require.True(t, waitTimeout(t, again, bound, "the second Add"))
		assert.False(t, s.overlap.Load(), "SetLogger of the service added again ran while its previous Init still ran")
		assert.Equal(t, int32(1), s.inits.Load(), "no Init after shutdown began")
	})
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

// Guards: a re-add never runs the resolver concurrently with the previous one.
//
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
