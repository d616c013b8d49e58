package servicemesh_test

// Programs written for the original library, and the defects an adversarial
// review found in how this one ran them (design §3). The real-signal cases
// re-run the test binary as a child: see faithful_signal_test.go.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// looper runs its loop inside Init until OnShutdown tells it to end, the
// way the original's long-running services are written.
type looper struct {
	name    string
	quit    chan struct{}
	looping chan struct{} // closed once Init is in its loop
	ended   chan struct{} // closed when Init returns
}

func newLooper(name string) *looper {
	return &looper{name: name, quit: make(chan struct{}), looping: make(chan struct{}), ended: make(chan struct{})}
}

func (l *looper) Name() string { return l.name }
func (l *looper) Init(servicemesh.Mesh) {
	defer close(l.ended)
	close(l.looping)
	<-l.quit
}
func (l *looper) OnShutdown() { close(l.quit) }

// An Init that never returns by itself does not hold the shutdown: the
// service is stopped in its turn, and its OnShutdown is what ends the loop.
func TestShutdownDoesNotWaitForAnInitThatLoops(t *testing.T) {
	m := newTestMesh(t)
	rec := &recorder{}
	first := &withStop{base: newBase("config"), stops: stops{onShutdown: func() { rec.add("OnShutdown") }}}
	require.True(t, waitTimeout(t, m.Add(first), bound))
	l := newLooper("loop")
	added := m.Add(l)
	require.True(t, waitChan(t, l.looping, bound), "Init is in its loop")

	require.True(t, waitTimeout(t, m.Shutdown(), bound), "shutdown completes while Init still loops")
	require.True(t, waitChan(t, l.ended, bound), "OnShutdown ended the loop")
	require.True(t, waitTimeout(t, added, bound), "Add's WaitGroup is done once Init returned")
	assert.Equal(t, []string{"OnShutdown"}, rec.list(), "the earlier service is stopped too")
}

// A service whose Init never returns and that has no OnShutdown is named at
// Warn and left behind; the shutdown still completes.
func TestShutdownNamesAnInitLeftBehind(t *testing.T) {
	m := servicemesh.New("left behind")
	var buf syncBuffer
	m.SetLogDestination(&buf)
	release := make(chan struct{})
	inInit := make(chan struct{})
	s := newBase("forever")
	s.initFn = func(servicemesh.Mesh) {
		close(inInit)
		<-release
	}
	added := m.Add(s)
	require.True(t, waitChan(t, inInit, bound))
	require.True(t, waitTimeout(t, m.Shutdown(), bound))
	assert.Contains(t, buf.String(), `level=WARN msg="shutdown complete, leaving behind Inits that have not returned"`)
	assert.Contains(t, buf.String(), "forever")
	close(release) // nothing of the test may outlive it
	require.True(t, waitTimeout(t, added, bound))
}

type empty struct{}

func (*empty) Name() string          { return "empty" }
func (*empty) Init(servicemesh.Mesh) {}

type emptyCounted struct{}

var emptyInits, emptyStops atomic.Int32

func (*emptyCounted) Name() string          { return "empty counted" }
func (*emptyCounted) Init(servicemesh.Mesh) { emptyInits.Add(1) }
func (*emptyCounted) OnShutdown()           { emptyStops.Add(1) }

// Pointers to zero-size types may share one address, so they cannot be told
// apart: each Add is a service of its own, as in the original.
func TestPointersToEmptyStructsAreNeverDuplicates(t *testing.T) {
	emptyInits.Store(0)
	emptyStops.Store(0)
	m := newTestMesh(t)
	a, b := &emptyCounted{}, &emptyCounted{}
	require.True(t, waitTimeout(t, m.Add(a), bound))
	require.True(t, waitTimeout(t, m.Add(b), bound))
	require.True(t, waitTimeout(t, m.Add(a), bound), "even the very same pointer")
	require.True(t, waitTimeout(t, m.Add(&empty{}), bound))
	assert.Equal(t, int32(3), emptyInits.Load())
	assert.Equal(t, []string{"Service Mesh", "empty counted", "empty counted", "empty counted", "empty"}, names(m.Services()))

	require.True(t, waitTimeout(t, m.Remove(a), bound))
	assert.Equal(t, []string{"Service Mesh", "empty counted", "empty counted", "empty"}, names(m.Services()), "Remove takes out one of them")
	require.True(t, waitTimeout(t, m.Shutdown(), bound))
	assert.Equal(t, int32(2), emptyStops.Load(), "each remaining one is stopped")
}

// Inits of services without dependencies begin in the order the services
// were added: a configuration service added first is initialized first.
func TestInitsBeginInTheOrderAdded(t *testing.T) {
	const n = 30
	// In a bubble: the lane hands on to another goroutine only after a
	// lifecycle has been stuck for milliseconds, which on a machine busy
	// enough can happen to one that is merely descheduled. That is
	// documented, and is not what this test is about.
	for round := range 20 {
		synctest.Test(t, func(t *testing.T) { initsInAddOrder(t, n, round) })
	}
}

// initsInAddOrder adds n services, some with a logger and handlers, and
// checks that their Inits began in the order added.
func initsInAddOrder(t *testing.T, n, round int) {
	m := newTestMesh(t)
	var mu sync.Mutex
	var order []string
	var wgs []*sync.WaitGroup
	for i := range n {
		s := newBase(fmt.Sprint(i))
		s.initFn = func(servicemesh.Mesh) {
			mu.Lock()
			order = append(order, s.name)
			mu.Unlock()
		}
		if i%3 == 0 { // a logger and handlers do not change the order
			wgs = append(wgs, m.Add(&loggedHandlers{base: s}))
		} else {
			wgs = append(wgs, m.Add(s))
		}
	}
	for _, wg := range wgs {
		require.True(t, waitTimeout(t, wg, bound))
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	mu.Lock()
	require.Equal(t, want, order, "round %d", round)
	mu.Unlock()
	require.True(t, waitTimeout(t, m.Shutdown(), bound))
}

// An Init that runs its loop does not hold back the Inits of the services
// added after it.
func TestALoopingInitDoesNotHoldLaterInits(t *testing.T) {
	m := newTestMesh(t)
	l := newLooper("loop")
	m.Add(l)
	later := newBase("later")
	require.True(t, waitTimeout(t, m.Add(later), bound))
	assert.True(t, isDone(l.looping), "the looping Init began first")
	require.True(t, waitTimeout(t, m.Shutdown(), bound))
	require.True(t, waitChan(t, l.ended, bound))
}

// A handler of an earlier service's event that waits for a later service's
// Add does not deadlock on the order of Inits.
func TestWaitingForALaterAddFromAnEarlierHandlerDoesNotDeadlock(t *testing.T) {
	m := newTestMesh(t)
	later := newBase("later")
	done := make(chan struct{})
	earlier := &addedHook{base: newBase("earlier"), onAdded: func(s servicemesh.Service) {
		if s.Name() == "earlier" {
			m.Add(later).Wait()
			close(done)
		}
	}}
	added := m.Add(earlier)
	require.True(t, waitChan(t, done, bound))
	require.True(t, waitTimeout(t, added, bound))
	assert.Equal(t, int32(1), later.inits.Load())
}

type addedHook struct {
	*base
	onAdded func(servicemesh.Service)
}

func (h *addedHook) OnServiceAdded(s servicemesh.Service) { h.onAdded(s) }

type loggedHandlers struct {
	*base
	logs
	handlers
}

// slowSetLogger blocks in its first SetLogger until released, and notes any
// of its methods running concurrently with another.
type slowSetLogger struct {
	entered, release chan struct{}
	calls            atomic.Int32
	running          atomic.Int32
	overlap          atomic.Bool
	logger           atomic.Pointer[slog.Logger]
}

func (s *slowSetLogger) enter() func() {
	if s.running.Add(1) > 1 {
		s.overlap.Store(true)
	}
	return func() { s.running.Add(-1) }
}
func (s *slowSetLogger) Name() string { return "slow logger" }
func (s *slowSetLogger) Init(servicemesh.Mesh) {
	defer s.enter()()
}
func (s *slowSetLogger) Logger() *slog.Logger { return s.logger.Load() }
func (s *slowSetLogger) SetLogger(l *slog.Logger) {
	defer s.enter()()
	s.logger.Store(l)
	if s.calls.Add(1) == 1 {
		close(s.entered)
		<-s.release
	}
}

// Remove and Add again while the first Add is still inside SetLogger: the
// service's methods never run concurrently with themselves (under -race this
// was a data race), and the new lifecycle runs to its end.
func TestReAddWhileTheFirstAddIsInSetLogger(t *testing.T) {
	m := newTestMesh(t)
	s := &slowSetLogger{entered: make(chan struct{}), release: make(chan struct{})}
	var first *sync.WaitGroup
	firstReturned := make(chan struct{})
	go func() {
		defer close(firstReturned)
		first = m.Add(s)
	}()
	require.True(t, waitChan(t, s.entered, bound))
	removed := m.Remove(s)
	second := m.Add(s)
	close(s.release)
	require.True(t, waitChan(t, firstReturned, bound))
	require.True(t, waitTimeout(t, first, bound))
	require.True(t, waitTimeout(t, removed, bound))
	require.True(t, waitTimeout(t, second, bound))
	assert.False(t, s.overlap.Load(), "SetLogger or Init ran concurrently with another of its methods")
	assert.Equal(t, int32(2), s.calls.Load(), "the second Add set the logger again")
	assert.True(t, listed(m, "slow logger"))
}

// selfObserver records the removals and additions it is told about.
type selfObserver struct {
	name string
	rec  *recorder
}

func (s *selfObserver) Name() string          { return s.name }
func (s *selfObserver) Init(servicemesh.Mesh) {}
func (s *selfObserver) OnServiceRemoved(x servicemesh.Service) {
	s.rec.add(s.name + " told removed " + x.Name())
}
func (s *selfObserver) OnServiceAdded(x servicemesh.Service) {
	s.rec.add(s.name + " told added " + x.Name())
}

// Remove(s); Add(s) without waiting: s never hears of its own removal, and
// every other observer hears of the removal before the new addition.
func TestReAddWithoutWaitingKeepsEventOrder(t *testing.T) {
	for round := range 50 {
		m := newTestMesh(t)
		rec := &recorder{}
		watcher := &selfObserver{name: "watcher", rec: rec}
		require.True(t, waitTimeout(t, m.Add(watcher), bound))
		s := &selfObserver{name: "s", rec: rec}
		require.True(t, waitTimeout(t, m.Add(s), bound))
		removed := m.Remove(s)
		added := m.Add(s)
		require.True(t, waitTimeout(t, removed, bound))
		require.True(t, waitTimeout(t, added, bound))

		got := rec.list()
		assert.NotContains(t, got, "s told removed s", "round %d: a service never receives its own removal", round)
		var seen []string // what the watcher heard of s, in order
		for _, x := range got {
			if strings.HasPrefix(x, "watcher told") && strings.HasSuffix(x, " s") {
				seen = append(seen, x)
			}
		}
		assert.Equal(t, []string{"watcher told added s", "watcher told removed s", "watcher told added s"}, seen, "round %d", round)
		require.True(t, waitTimeout(t, m.Shutdown(), bound))
	}
}

// A service removed while its Init runs emits no EventServiceInitialized
// after its EventServiceRemoved.
func TestNoInitializedEventAfterRemovalDuringInit(t *testing.T) {
	m := newTestMesh(t)
	rec := &lifecycleRecorder{}
	require.True(t, waitTimeout(t, m.Add(rec), bound))
	inInit, release := make(chan struct{}), make(chan struct{})
	s := newBase("removed in Init")
	s.initFn = func(servicemesh.Mesh) {
		close(inInit)
		<-release
	}
	added := m.Add(s)
	require.True(t, waitChan(t, inInit, bound))
	require.True(t, waitTimeout(t, m.Remove(s), bound))
	close(release)
	require.True(t, waitTimeout(t, added, bound))
	require.True(t, waitTimeout(t, m.Shutdown(), bound))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Contains(t, rec.events, "removed removed in Init")
	assert.NotContains(t, rec.events, "initialized removed in Init")
}

// panicHandler panics in the method named by where.
type panicHandler struct{ where string }

func (h panicHandler) Enabled(context.Context, slog.Level) bool {
	if h.where == "Enabled" {
		panic("Enabled exploded")
	}
	return true
}
func (h panicHandler) Handle(context.Context, slog.Record) error {
	if h.where == "Handle" {
		panic("Handle exploded")
	}
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler {
	if h.where == "WithAttrs" {
		panic("WithAttrs exploded")
	}
	return h
}
func (h panicHandler) WithGroup(string) slog.Handler { return h }

// A log handler that panics loses its records, never the process: not in
// Add(nil)'s warning, not in reporting an Init panic, not in a service's
// own logging. The first panic is reported on the default handler.
func TestLogHandlerPanicsAreContained(t *testing.T) {
	for _, where := range []string{"Enabled", "Handle", "WithAttrs"} {
		t.Run(where, func(t *testing.T) {
			m := newTestMesh(t)
			// Kept running, so that the service added after the panicking
			// Init is set up too.
			require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
			var buf syncBuffer
			m.SetLogDestination(&buf)
			m.SetLogHandler(panicHandler{where: where})
			require.NotPanics(t, func() {
				m.Add(nil)
				bad := newBase("panics in Init")
				bad.initFn = func(servicemesh.Mesh) { panic("boom") }
				require.True(t, waitTimeout(t, m.Add(bad), bound))
				l := &loggedHandlers{base: newBase("logs")}
				require.True(t, waitTimeout(t, m.Add(l), bound))
				l.Logger().Info("hello", "k", 1)
			})
			if where != "Enabled" { // a panicking Enabled only ever says no
				assert.Contains(t, buf.String(), "the log handler panicked")
			}
			assert.Equal(t, 1, countLines(buf.String(), "the log handler panicked"), "reported once")
		})
	}
}

func countLines(s, sub string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// wrapper hands every record to the handler it wraps, passing the context on.
type wrapper struct{ inner slog.Handler }

func (w wrapper) Enabled(ctx context.Context, l slog.Level) bool { return w.inner.Enabled(ctx, l) }
func (w wrapper) Handle(ctx context.Context, r slog.Record) error {
	return w.inner.Handle(ctx, r)
}
func (w wrapper) WithAttrs(a []slog.Attr) slog.Handler { return wrapper{w.inner.WithAttrs(a)} }
func (w wrapper) WithGroup(g string) slog.Handler      { return wrapper{w.inner.WithGroup(g)} }

// funcHandler hides what it wraps inside a closure.
type funcHandler struct {
	handle func(context.Context, slog.Record) error
}

func (f funcHandler) Enabled(context.Context, slog.Level) bool        { return true }
func (f funcHandler) Handle(ctx context.Context, r slog.Record) error { return f.handle(ctx, r) }
func (f funcHandler) WithAttrs([]slog.Attr) slog.Handler              { return f }
func (f funcHandler) WithGroup(string) slog.Handler                   { return f }

// A handler that wraps one of the mesh's own, however deeply, would route
// every record back to itself: it is refused when the wrapping can be seen,
// and the loop is broken when it cannot (the record goes to the default
// handler once).
func TestWrappingTheMeshsOwnHandlerDoesNotRecurse(t *testing.T) {
	m := newTestMesh(t)
	var buf syncBuffer
	m.SetLogDestination(&buf)
	l := &loggedHandlers{base: newBase("svc")}
	require.True(t, waitTimeout(t, m.Add(l), bound))
	own := l.Logger().Handler()

	for depth, h := range []slog.Handler{
		wrapper{own},
		wrapper{wrapper{wrapper{own}}},
		&wrapper{&wrapper{own}},
	} {
		m.SetLogHandler(h)
		assert.Equal(t, depth+1, countLines(buf.String(), "SetLogHandler ignored"), "refused at depth %d", depth)
	}
	l.Logger().Info("after refusals")
	assert.Equal(t, 1, countLines(buf.String(), "after refusals"))

	// Hidden in a closure: seen only when the record comes back.
	m.SetLogHandler(funcHandler{handle: func(ctx context.Context, r slog.Record) error {
		return own.Handle(ctx, r)
	}})
	require.NotPanics(t, func() { l.Logger().Info("around once") })
	assert.Equal(t, 1, countLines(buf.String(), "around once"), "the record reaches the default handler once")
}

// vandal writes into the slice its resolver is handed, which resolvers must
// not do: it may confuse other resolvers, never the registry.
type vandal struct {
	name  string
	calls atomic.Int32
}

func (v *vandal) Name() string               { return v.name }
func (v *vandal) Init(servicemesh.Mesh)      {}
func (v *vandal) DependenciesResolved() bool { return v.calls.Load() >= 3 }
func (v *vandal) ResolveDependencies(services []servicemesh.Service) {
	v.calls.Add(1)
	kept := services[:0] // filter in place
	for _, s := range services {
		if s.Name() != "victim" {
			kept = append(kept, s)
		}
	}
	for i := len(kept); i < len(services); i++ {
		services[i] = nil
	}
	if len(services) > 0 {
		services[0] = nil
	}
}

func TestResolversWritingIntoTheirSliceCannotCorruptTheRegistry(t *testing.T) {
	m := newTestMesh(t)
	// Kept running: a confused resolver may panic on a nil it was handed,
	// which fails its service (DESIGN §8), not the others.
	require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
	victim := newBase("victim")
	require.True(t, waitTimeout(t, m.Add(victim), bound))
	for i := range 5 {
		require.True(t, waitTimeout(t, m.Add(&vandal{name: fmt.Sprint("vandal ", i)}), bound))
	}
	got := names(m.Services())
	assert.Len(t, got, 7)
	assert.Contains(t, got, "victim")
	assert.NotContains(t, got, "", "no nil entries")
	require.True(t, waitTimeout(t, m.Remove(victim), bound))
	assert.False(t, listed(m, "victim"))
	require.True(t, waitTimeout(t, m.Shutdown(), bound))
}
