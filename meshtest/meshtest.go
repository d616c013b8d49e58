// Package meshtest helps test services and programs built on servicemesh.
//
// New returns a mesh whose log goes to the test's log, and which is shut
// down when the test ends; the test fails if that shutdown does not complete
// in time, if the mesh recovered a panic from service code, or if a
// goroutine of the mesh is left behind. RequireReady waits for a mesh to be
// ready, and Record keeps the events of a mesh for assertions:
//
//	func TestStore(t *testing.T) {
//		m := meshtest.New(t)
//		rec := meshtest.Record(m)
//		m.Add(&Store{})
//		meshtest.RequireReady(t, m, time.Second)
//		assert.Equal(t, []string{servicemesh.EventServiceAdded, servicemesh.EventServiceInitialized},
//			rec.Names("store", servicemesh.EventServiceAdded, servicemesh.EventServiceInitialized))
//	}
package meshtest

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
)

// ShutdownBound is how long the cleanup of a mesh from New waits for its
// shutdown to complete before it fails the test.
const ShutdownBound = 10 * time.Second

// panicCounter is what the mesh of servicemesh.New implements to tell how
// many panics it recovered from code not its own (service methods, event
// handlers, log handlers), whatever its log settings.
type panicCounter interface{ RecoveredPanics() int64 }

// New returns a mesh named name (see servicemesh.New) for the test t. It
// logs through t.Log at level Debug and above. When the test ends it is
// shut down, and t fails if the shutdown does not complete within
// ShutdownBound, if the mesh recovered a panic from service code (a service
// method, an event handler, or a log handler or destination the test set)
// between New and the end of that shutdown, or if a goroutine of the mesh is
// still running a little after the shutdown completed. The panic check does
// not depend on the log: the test may set its own log handler, level or
// destination on the mesh. Safe to call from parallel tests.
func New(t testing.TB, name ...string) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New(name...)
	pc := m.(panicCounter) // servicemesh.New's mesh always is one
	before := pc.RecoveredPanics()
	out := &testWriter{t: t}
	m.SetLogLevel(slog.LevelDebug)
	m.SetLogHandler(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			m.Shutdown().Wait()
			close(done)
		}()
		timer := time.NewTimer(ShutdownBound)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			t.Errorf("meshtest: the mesh's shutdown did not complete within %v", ShutdownBound)
		}
		if n := pc.RecoveredPanics() - before; n > 0 {
			t.Errorf("meshtest: the mesh recovered %d panic(s) from service code (see the log)", n)
		}
		if left := leftGoroutines(m); left != "" {
			t.Errorf("meshtest: goroutines of the mesh are left after its shutdown:\n%s", left)
		}
		out.close()
	})
	return m
}

// RequireReady fails the test at once unless m becomes ready (see
// servicemesh.Ready) within timeout.
func RequireReady(t testing.TB, m servicemesh.Mesh, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := servicemesh.WaitReady(ctx, m); err != nil {
		t.Fatalf("meshtest: the mesh was not ready within %v: %v; services: %s", timeout, err, states(m))
	}
}

// RequireState waits until the service named name is in state want, and
// fails the test at once (t.Fatalf, so FailNow) once timeout has passed
// without that, naming the service and the state it is in. A name that no
// service of m has fails the same way once the timeout has passed (it may
// be added meanwhile). It looks at the mesh again after 1 ms, backing off to
// every 50 ms; safe from any goroutine the testing package allows FailNow
// from. For a Mesh not made by servicemesh.New, no service is ever found.
func RequireState(t testing.TB, m servicemesh.Mesh, name string, want servicemesh.State, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		got, found := stateOf(m, name)
		if found && got == want {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			if !found {
				t.Fatalf("meshtest: no service %q in the mesh within %v (want it %s); services: %s", name, timeout, want, states(m))
				return
			}
			t.Fatalf("meshtest: service %q is %s, not %s, after %v; services: %s", name, got, want, timeout, states(m))
			return
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// stateOf returns the state of the first service of m named name, and
// whether there is one.
func stateOf(m servicemesh.Mesh, name string) (servicemesh.State, bool) {
	for _, s := range servicemesh.Status(m).Services {
		if s.Name == name {
			return s.State, true
		}
	}
	return 0, false
}

// states lists the services of m with their states, for failure messages.
func states(m servicemesh.Mesh) string {
	var b strings.Builder
	for i, s := range servicemesh.Status(m).Services {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", s.Name, s.State)
	}
	return b.String()
}

// testWriter writes each line to t.Log until the test's cleanup is over;
// later lines (from a goroutine the mesh left behind) are dropped, since
// t.Log then panics.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// leftGoroutines returns the stacks of the goroutines still running a
// method of m, waiting a little for those that are ending; "" if none. A
// goroutine is m's when one of its frames is a method of servicemesh's mesh
// type with m as its receiver, as the stack trace prints it.
func leftGoroutines(m servicemesh.Mesh) string {
	self := regexp.MustCompile(`servicemesh\.\(\*mesh\)\.[A-Za-z]+\(` + regexp.QuoteMeta(fmt.Sprintf("%p", m)) + `\??[,)]`)
	var left []string
	for wait := time.Millisecond; wait <= 512*time.Millisecond; wait *= 2 {
		left = left[:0]
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if self.MatchString(g) {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return ""
		}
		time.Sleep(wait)
	}
	return strings.Join(left, "\n\n")
}
