package servicemesh

// Declared requirements (Require, HasRequirements): the public part. How
// the mesh fills them is in requirements.go.

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrDependencyCycle is wrapped by the error of every service on a cycle of
// requirements (HasRequirements); the error's text walks the cycle, as in
// "api → store → api".
var ErrDependencyCycle = errors.New("dependency cycle")

// ErrDependencyFailed is wrapped by the error of a service whose required
// provider failed for good; the text names the provider.
var ErrDependencyFailed = errors.New("required service failed")

// HasRequirements is implemented by services that declare what they need
// with Require. Before the service's Init, the mesh fills each requirement
// with a service of the mesh of the required type — the first added, when
// several are — once that service is running (its Init returned, and its
// Serve started if it has one): found is not enough. A service never
// provides its own requirement. Requirements is called once, when the
// service is added.
//
// A service may implement HasDependencies too: its requirements are filled
// first, then its resolver runs as HasDependencies says.
//
// While it waits, a service costs no goroutine. A requirement that no
// service of the mesh can fill is named at level Warn as soon as the mesh
// has settled (nothing added or changed for 100 ms), and fails at the
// resolution timeout (SetDependencyResolutionTimeout) with an error that
// names the type. A provider that fails for good fails its requirers at
// once (ErrDependencyFailed), and requirements that close a cycle fail
// every service on it (ErrDependencyCycle). Each is a failure of the
// requirer's resolution (a *ServiceError with Op "resolve"). Requirements
// are exact edges of the dependency graph: the stop order, Status's
// DependsOn and Graph (marked declared) use them.
type HasRequirements interface {
	Service
	Requirements() []Requirement
}

// Requirement is what Require returns: one declared need of a service. Its
// zero value requires nothing and is ignored.
type Requirement struct {
	r *requirement
}

// requirement is a Requirement's content, made by Require.
type requirement struct {
	typ  reflect.Type       // T
	fits func(Service) bool // s is a T
	set  func(Service)      // *dst = s.(T); s fits
	nilD bool               // dst was nil
	bad  bool               // T can never be a service
}

// Require returns a Requirement that the mesh fills, before the service's
// Init, by setting *dst to a running service of the mesh that is a T (see
// HasRequirements). T is usually an interface or a pointer type:
//
//	type API struct{ store *Store }
//
//	func (a *API) Requirements() []servicemesh.Requirement {
//		return []servicemesh.Requirement{servicemesh.Require(&a.store)}
//	}
//
// A nil dst fails the service's resolution with an error that names it; a
// T that is neither an interface nor a type that implements Service (say
// int) can never be filled, and fails it when the service is added. Never
// a panic.
func Require[T any](dst *T) Requirement {
	t := reflect.TypeFor[T]()
	r := &requirement{
		typ:  t,
		fits: func(s Service) bool { _, ok := s.(T); return ok },
		nilD: dst == nil,
		bad:  t.Kind() != reflect.Interface && !t.Implements(reflect.TypeFor[Service]()),
	}
	if dst != nil {
		r.set = func(s Service) { *dst = s.(T) }
	}
	return Requirement{r}
}

// String names the required type, as in "*main.Store".
func (q Requirement) String() string {
	if q.r == nil {
		return "nothing"
	}
	return q.r.typ.String()
}

// invalid returns why q can never be filled for the service named name,
// or nil.
func (q Requirement) invalid(name string) error {
	switch {
	case q.r.nilD:
		return fmt.Errorf("servicemesh: service %q: Require[%s] was given a nil destination", name, q.r.typ)
	case q.r.bad:
		return fmt.Errorf("servicemesh: service %q: Require[%s]: %s is not an interface and not a Service, so no service can be one", name, q.r.typ, q.r.typ)
	}
	return nil
}
