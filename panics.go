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
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Service: name, Call: call, Value: v, Stack: debug.Stack()}
			m.logger.Error("recovered a panic in service code",
				"subject", name, "call", call, "panic", fmt.Sprint(v), "stack", string(pe.Stack))
			err = pe
		}
	}()
	fn()
	return nil
}
