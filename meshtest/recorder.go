package meshtest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
)

// Event is one event a Recorder saw: its name, the name of the service it
// is about ("" for the run-loop and shutdown events) and, for the failure
// events, the error.
type Event struct {
	Name    string
	Subject string
	Err     error
}

// Recorder keeps the events of a mesh, in the order its listeners were
// called. For one service that is the order of its lifecycle, since the
// mesh waits for each event's listeners before its next step; events about
// different services may interleave in any order. Safe for concurrent use.
type Recorder struct {
	m      servicemesh.Mesh
	mu     sync.Mutex // guards events and wake
	events []Event
	// wake is closed, and replaced by a new channel, at each event: every
	// waiter holding it wakes.
	wake chan struct{}
	fns  map[string]func(...any)
}

// lifecycleEvents are what Record listens to when given no names.
var lifecycleEvents = []string{
	servicemesh.EventServiceEventsBound, servicemesh.EventServiceLoggerBound,
	servicemesh.EventServiceAdded, servicemesh.EventDependencyResolutionStarted,
	servicemesh.EventDependencyResolutionEnded, servicemesh.EventDependencyResolutionFailed,
	servicemesh.EventServiceInitialized, servicemesh.EventServiceRemoved,
	servicemesh.EventRuntimeRunLoopInitiated, servicemesh.EventRuntimeShutdownInitiated,
	servicemesh.EventServiceFailed, servicemesh.EventServiceRestarting, servicemesh.EventMeshReady,
}

// Record starts recording the named events of m, or every event the mesh
// emits when none is named, until Stop.
func Record(m servicemesh.Mesh, events ...string) *Recorder {
	if len(events) == 0 {
		events = lifecycleEvents
	}
	r := &Recorder{m: m, wake: make(chan struct{}), fns: make(map[string]func(...any))}
	for _, name := range events {
		fn := func(args ...any) { r.add(name, args) }
		r.fns[name] = fn
		m.Events().On(name, fn)
	}
	return r
}

func (r *Recorder) add(name string, args []any) {
	ev := Event{Name: name}
	if len(args) > 0 {
		if s, ok := args[0].(servicemesh.Service); ok && s != nil {
			ev.Subject = s.Name()
		}
	}
	if len(args) > 1 {
		ev.Err, _ = args[1].(error)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	close(r.wake)
	r.wake = make(chan struct{})
}

// Stop stops recording.
func (r *Recorder) Stop() {
	for name, fn := range r.fns {
		r.m.Events().Off(name, fn)
	}
}

// Events returns a copy of what was recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Names returns, in order, the names of the events about the service named
// subject, keeping only those in only when any are given.
func (r *Recorder) Names(subject string, only ...string) []string {
	var out []string
	for _, ev := range r.Events() {
		if ev.Subject == subject && (len(only) == 0 || slices.Contains(only, ev.Name)) {
			out = append(out, ev.Name)
		}
	}
	return out
}

// WaitFor waits until the event name about the service named subject (""
// for the mesh's own events) was recorded, and fails the test at once if
// that does not happen within timeout. It returns the first such event.
// Any number of goroutines may wait at once, for the same event or others:
// each event recorded wakes all of them. The failure is t.Fatalf on the
// waiting goroutine, which a *testing.T allows only on the test's own.
func (r *Recorder) WaitFor(t testing.TB, name, subject string, timeout time.Duration) Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0 // events already looked at
	for {
		ev, found, wake := r.find(name, subject, &seen)
		if found {
			return ev
		}
		select {
		case <-wake:
		case <-timer.C:
			t.Fatalf("meshtest: no %q about %q within %v; recorded: %v", name, subject, timeout, r.Events())
			return Event{}
		}
	}
}

// find looks for the event name about subject among the events from *seen
// on, and advances *seen past them. If none is found it returns the channel
// that the next event closes, taken under the same lock, so that no event
// is missed between the look and the wait.
func (r *Recorder) find(name, subject string, seen *int) (Event, bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events[*seen:] {
		if ev.Name == name && ev.Subject == subject {
			return ev, true, nil
		}
	}
	*seen = len(r.events)
	return Event{}, false, r.wake
}
