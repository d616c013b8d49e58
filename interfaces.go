package servicemesh

import (
	"io"
	"log/slog"
	"sync"
	"time"

	ee "github.com/gravestench/eventemitter"
)

// Mesh runs a set of services: it hands them loggers, resolves their
// dependencies, calls their Init, binds their event handlers and stops them
// gracefully. Every method is safe for concurrent use, and safe to call from
// inside Init, OnShutdown and event handlers.
//
// New returns the library's implementation; the interface exists so that
// services can be written and tested against it.
type Mesh interface {
	// Add registers a service and starts its lifecycle in the background:
	// before Add returns, the service's handler interfaces are bound, its
	// SetLogger called (HasLogger) and it is listed by Services; then its
	// lifecycle events, dependency resolution and Init follow (see the
	// Event* constants). Services without dependencies are initialized in
	// the order added (an Init that runs for more than about 2 ms, or a
	// handler stuck for about 50 ms, lets the next ones go ahead).
	//
	// The returned WaitGroup is done when the service's Init has returned
	// and its EventServiceInitialized handlers have run, or when its
	// lifecycle ended early (resolution failed, the service was removed,
	// Init panicked, shutdown began before Init). An Init that never
	// returns never completes it. A nil service, a service already in the
	// mesh, or an Add after Shutdown began is logged and ignored; its
	// WaitGroup is already done. Services of zero size (pointers to empty
	// structs) cannot be told apart and are never duplicates: each Add of
	// one is a service of its own.
	//
	// A service added again while its previous lifecycle still runs (its
	// Init, or its Serve winding down after the removal ended its
	// context), or while its removal is still being told, is set up
	// (handlers, logger, listing) by its new lifecycle once all of them
	// are over: its methods never run concurrently with themselves, and it
	// never hears of its own removal. If shutdown begins meanwhile, it is
	// never set up and its WaitGroup is done. Waiting on such an Add from
	// the service's own callbacks, or from a handler of its
	// EventServiceRemoved, waits for itself.
	Add(Service) *sync.WaitGroup
	// Remove takes a service out of the mesh: its event handlers are
	// unbound, a pending dependency resolution is canceled, and
	// EventServiceRemoved is emitted with it; its lifecycle emits nothing
	// more (an event whose emission had begun may still be delivered). The
	// WaitGroup is done when those handlers have run and a resolution under
	// way has ended. Remove does not call OnShutdown, and an Init already
	// running is not interrupted. A nil or unknown service is logged and
	// yields a WaitGroup already done; of several services of zero size
	// that are the same, the earliest added is removed. Waiting on the
	// WaitGroup from inside the removed service's own ResolveDependencies
	// or DependenciesResolved waits for itself and never returns.
	Remove(Service) *sync.WaitGroup
	// Services returns a copy of the services in the mesh, in the order they
	// were added, starting with the mesh itself. Services whose
	// dependencies are still being resolved are included.
	Services() []Service
	// Events returns the mesh's event bus. Services may emit and listen for
	// their own events on it.
	Events() *ee.EventEmitter
	// Run emits EventRuntimeRunLoopInitiated and blocks until SIGINT or
	// SIGTERM arrives or Shutdown is called, and returns once the shutdown
	// has completed. The mesh listens for those signals from New on, so a
	// signal that arrived before Run has already started the shutdown: Run
	// then emits nothing and returns once it has completed, as it does
	// after Shutdown. While the shutdown runs, a second signal names what
	// is still stopping and exits the process with status 1. Calling Run
	// from SetLogger, ResolveDependencies, DependenciesResolved or a
	// lifecycle handler blocks that callback until the shutdown is over,
	// which waits for that callback until the deadline.
	Run()
	// Shutdown starts the shutdown, once, and returns a WaitGroup that is
	// done when it has completed. Every call returns the same WaitGroup.
	// The shutdown cancels pending resolutions, emits
	// EventRuntimeShutdownInitiated, and calls OnShutdown on every service
	// whose start did not fail, in dependency order (see Graph), without waiting for Inits still
	// running (a service that runs its loop inside Init is told to end it
	// by its OnShutdown). It is bounded by SetShutdownTimeout (25 s by
	// default). Waiting on the WaitGroup from inside SetLogger,
	// ResolveDependencies, DependenciesResolved, OnShutdown or a lifecycle
	// event handler waits for itself until the deadline, or for ever when
	// the budget is none; from Init it returns once the shutdown completes.
	Shutdown() *sync.WaitGroup
	// SetLogHandler makes every logger the mesh handed out, or will hand
	// out, write through handler. nil restores the default text handler.
	// A handler that panics loses the record, never the process; one that
	// is, or wraps, one of the mesh's own handlers is refused.
	SetLogHandler(handler slog.Handler)
	// SetLogLevel sets the minimum level of every logger of the mesh.
	SetLogLevel(level slog.Level)
	// SetLogDestination switches to the default text handler writing to
	// dst; nil discards all log output.
	SetLogDestination(dst io.Writer)
	// SetDependencyResolutionTimeout bounds how long one service may wait
	// for its dependencies; zero or negative waits forever.
	SetDependencyResolutionTimeout(timeout time.Duration)
}

// The EventHandler* interfaces let a service react to the mesh's events
// without touching the bus: when a service implementing one is added, the
// mesh binds it to its event before Add returns, and unbinds it when the
// service is removed. The handlers of one event are called one after
// another, in the order their services were added, on a goroutine of the
// mesh, possibly concurrently with the service's other methods, so a
// handler must guard the state it touches. A handler that does not return
// within a few milliseconds lets the handlers after it go on on another
// goroutine, so handlers may wait for each other. The step that emitted the
// event waits for all its handlers, so a handler that blocks holds it up.
// A panic in a handler is recovered and logged. The event reaches them
// whoever emits it on the bus.

// EventHandlerServiceAdded receives every service added to the mesh,
// itself included, after its logger and handlers were bound and before its
// dependencies are resolved.
type EventHandlerServiceAdded interface {
	OnServiceAdded(Service)
}

// EventHandlerServiceRemoved receives every service removed from the
// mesh, except itself: its own handlers are unbound first.
type EventHandlerServiceRemoved interface {
	OnServiceRemoved(Service)
}

// EventHandlerServiceInitialized receives every service whose Init
// returned normally, itself included.
type EventHandlerServiceInitialized interface {
	OnServiceInitialized(Service)
}

// EventHandlerServiceEventsBound receives every service whose handler
// interfaces were bound, itself included: the first event of a lifecycle.
type EventHandlerServiceEventsBound interface {
	OnServiceEventsBound(Service)
}

// EventHandlerServiceLoggerBound receives every service that was given
// a logger (it implements HasLogger), itself included.
type EventHandlerServiceLoggerBound interface {
	OnServiceLoggerBound(Service)
}

// EventHandlerServiceMeshRunLoopInitiated is told when Run starts, unless
// the shutdown had already begun. The mesh listens for signals from New on,
// so a Ctrl+C means a graceful shutdown before this call too.
type EventHandlerServiceMeshRunLoopInitiated interface {
	OnServiceMeshRunLoopInitiated()
}

// EventHandlerServiceMeshShutdownInitiated is told when shutdown begins,
// before any OnShutdown. Pending resolutions are already canceled, no Init
// begins from then on, and Inits in flight may still be running. Its
// handlers count against the shutdown's budget.
type EventHandlerServiceMeshShutdownInitiated interface {
	OnServiceMeshShutdownInitiated()
}

// EventHandlerDependencyResolutionStarted receives every service that
// starts waiting for its dependencies (it implements HasDependencies).
type EventHandlerDependencyResolutionStarted interface {
	OnDependencyResolutionStarted(Service)
}

// EventHandlerDependencyResolutionEnded receives every service whose
// dependencies were resolved, just before its Init.
type EventHandlerDependencyResolutionEnded interface {
	OnDependencyResolutionEnded(Service)
}

// EventHandlerDependencyResolutionFailed receives every service whose
// resolution failed, and why: the error wraps ErrDependencyResolutionTimeout,
// ErrDependencyResolutionCanceled or ErrServicePanicked (see
// ResolutionError). That service is never initialized.
type EventHandlerDependencyResolutionFailed interface {
	OnDependencyResolutionFailed(Service, error)
}

// EventHandlerServiceRestarting receives every service whose Serve failed
// and is about to be restarted, with the error (see RestartPolicy).
type EventHandlerServiceRestarting interface {
	OnServiceRestarting(Service, error)
}

// EventHandlerServiceFailed receives every service that failed, and why:
// a *ServiceError (see RunContext).
type EventHandlerServiceFailed interface {
	OnServiceFailed(Service, error)
}

// EventHandlerMeshReady is told once, the first time the mesh is ready (see
// Ready): every service added so far runs, reports Ready and passes its
// HealthCheck, and every EventServiceInitialized has been told. Services
// added later do not tell it again, and it is not told if the shutdown had
// begun first. It comes only once Run (or RunContext) was called: before,
// main may still be adding services.
type EventHandlerMeshReady interface {
	OnMeshReady()
}
