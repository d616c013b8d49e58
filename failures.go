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

// failureLog is the failures of a run, in the order they happened.
type failureLog struct {
	mu   sync.Mutex
	errs []error
}

// fail records that e failed in op with err, marks it failed unless it was
// removed, reports it and tells EventServiceFailed's handlers. Called on a
// goroutine that may wait for those handlers.
func (m *mesh) fail(e *entry, op string, err error) {
	if se := m.record(e, op, err); se != nil {
		m.emit(EventServiceFailed, e.svc, se)
	}
}

// record is fail without telling the handlers; it returns the error, or
// nil for a service removed meanwhile: once removed, its lifecycle emits
// nothing more, and what it does is no failure of the run.
func (m *mesh) record(e *entry, op string, err error) *ServiceError {
	if e.gone.Load() {
		m.debug("a removed service failed", "subject", e.name, "op", op)
		return nil
	}
	se := &ServiceError{Service: e.name, Op: op, Err: err}
	m.failures.mu.Lock()
	m.failures.errs = append(m.failures.errs, se)
	m.failures.mu.Unlock()
	e.setError(err)
	if op != "stop" && e.state.from(StateFailed, StateAdded, StateResolving, StateStarting, StateRunning) {
		m.reg.hide(e)
	}
	m.logger.Error("service failed", "subject", e.name, "op", op, "error", err)
	return se
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
