package servicemesh

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrServicePanicked is matched, through errors.Is, by every *PanicError.
var ErrServicePanicked = errors.New("service panicked")

// PanicError reports a panic the mesh recovered from a service's code.
type PanicError struct {
	Service string // the service whose code panicked
	Call    string // what the mesh was calling, e.g. "Init"
	Value   any    // the value passed to panic
	Stack   []byte // the panicking goroutine's stack
}

// Error names the service, the call and the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("servicemesh: service %q panicked in %s: %v", e.Service, e.Call, e.Value)
}

// Is reports whether target is ErrServicePanicked.
func (e *PanicError) Is(target error) bool { return target == ErrServicePanicked }

// Unwrap returns the panic value if it was an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// guard runs fn, a call into the code of the service called name, and turns a
// panic into a logged *PanicError so that the mesh and other services go on.
func (m *mesh) guard(name, call string, fn func()) (err error) {
	// The deferred call runs at every return, on the stacks of resolvers
	// and Inits: it stays small, so that a new lifecycle goroutine seldom
	// has to grow its stack; the report is a call of its own.
	defer func() {
		if v := recover(); v != nil {
			err = m.recoveredPanic(name, call, v)
		}
	}()
	fn()
	return nil
}

// recoveredPanic counts and logs the panic v that guard recovered from
// the call named call of the service called name, and returns it as a
// *PanicError. It runs in the panicking goroutine's deferred call, so the
// stack it records is the panic's.
//
//go:noinline
func (m *mesh) recoveredPanic(name, call string, v any) error {
	m.recovered.Add(1)
	pe := &PanicError{Service: name, Call: call, Value: v, Stack: debug.Stack()}
	m.logger.Error("recovered a panic in service code",
		"subject", name, "call", call, "panic", fmt.Sprint(v), "stack", string(pe.Stack))
	return pe
}

// RecoveredPanics returns how many panics the mesh has recovered from code
// that is not its own: service methods and event handlers (guard, and the
// repeats of a failing probe that probeGuard does not log), and the log
// handler, or the writer under it, set by SetLogHandler or
// SetLogDestination. It counts whatever the log settings are. It is for
// meshtest, which fails a test whose mesh recovered a panic; it is not part
// of the Mesh interface.
func (m *mesh) RecoveredPanics() int64 { return m.recovered.Load() + m.logs.Panics() }
