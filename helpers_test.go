package servicemesh_test

// Shared helpers of the black-box conformance suite (conformance_test.go,
// badinput_test.go, reentrancy_test.go, concurrency_test.go,
// signal_test.go). Everything here uses the public API only.
//
// Waiting: no test sleeps to let concurrency happen. Tests wait on a signal
// (a channel, a WaitGroup) with a bound, so a bug shows up as a failure that
// names what never happened instead of a hung test binary. Inside a
// testing/synctest bubble the bound is measured in fake time, so it costs
// nothing when everything is durably blocked.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bound is how long a test waits for something that should happen promptly.
const bound = 5 * time.Second

// waitTimeout waits for wg, failing the test if it is not done within d.
// It reports whether wg completed.
func waitTimeout(t testing.TB, wg *sync.WaitGroup, d time.Duration, msgAndArgs ...any) bool {
	t.Helper()
	if wg == nil {
		assert.Fail(t, "nil WaitGroup", msgAndArgs...)
		return false
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return waitChan(t, done, d, msgAndArgs...)
}

// waitChan waits for ch to be closed (or to deliver a value), failing the
// test if that does not happen within d. It reports whether it did.
func waitChan[T any](t testing.TB, ch <-chan T, d time.Duration, msgAndArgs ...any) bool {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		assert.Fail(t, "timed out after "+d.String(), msgAndArgs...)
		return false
	}
}

// isDone reports, without blocking, whether ch is closed.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// doneChan returns a channel closed once wg is done.
func doneChan(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}

// newTestMesh returns a mesh that logs nowhere and is shut down, and waited
// for, when the test ends.
func newTestMesh(t testing.TB, name ...string) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New(name...)
	m.SetLogDestination(io.Discard)
	t.Cleanup(func() {
		waitTimeout(t, m.Shutdown(), bound, "mesh shutdown at test cleanup")
	})
	return m
}

// meshAsService returns the mesh as the Service it is required to be.
func meshAsService(t testing.TB, m servicemesh.Mesh) servicemesh.Service {
	t.Helper()
	s, ok := m.(servicemesh.Service)
	require.True(t, ok, "the concrete mesh must implement Service")
	return s
}

// names returns the names of services, in order.
func names(services []servicemesh.Service) []string {
	out := make([]string, 0, len(services))
	for _, s := range services {
		out = append(out, s.Name())
	}
	return out
}

// listed reports whether a service named name is in m.Services().
func listed(m servicemesh.Mesh, name string) bool {
	return slices.Contains(names(m.Services()), name)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder is a concurrency-safe, ordered log of what happened.
type recorder struct {
	mu    sync.Mutex
	items []string
}

func (r *recorder) add(s string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.items = append(r.items, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.items {
		if x == s {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// Services built from parts. base is the required Service; the other parts
// add one optional interface each, and the composite types below combine
// them, so that a test picks exactly the interfaces it needs.

// base is a minimal Service. Init records "Init" (and the time it ran) and
// calls initFn.
type base struct {
	name   string
	rec    *recorder
	initFn func(servicemesh.Mesh)

	inits  atomic.Int32
	initAt atomic.Int64 // UnixNano of the last Init
}

func newBase(name string) *base { return &base{name: name} }

func (b *base) Name() string { return b.name }

func (b *base) Init(m servicemesh.Mesh) {
	b.inits.Add(1)
	b.initAt.Store(time.Now().UnixNano())
	b.rec.add("Init")
	if b.initFn != nil {
		b.initFn(m)
	}
}

func (b *base) initTime() time.Time { return time.Unix(0, b.initAt.Load()) }

// logs implements the logger half of HasLogger.
type logs struct {
	logger atomic.Pointer[slog.Logger]
	sets   atomic.Int32
}

func (l *logs) SetLogger(logger *slog.Logger) {
	l.sets.Add(1)
	l.logger.Store(logger)
}

func (l *logs) Logger() *slog.Logger { return l.logger.Load() }

// deps implements the HasDependencies half. Without resolvedFn the
// dependencies are resolved at once.
type deps struct {
	resolvedFn func() bool
	resolveFn  func([]servicemesh.Service)

	resolvedCalls atomic.Int32
	resolveCalls  atomic.Int32
}

func (d *deps) DependenciesResolved() bool {
	d.resolvedCalls.Add(1)
	if d.resolvedFn == nil {
		return true
	}
	return d.resolvedFn()
}

func (d *deps) ResolveDependencies(services []servicemesh.Service) {
	d.resolveCalls.Add(1)
	if d.resolveFn != nil {
		d.resolveFn(services)
	}
}

// stops implements the HasGracefulShutdown half. holds, when set, is a
// service it keeps a reference to, so the mesh stops it before that one.
type stops struct {
	onShutdown func()
	shutdowns  atomic.Int32
	holds      servicemesh.Service
}

func (s *stops) OnShutdown() {
	s.shutdowns.Add(1)
	if s.onShutdown != nil {
		s.onShutdown()
	}
}

// handlers implements every EventHandler* interface. Events about a service
// are recorded, by event name, only when they concern the service named
// self; the run-loop and shutdown events are always recorded. hook, if set,
// is called for every event with its subject (nil for run-loop/shutdown).
type handlers struct {
	self string
	rec  *recorder
	hook func(event string, subject servicemesh.Service)
}

func (h *handlers) on(event string, subject servicemesh.Service) {
	if subject == nil || subject.Name() == h.self {
		h.rec.add(event)
	}
	if h.hook != nil {
		h.hook(event, subject)
	}
}

func (h *handlers) OnServiceAdded(s servicemesh.Service) {
	h.on(servicemesh.EventServiceAdded, s)
}

func (h *handlers) OnServiceRemoved(s servicemesh.Service) {
	h.on(servicemesh.EventServiceRemoved, s)
}

func (h *handlers) OnServiceInitialized(s servicemesh.Service) {
	h.on(servicemesh.EventServiceInitialized, s)
}

func (h *handlers) OnServiceEventsBound(s servicemesh.Service) {
	h.on(servicemesh.EventServiceEventsBound, s)
}

func (h *handlers) OnServiceLoggerBound(s servicemesh.Service) {
	h.on(servicemesh.EventServiceLoggerBound, s)
}

func (h *handlers) OnServiceMeshRunLoopInitiated() {
	h.on(servicemesh.EventRuntimeRunLoopInitiated, nil)
}

func (h *handlers) OnServiceMeshShutdownInitiated() {
	h.on(servicemesh.EventRuntimeShutdownInitiated, nil)
}

func (h *handlers) OnDependencyResolutionStarted(s servicemesh.Service) {
	h.on(servicemesh.EventDependencyResolutionStarted, s)
}

func (h *handlers) OnDependencyResolutionEnded(s servicemesh.Service) {
	h.on(servicemesh.EventDependencyResolutionEnded, s)
}

func (h *handlers) OnDependencyResolutionFailed(s servicemesh.Service, err error) {
	h.on(servicemesh.EventDependencyResolutionFailed, s)
}

// Composite services.
type (
	withLogger struct {
		*base
		logs
	}
	withDeps struct {
		*base
		deps
	}
	withStop struct {
		*base
		stops
	}
	withDepsStop struct {
		*base
		deps
		stops
	}
	withHandlers struct {
		*base
		handlers
	}
	withHandlersStop struct {
		*base
		handlers
		stops
	}
	probePlain struct {
		*base
		handlers
	}
	probeLogger struct {
		*base
		handlers
		logs
	}
	probeDeps struct {
		*base
		handlers
		deps
	}
	probeFull struct {
		*base
		handlers
		logs
		deps
	}
)

// The composites implement exactly the interfaces their names promise.
var (
	_ servicemesh.HasLogger           = (*withLogger)(nil)
	_ servicemesh.HasDependencies     = (*withDeps)(nil)
	_ servicemesh.HasGracefulShutdown = (*withStop)(nil)
	_ servicemesh.HasDependencies     = (*withDepsStop)(nil)
	_ servicemesh.HasGracefulShutdown = (*withDepsStop)(nil)
	_ servicemesh.HasGracefulShutdown = (*withHandlersStop)(nil)
	_ servicemesh.HasLogger           = (*probeLogger)(nil)
	_ servicemesh.HasDependencies     = (*probeDeps)(nil)
	_ servicemesh.HasLogger           = (*probeFull)(nil)
	_ servicemesh.HasDependencies     = (*probeFull)(nil)

	_ servicemesh.EventHandlerServiceAdded                 = (*handlers)(nil)
	_ servicemesh.EventHandlerServiceRemoved               = (*handlers)(nil)
	_ servicemesh.EventHandlerServiceInitialized           = (*handlers)(nil)
	_ servicemesh.EventHandlerServiceEventsBound           = (*handlers)(nil)
	_ servicemesh.EventHandlerServiceLoggerBound           = (*handlers)(nil)
	_ servicemesh.EventHandlerServiceMeshRunLoopInitiated  = (*handlers)(nil)
	_ servicemesh.EventHandlerServiceMeshShutdownInitiated = (*handlers)(nil)
	_ servicemesh.EventHandlerDependencyResolutionStarted  = (*handlers)(nil)
	_ servicemesh.EventHandlerDependencyResolutionEnded    = (*handlers)(nil)
	_ servicemesh.EventHandlerDependencyResolutionFailed   = (*handlers)(nil)
)

// ---------------------------------------------------------------------------
// Listening on the bus from outside.

// emitted is one event seen by a bus listener.
type emitted struct {
	event string
	args  []any
}

// busLog records events seen by listeners placed with listen.
type busLog struct {
	mu  sync.Mutex
	all []emitted
}

// listen places a listener on m's bus for each of events.
func listen(m servicemesh.Mesh, events ...string) *busLog {
	l := &busLog{}
	for _, ev := range events {
		m.Events().On(ev, func(args ...any) {
			l.mu.Lock()
			l.all = append(l.all, emitted{ev, slices.Clone(args)})
			l.mu.Unlock()
		})
	}
	return l
}

// about returns, in order, the events whose first argument is a service
// named name.
func (l *busLog) about(name string) []emitted {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []emitted
	for _, e := range l.all {
		if len(e.args) > 0 {
			if s, ok := e.args[0].(servicemesh.Service); ok && s != nil && s.Name() == name {
				out = append(out, e)
			}
		}
	}
	return out
}

// without returns list without the items in drop.
func without(list []string, drop ...string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}

// events returns the names of the events in es.
func events(es []emitted) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.event)
	}
	return out
}

// of returns the recorded events named event.
func (l *busLog) of(event string) []emitted {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []emitted
	for _, e := range l.all {
		if e.event == event {
			out = append(out, e)
		}
	}
	return out
}

// allServiceEvents are the events that carry a service first.
var allServiceEvents = []string{
	servicemesh.EventServiceAdded,
	servicemesh.EventServiceRemoved,
	servicemesh.EventServiceInitialized,
	servicemesh.EventServiceEventsBound,
	servicemesh.EventServiceLoggerBound,
	servicemesh.EventDependencyResolutionStarted,
	servicemesh.EventDependencyResolutionEnded,
	servicemesh.EventDependencyResolutionFailed,
}

// failures collects the errors of EventDependencyResolutionFailed, by the
// name of the service they concern, and signals each one on ch.
type failures struct {
	mu   sync.Mutex
	errs map[string][]error
	ch   chan string
}

func listenFailures(m servicemesh.Mesh) *failures {
	f := &failures{errs: map[string][]error{}, ch: make(chan string, 64)}
	m.Events().On(servicemesh.EventDependencyResolutionFailed, func(args ...any) {
		name := "?"
		if len(args) > 0 {
			if s, ok := args[0].(servicemesh.Service); ok && s != nil {
				name = s.Name()
			}
		}
		var err error
		if len(args) > 1 {
			err, _ = args[1].(error)
		}
		f.mu.Lock()
		f.errs[name] = append(f.errs[name], err)
		f.mu.Unlock()
		select {
		case f.ch <- name:
		default:
		}
	})
	return f
}

func (f *failures) of(name string) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errs[name])
}

// ---------------------------------------------------------------------------
// Logging.

// captured is one record seen by a captureHandler, with every attribute
// (the handler's own and the record's) flattened to strings.
type captured struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// captureSink is shared by a captureHandler and the handlers derived from it.
type captureSink struct {
	mu      sync.Mutex
	records []captured
}

func (s *captureSink) all() []captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

func (s *captureSink) msgs() []string {
	var out []string
	for _, r := range s.all() {
		// The mesh's own summaries come when the mesh gets there, not in
		// step with a test's service logging: left out.
		if r.msg != "mesh ready" && r.msg != "shutdown complete" {
			out = append(out, r.msg)
		}
	}
	return out
}

// captureHandler is a custom slog.Handler that keeps records in memory and
// accepts those at or above min.
type captureHandler struct {
	sink  *captureSink
	min   slog.Level
	attrs []slog.Attr
}

func newCaptureHandler(min slog.Level) *captureHandler {
	return &captureHandler{sink: &captureSink{}, min: min}
}

func (h *captureHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.min
}

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	c := captured{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		c.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		c.attrs[a.Key] = a.Value.String()
		return true
	})
	h.sink.mu.Lock()
	h.sink.records = append(h.sink.records, c)
	h.sink.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &captureHandler{sink: h.sink, min: h.min, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }
