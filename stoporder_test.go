package servicemesh

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// store refuses writes once closed.
type store struct {
	closed atomic.Bool
}

func (s *store) Name() string { return "store" }
func (s *store) Init(Mesh)    {}
func (s *store) OnShutdown()  { s.closed.Store(true) }
func (s *store) write() bool  { return !s.closed.Load() }

// writer finds its store in Init, through Services, and writes to it when
// it stops.
type writer struct {
	store *store
	ok    atomic.Bool
}

func (w *writer) Name() string { return "writer" }
func (w *writer) Init(m Mesh)  { w.store, _ = Find[*store](m.Services()) }
func (w *writer) OnShutdown()  { w.ok.Store(w.store != nil && w.store.write()) }

// A service that found another in Init and keeps it in a field stops first:
// it never writes to a closed store.
func TestStopNeverBreaksAnEdgeFoundInInit(t *testing.T) {
	for round := range 30 {
		m := quietMesh(t)
		s, w := &store{}, &writer{}
		m.Add(s).Wait()
		m.Add(w).Wait()
		m.Shutdown().Wait()
		require.True(t, w.ok.Load(), "round %d: the writer wrote to an open store", round)
	}
}

// early holds late, whose Init began after its own: early still stops first.
type early struct {
	late *late
	log  *stopLog
}

func (e *early) Name() string { return "early" }
func (e *early) Init(Mesh)    {}
func (e *early) DependenciesResolved() bool {
	return e.late != nil
}
func (e *early) ResolveDependencies(services []Service) { e.late, _ = Find[*late](services) }
func (e *early) OnShutdown()                            { e.log.add("early") }

type late struct {
	begin, began chan struct{} // its Init waits for begin; began is closed as it begins
	log          *stopLog
}

func (l *late) Name() string { return "late" }
func (l *late) Init(Mesh) {
	close(l.began)
	<-l.begin
}
func (l *late) OnShutdown() { l.log.add("late") }

func TestStopOrderFollowsWhatIsHeldNotWhenInitBegan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		log := &stopLog{}
		// late waits on the lane behind a service whose Init holds it for a
		// moment; early resolves as soon as late is listed, so its Init
		// begins, and returns, before late's begins.
		blocker := &stuck{where: "Init", release: make(chan struct{})}
		blocked := m.Add(blocker)
		l := &late{begin: make(chan struct{}), began: make(chan struct{}), log: log}
		lateAdded := m.Add(l)
		m.Add(&early{log: log}).Wait()
		assert.False(t, isClosed(l.began), "early's Init began and returned before late's began")
		close(blocker.release)
		blocked.Wait()
		close(l.begin)
		lateAdded.Wait()
		m.Shutdown().Wait()
		assert.Equal(t, []string{"early", "late"}, log.names, "early holds late: it stops first")
	})
}

// cyclic holds its partner; a cycle stops without deadlock, newest first.
type cyclic struct {
	name    string
	partner *cyclic
	log     *stopLog
}

func (c *cyclic) Name() string { return c.name }
func (c *cyclic) Init(Mesh)    {}
func (c *cyclic) OnShutdown()  { c.log.add(c.name) }

func TestDependencyCycleStopsNewestFirst(t *testing.T) {
	m := quietMesh(t)
	log := &stopLog{}
	a, b := &cyclic{name: "a", log: log}, &cyclic{name: "b", log: log}
	a.partner, b.partner = b, a
	m.Add(a).Wait()
	m.Add(b).Wait()
	m.Shutdown().Wait()
	assert.Equal(t, []string{"b", "a"}, log.names)
}

// admin holds the Mesh: it may look anything up while it stops, so every
// service whose Init began before its own stops after it.
type admin struct {
	mesh Mesh
	log  *stopLog
}

func (a *admin) Name() string { return "admin" }
func (a *admin) Init(m Mesh)  { a.mesh = m }
func (a *admin) OnShutdown()  { a.log.add("admin") }

func TestHoldingTheMeshStopsFirst(t *testing.T) {
	m := quietMesh(t)
	log := &stopLog{}
	for _, name := range []string{"x", "y", "z"} {
		m.Add(&named{name: name, stop: func() { log.add(name) }}).Wait()
	}
	m.Add(&admin{log: log}).Wait()
	m.Shutdown().Wait()
	require.Len(t, log.names, 4)
	assert.Equal(t, "admin", log.names[0], "the service holding the mesh stops first: %v", log.names)
}

// named is a service with a name and an OnShutdown.
type named struct {
	name string
	stop func()
}

func (n *named) Name() string { return n.name }
func (n *named) Init(Mesh)    {}
func (n *named) OnShutdown()  { n.stop() }

// The drain delay keeps the services up for its length before anything
// stops.
func TestDrainDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetDrainDelay(m, 2*time.Second))
		s := &recordedStop{name: "s"}
		m.Add(s).Wait()
		start := time.Now()
		m.Shutdown().Wait()
		assert.Equal(t, 2*time.Second, s.stopped.Sub(start))
	})
	var foreign Mesh
	assert.False(t, SetDrainDelay(foreign, time.Second))
	assert.False(t, SetSequentialStop(foreign, true))
}

// loopWriter finds the store in Init, keeps it in a field, and runs its
// loop inside Init until OnShutdown ends it; OnShutdown then flushes to the
// store.
type loopWriter struct {
	mu      sync.Mutex
	store   *store // a plain field the mesh can see
	quit    chan struct{}
	looping chan struct{} // closed once it holds the store and loops
	ok      atomic.Bool
}

func (w *loopWriter) Name() string { return "loopwriter" }
func (w *loopWriter) Init(m Mesh) {
	st, _ := Find[*store](m.Services())
	w.mu.Lock()
	w.store = st
	w.mu.Unlock()
	close(w.looping)
	<-w.quit
}
func (w *loopWriter) OnShutdown() {
	close(w.quit)
	time.Sleep(time.Millisecond) // flushing takes a moment
	w.mu.Lock()
	st := w.store
	w.mu.Unlock()
	w.ok.Store(st != nil && st.write())
}

// Guards: an edge found by an Init still running orders the stop.
//
// The edges a service's Init creates were recorded only once Init
// returned, so a shutdown that began while Init ran (the original's
// loop-in-Init services, or a signal during startup) planned the stop
// without them, although the field was already set and readable: the store
// was stopped concurrently with, and before, the writer that holds it
// (DESIGN §5: "No edge the mesh can see is ever broken — in particular not
// the one where a service found another in Init ... and keeps it in a
// field").
func TestEdgeFoundInRunningInitOrdersTheStop(t *testing.T) {
	for round := range 10 {
		m := quietMesh(t)
		s := &store{}
		w := &loopWriter{quit: make(chan struct{}), looping: make(chan struct{})}
		m.Add(s).Wait()
		m.Add(w)
		<-w.looping // its Init has found the store and loops
		m.Shutdown().Wait()
		if !w.ok.Load() {
			t.Fatalf("round %d: the writer flushed to a store already stopped", round)
		}
	}
}
