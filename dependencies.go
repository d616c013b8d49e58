package servicemesh

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gravestench/servicemesh/internal/sched"
)

// Dependency resolution: the errors, the settings, the resolution's events
// (resolve), and what the mesh lends the scheduler (internal/sched), which
// runs the attempts and decides when: one attempt of a service's resolver
// and which services a resolver holds (resolverattempt.go), and whether a
// wait is canceled. Each service with dependencies has a waiting record,
// sched.Waiter, with the mesh's part of it (resolverState) beside the
// scheduler's; while it waits, that record is all it holds: no goroutine
// (resolve, resumeResolved).

// ErrDependencyResolutionTimeout is wrapped by the error reported when a
// service's dependencies were not resolved within the resolution timeout.
var ErrDependencyResolutionTimeout = errors.New("dependency resolution timed out")

// ErrDependencyResolutionCanceled is wrapped by the error reported when a
// service's resolution was cut short because the mesh shut down or the
// service was removed.
var ErrDependencyResolutionCanceled = errors.New("dependency resolution canceled")

// ResolutionError reports why a service's dependencies were not resolved.
// It wraps ErrDependencyResolutionTimeout, ErrDependencyResolutionCanceled,
// or a *PanicError.
type ResolutionError struct {
	Service    string        // the service whose resolution failed
	Waited     time.Duration // how long it waited
	Unresolved []string      // the first services still unresolved in the mesh at that moment, itself included
	More       int           // how many more were unresolved than Unresolved names
	Reason     string        // for a cancellation: what canceled it
	Err        error         // ErrDependencyResolutionTimeout, ErrDependencyResolutionCanceled, or a *PanicError
}

// Error describes the failure, naming the service and what it waited for.
func (e *ResolutionError) Error() string {
	var b strings.Builder
	if pe, ok := e.Err.(*PanicError); ok {
		fmt.Fprintf(&b, "servicemesh: dependency resolution failed: service %q panicked in %s: %v", pe.Service, pe.Call, pe.Value)
	} else {
		fmt.Fprintf(&b, "servicemesh: %v: service %q", e.Err, e.Service)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	fmt.Fprintf(&b, " after %v", e.Waited.Round(time.Microsecond))
	if len(e.Unresolved) > 0 {
		fmt.Fprintf(&b, "; unresolved in the mesh: %s", strings.Join(e.Unresolved, ", "))
		if e.More > 0 {
			fmt.Fprintf(&b, " and %d more", e.More)
		}
	}
	return b.String()
}

// Unwrap returns the underlying sentinel or panic error.
func (e *ResolutionError) Unwrap() error { return e.Err }

// SetDependencyResolutionTimeout sets how long a service may wait for its
// dependencies. It applies to resolutions under way as well as later ones.
func (m *mesh) SetDependencyResolutionTimeout(d time.Duration) {
	m.sched.SetTimeout(d)
}

// SetDependencyWarningDelay sets after how long a service that is still
// waiting for its dependencies is reported at level Warn, once, with how long
// it has waited and which services are still unresolved (default 5s; zero or
// negative turns the report off). When every unresolved service is waiting and
// nothing in the mesh has changed for that long, the report says that a
// dependency cycle or a missing service is likely. The same delay reports a
// shutdown held up by an OnShutdown, or a lifecycle handler, that does not
// return.
//
// It is a function rather than a Mesh method so that Mesh stays the interface
// the original library defined. It applies to waits under way, and reports
// false, doing nothing, when m was not made by New.
func SetDependencyWarningDelay(m Mesh, d time.Duration) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.warnDelay.Store(int64(d))
	mm.sched.QueueAll()
	return true
}

// errResolverGoexit is the cause of the failure of a resolution whose
// resolver ended its goroutine with runtime.Goexit (as t.FailNow does).
var errResolverGoexit = fmt.Errorf("ResolveDependencies or DependenciesResolved %w", errGoexit)

// resolve begins e's dependency resolution with its first event and its
// first attempt, on the lifecycle's goroutine. It reports whether Init may
// follow now, or sets parked: the service waits as a record without a
// goroutine, its lifecycle ends here, and resumeResolved resumes it once
// the scheduler, or a hand-off, has ended the resolution. parked is set
// while the first attempt runs: a resolver that ends this goroutine with
// runtime.Goexit leaves the lifecycle parked, and the scheduler ends the
// resolution as failed and resumes it (sched.Config.Resume).
func (m *mesh) resolve(e *entry, parked *bool) (ok bool) {
	if e.gone.Load() {
		// Removed before its resolution began: its lifecycle tells nothing
		// more (DESIGN §3, Remove). One removed later is canceled, and
		// told so (resolved).
		m.debug("dependency resolution canceled", "subject", e.name, "reason", reasonRemoved)
		return false
	}
	m.emitAbout(EventDependencyResolutionStarted, e)
	*parked = true
	_, ended := m.sched.Await(e.resolution, e.seq)
	if *parked = !ended; !ended {
		return false
	}
	return m.resolved(e)
}

// resolved tells the end of e's resolution with its event, and reports
// whether Init may follow. Called once the resolution has ended, by the
// lifecycle's goroutine (resolve) or its resumption. A resolution that
// Remove cut short is told failed (canceled), as the shutdown's are; one
// whose last attempt, under way when Remove began, found its dependencies
// tells nothing more (DESIGN §3, Remove: no EventDependencyResolutionEnded
// after EventServiceRemoved), and its service is not initialized.
func (m *mesh) resolved(e *entry) bool {
	r := e.resolution
	r.Data.watched = nil // no attempt runs once it has ended
	f := r.Failure()
	if f != nil {
		err := (*ResolutionError)(f)
		if errors.Is(err, ErrDependencyResolutionCanceled) { // routine: Remove or Shutdown
			m.debug("dependency resolution canceled", "subject", e.name, "reason", err.Reason)
		} else {
			m.fail(e, "resolve", err)
		}
		m.emit(EventDependencyResolutionFailed, e.svc, err)
		return false
	}
	m.debug("dependencies resolved", "subject", e.name)
	if e.gone.Load() {
		return false
	}
	m.emitAbout(EventDependencyResolutionEnded, e)
	return true
}

// resumeResolved resumes the lifecycle of w's service, whose resolution
// ended after its first attempt (sched.Config.Resume): on the goroutine
// that ended it when that is given (own: a hand-off's) or when nothing but
// its end follows (a cancellation nobody hears: ten thousand canceled at
// shutdown do not start ten thousand goroutines), on a goroutine of its
// own otherwise, since Init, or the handlers of
// EventDependencyResolutionFailed, follow: they must not hold up the
// scheduler, nor each other.
func (m *mesh) resumeResolved(w *resolution, own bool) {
	e := w.Data.e
	m.busy.Add(1)
	if f := w.Failure(); own || f != nil && errors.Is(f.Err, ErrDependencyResolutionCanceled) && !m.heard(EventDependencyResolutionFailed) {
		m.runLifecycle(e, afterResolution)
		return
	}
	go m.runLifecycle(e, afterResolution)
}

// resolution is a service's waiting record; entry.resolution is nil for a
// service without dependencies.
type resolution = sched.Waiter[resolverState]

// resolverState is the mesh's part of a waiting record.
type resolverState struct {
	deps HasDependencies // the service, as a resolver
	// watched is the snapshot the watches were taken against; owned by
	// whoever runs the attempt.
	watched []Service
	e       *entry
}

// newResolution returns the waiting record of e, whose service is d.
func newResolution(e *entry, d HasDependencies) *resolution {
	return sched.NewWaiter(e.name, resolverState{deps: d, e: e})
}

// initScheduler hands the scheduler what of a resolution is the mesh's.
// New calls it once, after setting epoch.
func (m *mesh) initScheduler() {
	m.sched.Init(sched.Config[resolverState]{
		Attempt:     m.attemptOnce,
		Begin:       m.beginResolution,
		Canceled:    m.canceled,
		Resume:      m.resumeResolved,
		Slow:        m.warnSlow,
		Stalled:     func() { m.debug("a resolver has not returned; other resolutions go on without it") },
		BusyAdd:     func() { m.busy.Add(1) },
		BusyDone:    m.busyDone,
		WarnDelay:   &m.warnDelay,
		Epoch:       m.epoch,
		Named:       maxNamed,
		ErrTimeout:  ErrDependencyResolutionTimeout,
		ErrCanceled: ErrDependencyResolutionCanceled,
		ErrGoexit:   errResolverGoexit,
	})
}

// beginResolution tells the scheduler, under its lock, whether w's wait
// may begin, and moves its service to StateResolving when it may: a Remove
// that came first is seen here, one that comes later finds it waiting
// (sched.Removed) and cancels it.
func (m *mesh) beginResolution(w *resolution) string {
	e := w.Data.e
	if e.gone.Load() {
		return reasonRemoved
	}
	m.step(e, StateResolving)
	return ""
}

// maxNamed bounds how many services an error or warning names, so that a
// thousand failing services do not each carry a thousand names.
const maxNamed = 10

// The reasons of a cancellation.
const (
	reasonRemoved  = "the service was removed"
	reasonShutdown = "the mesh is shutting down"
)

// canceled returns why w's resolution must stop, or "". Whoever cancels
// sets the flag and then queues the resolver (sched.Removed, QueueAll), so
// a cancellation is never missed.
func (m *mesh) canceled(w *resolution) string {
	switch {
	case w.Data.e.gone.Load():
		return reasonRemoved
	case m.stopping.Load():
		return reasonShutdown
	}
	return ""
}
