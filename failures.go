package servicemesh

// Failures that reach main: every failure of a run is recorded as a
// *ServiceError, reported at level Error, told through EventServiceFailed,
// and returned, joined, by RunContext. The list is guarded by failures.mu.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrStartTimeout is wrapped by the error of a service whose Init did not
// return within the start timeout (SetStartTimeout).
var ErrStartTimeout = errors.New("service start timed out")

// ErrStopTimeout is wrapped by the error of a service whose OnShutdown or
// OnShutdownContext had not returned when the shutdown's budget ran out
// (SetShutdownTimeout).
var ErrStopTimeout = errors.New("service stop timed out")

// ServiceError is one failure of one service during a run: its resolution
// failed (Op "resolve"), its Init panicked, returned an error or timed out
// ("init"), its Serve gave up or asked for the mesh to shut down ("serve"),
// or its stop returned an error, panicked or timed out ("stop"). It wraps the cause, so errors.Is works
// with ErrStartTimeout, ErrStopTimeout, ErrDependencyResolutionTimeout,
// ErrServicePanicked and the errors a service returns.
type ServiceError struct {
	Service string // the service's name
	Op      string // "resolve", "init", "serve" or "stop"
	Err     error  // the cause
}

// Error names the service, what failed and why.
func (e *ServiceError) Error() string {
	return fmt.Sprintf("servicemesh: service %q: %s: %s", e.Service, e.Op, strings.TrimPrefix(fmt.Sprint(e.Err), "servicemesh: "))
}

// Unwrap returns the cause.
func (e *ServiceError) Unwrap() error { return e.Err }

// errGoexit is the cause of the failure of an Init or a Serve that ended
// with runtime.Goexit (as t.FailNow does), which no recover can stop.
var errGoexit = errors.New("ended with runtime.Goexit, not by returning")

// failureLog is the failures of a run, in the order they happened, and the
// one that started the shutdown, if one did.
type failureLog struct {
	mu   sync.Mutex
	errs []error
	// cause is the failure that started the shutdown (fail fast), for
	// WaitReady; nil if none did.
	cause atomic.Pointer[ServiceError]
}

// fail is the one rule for a failure of e for good (DESIGN §8): e becomes
// StateFailed and stays so; the failure is recorded for RunContext and
// logged at Error; unless e or the mesh keeps running (RestartPolicy's
// KeepRunning), the mesh begins its shutdown (fail fast) — op "stop"
// aside, since it fails during the shutdown; then EventServiceFailed's
// handlers are told. A service already failed, removed, or whose stop had
// ended cannot fail (its lifecycle refuses the step): nothing happens, so
// the event is told once per service and never about a removed one.
// It reports whether e failed. Called on a goroutine counted in busy that
// may wait for the handlers.
func (m *mesh) fail(e *entry, op string, err error) (failed bool) {
	se := m.record(e, op, err)
	if se == nil {
		return false
	}
	m.announce(e, se)
	return true
}

// announce is the rest of fail once record took the failure se of e: fail
// fast unless e is kept running, then tell EventServiceFailed.
func (m *mesh) announce(e *entry, se *ServiceError) {
	if se.Op != "stop" && !m.keepRunning(e) {
		m.failFast(se)
	}
	m.emit(EventServiceFailed, e.svc, se)
}

// record is fail without fail fast and without telling the handlers; it
// returns the error, or nil if e could not fail. The stop of a service that
// had failed already (a Serve given up on, kept running) may fail too:
// that is recorded for RunContext and logged, not told again.
func (m *mesh) record(e *entry, op string, err error) *ServiceError {
	se := &ServiceError{Service: e.name, Op: op, Err: err}
	if e.gone.Load() || !m.stepErr(e, StateFailed, se) {
		if op == "stop" && !e.gone.Load() && e.lc.State() == StateFailed {
			m.note(se, e)
			m.logger.Error("the stop of a failed service failed too", "subject", e.name, "error", err)
			return nil
		}
		m.debug("a failure of a service that was removed, has failed or has stopped is not reported",
			"subject", e.name, "op", op, "error", err.Error())
		return nil
	}
	m.reg.Hide(&e.node)
	m.needsChanged(e) // its requirers fail
	m.note(se, e)
	m.logger.Error("service failed", "subject", e.name, "op", op, "error", err)
	return se
}

// note adds se, an error of e, to the run's, for RunContext and Status.
func (m *mesh) note(se *ServiceError, e *entry) {
	m.failures.mu.Lock()
	m.failures.errs = append(m.failures.errs, se)
	m.failures.mu.Unlock()
	e.setError(se.Err)
}

// shutdownAsked ends e, whose Serve returned an error wrapping
// ErrShutdownMesh: e is stopped (it asked, it did not fail), RunContext
// returns the error, and the mesh shuts down. Nothing happens for a
// service removed, or stopping, meanwhile.
func (m *mesh) shutdownAsked(e *entry, err error) {
	if e.gone.Load() || !m.stepFrom(e, StateStopped, StateRunning) {
		return
	}
	m.note(&ServiceError{Service: e.name, Op: "serve", Err: err}, e)
	m.logger.Info("service asked for the mesh to shut down", "subject", e.name, "error", err)
	m.Shutdown()
}

// keepRunning reports whether a failure of e leaves the mesh running: its
// own restart policy (read at Add) says KeepRunning, or, without one, the
// mesh's.
func (m *mesh) keepRunning(e *entry) bool {
	if e.policy != nil {
		return e.policy.KeepRunning
	}
	p := m.restartPolicy.Load()
	return p != nil && p.KeepRunning
}

// failFast begins the shutdown because of se, noting se as its cause
// unless the shutdown had already begun.
func (m *mesh) failFast(se *ServiceError) {
	if !m.stopping.Load() {
		m.failures.cause.CompareAndSwap(nil, se)
		m.logger.Error("shutting the mesh down: a service failed for good", "subject", se.Service, "op", se.Op)
	}
	m.Shutdown()
}

// failed returns the failures of the run so far, joined; nil if none.
func (m *mesh) failed() error {
	m.failures.mu.Lock()
	defer m.failures.mu.Unlock()
	return errors.Join(m.failures.errs...)
}

// RunContext runs m as Run does, and also shuts it down when ctx is done.
// It returns nil after a clean run, or every failure of the run joined
// (errors.Join), each a *ServiceError: failed starts, Serves that gave up
// or asked for the shutdown, resolution timeouts
// and panics, stop errors and timeouts. A run ended by ctx is clean unless
// something failed. So main can end with a non-zero status:
//
//	if err := servicemesh.RunContext(ctx, app); err != nil {
//		log.Fatal(err)
//	}
//
// For a Mesh not made by New it does nothing and returns nil.
func RunContext(ctx context.Context, m Mesh) error {
	mm, ok := m.(*mesh)
	if !ok {
		return nil
	}
	stop := context.AfterFunc(ctx, func() { mm.Shutdown() })
	defer stop()
	mm.Run()
	return mm.failed()
}
