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
	// Add registers a service and starts its lifecycle in the background.
	// The returned WaitGroup is done when the service's Init has returned
	// and its EventServiceInitialized handlers have run, or when its
	// lifecycle ended early (resolution failed, the service was removed,
	// Init panicked). A nil service, a service already in the mesh, or an
	// Add after Shutdown began is logged and ignored; its WaitGroup is
	// already done.
	Add(Service) *sync.WaitGroup

	// Remove takes a service out of the mesh: its event handlers are
	// unbound, a pending dependency resolution is canceled, and
	// EventServiceRemoved is emitted with it. The WaitGroup is done when
	// those handlers have run and a resolution under way has ended. Remove
	// does not call OnShutdown, and an Init already running is not
	// interrupted. A nil or unknown service is logged and yields a WaitGroup
	// already done. Waiting on the WaitGroup from inside the removed
	// service's own ResolveDependencies or DependenciesResolved waits for
	// itself and never returns. Adding the service again while its previous
	// lifecycle still runs starts the new one once that one has ended.
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
	// has completed. It listens for signals before it emits the event. Once
	// shutdown begins it stops listening, so a second signal has its usual
	// effect: a second Ctrl+C ends a process whose shutdown hangs. Run
	// after Shutdown emits nothing and returns once that shutdown completed.
	Run()

	// Shutdown starts the shutdown, once, and returns a WaitGroup that is
	// done when it has completed. Every call returns the same WaitGroup.
	// Waiting on it from inside Init, OnShutdown or a lifecycle event
	// handler waits for itself and never returns.
	Shutdown() *sync.WaitGroup

	// SetLogHandler makes every logger the mesh handed out, or will hand
	// out, write through handler. nil restores the default text handler.
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
// service is removed. Each call runs on a goroutine of its own (the bus
// starts one per listener), possibly concurrently with the service's other
// methods, so a handler must guard the state it touches. The step that
// emitted the event waits for its handlers, so a handler that blocks holds
// it up. A panic in a handler is recovered and logged.

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

// EventHandlerServiceMeshRunLoopInitiated is told when Run starts. Run
// listens for signals before it emits this event, so from this call on a
// Ctrl+C means a graceful shutdown.
type EventHandlerServiceMeshRunLoopInitiated interface {
	OnServiceMeshRunLoopInitiated()
}

// EventHandlerServiceMeshShutdownInitiated is told when shutdown begins,
// before any OnShutdown. Pending resolutions are already canceled; Inits in
// flight may still be running.
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
