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
	// those handlers have run and the resolution has ended. Remove does not
	// call OnShutdown. An unknown service yields a WaitGroup already done.
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
	// has completed.
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

// EventHandlerServiceAdded is bound to EventServiceAdded.
type EventHandlerServiceAdded interface {
	OnServiceAdded(Service)
}

// EventHandlerServiceRemoved is bound to EventServiceRemoved.
type EventHandlerServiceRemoved interface {
	OnServiceRemoved(Service)
}

// EventHandlerServiceInitialized is bound to EventServiceInitialized.
type EventHandlerServiceInitialized interface {
	OnServiceInitialized(Service)
}

// EventHandlerServiceEventsBound is bound to EventServiceEventsBound.
type EventHandlerServiceEventsBound interface {
	OnServiceEventsBound(Service)
}

// EventHandlerServiceLoggerBound is bound to EventServiceLoggerBound.
type EventHandlerServiceLoggerBound interface {
	OnServiceLoggerBound(Service)
}

// EventHandlerServiceMeshRunLoopInitiated is bound to EventRuntimeRunLoopInitiated.
type EventHandlerServiceMeshRunLoopInitiated interface {
	OnServiceMeshRunLoopInitiated()
}

// EventHandlerServiceMeshShutdownInitiated is bound to EventRuntimeShutdownInitiated.
type EventHandlerServiceMeshShutdownInitiated interface {
	OnServiceMeshShutdownInitiated()
}

// EventHandlerDependencyResolutionStarted is bound to EventDependencyResolutionStarted.
type EventHandlerDependencyResolutionStarted interface {
	OnDependencyResolutionStarted(Service)
}

// EventHandlerDependencyResolutionEnded is bound to EventDependencyResolutionEnded.
type EventHandlerDependencyResolutionEnded interface {
	OnDependencyResolutionEnded(Service)
}

// EventHandlerDependencyResolutionFailed is bound to EventDependencyResolutionFailed.
type EventHandlerDependencyResolutionFailed interface {
	OnDependencyResolutionFailed(Service, error)
}
