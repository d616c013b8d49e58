package meshtest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeT records what meshtest says to a test, and runs its cleanups when
// asked.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	logs     []string
	errors   []string
	fatal    bool
	cleanups []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprint(args...))
}
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatal = true
}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
func (f *fakeT) errorText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errors, "\n")
}

type svc struct {
	name    string
	init    func()
	stop    func()
	ready   *atomic.Bool
	initted atomic.Bool
}

func (s *svc) Name() string { return s.name }
func (s *svc) Init(servicemesh.Mesh) {
	if s.init != nil {
		s.init()
	}
	s.initted.Store(true)
}
func (s *svc) OnShutdown() {
	if s.stop != nil {
		s.stop()
	}
}

type readySvc struct{ *svc }

func (r readySvc) Ready() bool { return r.ready.Load() }

// A clean mesh passes; its log reached the test's.
func TestNewCleanMesh(t *testing.T) {
	f := &fakeT{TB: t}
	m := meshtest.New(f, "clean")
	m.Add(&svc{name: "a"}).Wait()
	f.end()
	assert.Empty(t, f.errorText())
	assert.NotEmpty(t, f.logs, "the mesh logged through t.Log")
}

// What a mesh from New fails the test for.
func TestNewFailsTheTest(t *testing.T) {
	tests := []struct {
		name string
		want string
		run  func(m servicemesh.Mesh) (cleanup func())
	}{
		{"a panic in service code", "recovered 1 panic", func(m servicemesh.Mesh) func() {
			m.Add(&svc{name: "p", init: func() { panic("boom") }}).Wait()
			return func() {}
		}},
		{"a shutdown that does not complete", "did not complete within", func(m servicemesh.Mesh) func() {
			release := make(chan struct{})
			m.Add(&svc{name: "hung", stop: func() { <-release }}).Wait()
			return func() { close(release) }
		}},
		{"a goroutine of the mesh left", "goroutines of the mesh are left", func(m servicemesh.Mesh) func() {
			release := make(chan struct{})
			m.Add(&svc{name: "forever", init: func() { <-release }}) // no OnShutdown: nothing ends it
			return func() { close(release) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeT{TB: t}
				m := meshtest.New(f)
				cleanup := tc.run(m)
				synctest.Wait()
				f.end()
				assert.Contains(t, f.errorText(), tc.want)
				cleanup()
				m.Shutdown().Wait()
				synctest.Wait()
			})
		})
	}
}

func TestRequireReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		m := meshtest.New(f)
		ready := new(atomic.Bool)
		m.Add(readySvc{&svc{name: "r", ready: ready}})
		done := make(chan struct{})
		go func() {
			defer close(done)
			meshtest.RequireReady(f, m, time.Second)
		}()
		<-done
		assert.True(t, f.fatal, "not ready within a second")
		assert.Contains(t, f.errorText(), "r=running")
		ready.Store(true)
		f2 := &fakeT{TB: t}
		meshtest.RequireReady(f2, m, time.Second)
		assert.False(t, f2.fatal)
		f.end()
	})
}

func TestRequireState(t *testing.T) {
	tests := []struct {
		name   string
		svc    string
		want   servicemesh.State
		fatal  bool
		saying string
	}{
		{"reached", "r", servicemesh.StateRunning, false, ""},
		{"not reached", "r", servicemesh.StateFailed, true, `service "r" is running, not failed, after 1s`},
		{"unknown name", "nobody", servicemesh.StateRunning, true, `no service "nobody" in the mesh within 1s`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeT{TB: t}
				m := meshtest.New(f)
				m.Add(&svc{name: "r"})
				start := time.Now()
				meshtest.RequireState(f, m, tc.svc, tc.want, time.Second)
				assert.Equal(t, tc.fatal, f.fatal)
				if tc.fatal {
					assert.Equal(t, time.Second, time.Since(start), "once the timeout has passed")
					assert.Contains(t, f.errorText(), tc.saying)
				}
				f.end()
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		m := meshtest.New(f)
		go func() {
			time.Sleep(300 * time.Millisecond)
			m.Add(&svc{name: "late"})
		}()
		meshtest.RequireState(f, m, "late", servicemesh.StateRunning, time.Second)
		assert.False(t, f.fatal, "a service added while waiting is found")
		f.end()
	})
}

func TestRecorder(t *testing.T) {
	m := meshtest.New(t)
	rec := meshtest.Record(m)
	defer rec.Stop()
	m.Add(&svc{name: "a"})
	ev := rec.WaitFor(t, servicemesh.EventServiceInitialized, "a", 5*time.Second)
	assert.Equal(t, "a", ev.Subject)
	require.Equal(t, []string{
		servicemesh.EventServiceEventsBound, servicemesh.EventServiceAdded, servicemesh.EventServiceInitialized,
	}, rec.Names("a"))
	assert.Equal(t, []string{servicemesh.EventServiceAdded}, rec.Names("a", servicemesh.EventServiceAdded))
}

// dropHandler is a log handler of the test's own that keeps nothing.
type dropHandler struct{}

func (dropHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (dropHandler) Handle(context.Context, slog.Record) error { return nil }
func (h dropHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h dropHandler) WithGroup(string) slog.Handler           { return h }

// panicHandler is a log handler that panics on every record.
type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler boom") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panicHandler) WithGroup(string) slog.Handler           { return h }

// panicWriter is a log destination that panics on every write.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("writer boom") }

// The panic check does not depend on where, or whether, the mesh logs.
func TestNewPanicCheckIgnoresLogSettings(t *testing.T) {
	panicInit := func(m servicemesh.Mesh) {
		m.Add(&svc{name: "p", init: func() { panic("boom") }}).Wait()
	}
	clean := func(m servicemesh.Mesh) { m.Add(&svc{name: "a"}).Wait() }
	tests := []struct {
		name string
		set  func(m servicemesh.Mesh)
		run  func(m servicemesh.Mesh)
		want string // "" for no failure
	}{
		{"destination io.Discard", func(m servicemesh.Mesh) { m.SetLogDestination(io.Discard) }, panicInit, "recovered 1 panic"},
		{"nil destination", func(m servicemesh.Mesh) { m.SetLogDestination(nil) }, panicInit, "recovered 1 panic"},
		{"level above Error", func(m servicemesh.Mesh) { m.SetLogLevel(slog.LevelError + 100) }, panicInit, "recovered 1 panic"},
		{"a handler of the test's own", func(m servicemesh.Mesh) { m.SetLogHandler(dropHandler{}) }, panicInit, "recovered 1 panic"},
		{"a text handler of the test's own", func(m servicemesh.Mesh) {
			m.SetLogHandler(slog.NewTextHandler(io.Discard, nil))
		}, panicInit, "recovered 1 panic"},
		{"the default handler restored", func(m servicemesh.Mesh) {
			m.SetLogDestination(io.Discard)
			m.SetLogHandler(nil)
		}, panicInit, "recovered 1 panic"},
		{"a handler that panics", func(m servicemesh.Mesh) { m.SetLogHandler(panicHandler{}) }, clean, "panic(s) from service code"},
		{"a destination that panics", func(m servicemesh.Mesh) { m.SetLogDestination(panicWriter{}) }, clean, "panic(s) from service code"},
		{"no panic, level above Error", func(m servicemesh.Mesh) { m.SetLogLevel(slog.LevelError + 100) }, clean, ""},
		{"no panic, a handler of the test's own", func(m servicemesh.Mesh) { m.SetLogHandler(dropHandler{}) }, clean, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeT{TB: t}
				m := meshtest.New(f)
				tc.set(m)
				tc.run(m)
				synctest.Wait()
				f.end()
				if tc.want == "" {
					assert.Empty(t, f.errorText())
				} else {
					assert.Contains(t, f.errorText(), tc.want)
				}
			})
		})
	}
}

// Every waiter of WaitFor wakes on every event: several goroutines waiting
// at once, for different events and for the same one, all return.
func TestRecorderWaitForWakesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		m := meshtest.New(f)
		rec := meshtest.Record(m)
		defer rec.Stop()
		type want struct{ name, subject string }
		var wants []want
		for _, s := range []string{"a", "b", "c"} {
			for range 3 { // several waiters for one event
				wants = append(wants, want{servicemesh.EventServiceInitialized, s})
			}
			wants = append(wants, want{servicemesh.EventServiceAdded, s})
		}
		got := make([]meshtest.Event, len(wants))
		var wg sync.WaitGroup
		for i, w := range wants {
			wg.Go(func() { got[i] = rec.WaitFor(f, w.name, w.subject, 5*time.Second) })
		}
		synctest.Wait() // every waiter is blocked in WaitFor
		for _, s := range []string{"a", "b", "c"} {
			m.Add(&svc{name: s})
		}
		wg.Wait() // a waiter that missed its wake-up would wait out its timeout and fail f
		assert.Empty(t, f.errorText())
		for i, w := range wants {
			assert.Equal(t, w.name, got[i].Name)
			assert.Equal(t, w.subject, got[i].Subject)
		}
		f.end()
	})
}

// WaitFor fails the test at once when the event does not come in time.
func TestRecorderWaitForTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		m := meshtest.New(f)
		rec := meshtest.Record(m)
		defer rec.Stop()
		m.Add(&svc{name: "a"}).Wait()
		ev := rec.WaitFor(f, servicemesh.EventServiceInitialized, "b", time.Second)
		assert.True(t, f.fatal)
		assert.Contains(t, f.errorText(), `no "service initialized" about "b" within 1s`)
		assert.Equal(t, meshtest.Event{}, ev)
		f.end()
	})
}
