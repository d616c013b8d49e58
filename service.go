package servicemesh

import "log/slog"

// Service is the one contract every member of a mesh honours.
//
// Name identifies the service in logs, events and errors; it should be stable
// and, for readable diagnostics, unique within a mesh (the mesh does not
// check). Init is called at most once per Add, from a goroutine owned by the
// mesh, after the service's dependencies (see HasDependencies) are resolved;
// it is not called if the resolution fails, the service is removed first,
// or shutdown began first. Init may run for as long as the service does:
// the mesh never waits for it to return, and tells it to end through
// OnShutdown (see HasGracefulShutdown).
// A service removed and added again is initialized again. Init may call any
// Mesh method, including Add(...).Wait() and Shutdown().Wait() (shutdown
// does not wait for Init; Run there returns once the shutdown it starts, or
// awaits, has completed). A panic in Init is recovered and logged, and the
// service counts as not initialized.
type Service interface {
	Init(mesh Mesh)
	Name() string
}

// HasLogger is implemented by services that want a logger from the mesh.
//
// SetLogger is called once per Add, before Add returns and before any other
// service can find this one, with a logger that carries the
// attribute service=<Name()> and writes through the mesh's log handler, so
// later calls to Mesh.SetLogLevel, SetLogHandler and SetLogDestination reach it
// without SetLogger being called again.
type HasLogger interface {
	Service
	SetLogger(logger *slog.Logger)
	Logger() *slog.Logger
}

// HasDependencies is implemented by services that need other services before
// their Init may run.
//
// The mesh calls ResolveDependencies with the services currently in the mesh
// until DependenciesResolved reports true, then calls Init. The slice is a
// read-only snapshot shared with other resolvers: a resolver must not modify
// it (appending to it is safe; its capacity equals its length; one that
// writes into it can confuse other resolvers, never the mesh). It includes
// services that are not yet initialized, so services that depend on each
// other can find each other. Both methods are called from goroutines of the
// mesh, one call at a time, never concurrently with each other.
//
// While DependenciesResolved reports false the resolver is re-run:
//   - at once when a service it holds is initialized or removed, where
//     "holds" means the struct the service points to has a pointer or
//     interface field referring to that service, also in structs it embeds
//     or holds by value (unexported fields count);
//   - after any service is added, initialized or removed, within 0.1 ms, or
//     within ten times as long as re-running every waiting resolver last
//     took, whichever is longer (with ten thousand services waiting, a few
//     tens of milliseconds): changes within that window share one re-run,
//     so a burst of additions does not re-run every waiter once per addition;
//   - otherwise on a poll that backs off from 1 ms to 40 ms, so that a
//     dependency arriving from outside the mesh is noticed within 50 ms.
//
// A resolver that takes more than about 10 ms holds up only its own service:
// the others' attempts go on without it. The resolution stops when the
// resolution timeout passes (Mesh.SetDependencyResolutionTimeout), when the
// service is removed, when the mesh shuts down, or when either method
// panics; the service is then never initialized and
// EventDependencyResolutionFailed reports why.
type HasDependencies interface {
	Service
	DependenciesResolved() bool
	ResolveDependencies(services []Service)
}

// HasGracefulShutdown is implemented by services that need to clean up when
// the mesh shuts down.
//
// OnShutdown is called at most once, during Mesh.Shutdown, if the service's
// Init began and had not panicked by its turn. The shutdown does not wait
// for Init: a service that runs its loop inside Init is stopped in its turn
// like any other, concurrently with its still running Init, and OnShutdown
// is how it tells that loop to end. OnShutdown may run on a goroutine of
// its own; one that has not returned when the shutdown's budget
// (SetShutdownTimeout) passes is named at level Error and left behind.
// Services are stopped in the order of the dependency graph (see Graph): a
// service stops only after every service that holds it in a field has
// stopped; services that hold nothing of each other stop concurrently. So
// keep what you use in a field (not only in a slice or a closure), or ask
// for SetSequentialStop. Removing a service with Mesh.Remove does not call
// OnShutdown.
type HasGracefulShutdown interface {
	Service
	OnShutdown()
}

// HasReadiness is implemented by services that can report whether they are
// ready for use, for example once a listener is accepting connections.
//
// The mesh never waits on Ready before calling Init. Dependents may check
// it in DependenciesResolved, and the mesh's readiness (Ready, WaitReady,
// the health package's /readyz) asks it too, from goroutines of the mesh,
// concurrently with this service's own Init: Ready must be safe for
// concurrent use (an atomic.Bool set at the end of Init is the usual way)
// and should return at once. A call of Ready that overlaps another of the
// same service, such as a Ready that asks for the mesh's readiness itself,
// gets that service's last answer.
type HasReadiness interface {
	Service
	Ready() bool
}
