// Package servicemesh runs an application as a mesh of in-process services.
//
// A program creates a mesh, adds its services and runs it. The mesh gives
// each service a structured logger (HasLogger), binds the event handlers it
// implements (the EventHandler* interfaces) on a shared event bus, hands it
// the other services until it has found what it depends on
// (HasDependencies), calls its Init (in the order added, for services
// without dependencies), and, when SIGINT or SIGTERM arrives or Shutdown is
// called, stops every service whose Init began, in dependency order, within a
// deadline (HasGracefulShutdown, SetShutdownTimeout). Only Service, with
// Init and Name, is required; everything else is opt-in by implementing an
// interface. Programs written for the original library of this name run
// unchanged, including services that run their loop inside Init.
//
//	func main() {
//		app := servicemesh.New("my app")
//		app.Add(&web.Server{})
//		app.Add(&store.Postgres{})
//		app.Run()
//	}
//
// Every Mesh method is safe for concurrent use and may be called from inside
// Init, OnShutdown and event handlers. The mesh never holds a lock while it
// runs a service's code, and it recovers and logs a panic in that code: the
// process never dies of it.
//
// One rule covers every failure for good: an Init that fails, panics or
// times out, a resolution that times out, a Serve that the restart policy
// gives up on, a stop that runs out of budget. The service becomes
// StateFailed and stays so, EventServiceFailed is told once, and the mesh
// shuts down (fail fast), so that an orchestrator restarts the process:
// Run returns after logging the failure, and RunContext returns it, for
// main to exit non-zero. RestartPolicy's KeepRunning keeps the mesh running
// instead. A start that the shutdown cut short is no failure.
package servicemesh

// How the core works, for a contributor (each part is in the file named for
// it, with a comment saying what guards its state):
//
// The layers. The root package is the public surface: types, contracts,
// and thin adapters that compose the parts. The parts are internal
// packages that import nothing above them (layering_test.go keeps it so),
// each owning its state:
//
//	servicemesh   mesh.go add.go lifecycle.go events.go dependencies.go
//	    │         shutdown.go stop.go ready.go status.go subscribe.go ...
//	    ▼
//	lifecycle  registry  sched  lane  graph  readiness  fanout
//	logroute   supervise deadline signals
//	    │
//	    ▼
//	timing        (every timing constant, with its reason)
//
// lifecycle: a service's states and the table of allowed steps. registry:
// the set of services, lookup, the lock-free snapshot, the start stack.
// sched: waiting resolvers, polls, broadcasts, wake-ups. lane: Inits in
// the order added. graph: held references, the stop plan and order,
// DOT/Mermaid. readiness: health probes and their cache. fanout: events to
// bound handlers. logroute: the one handler every logger writes through.
// supervise: restart policies and backoff. deadline: the shutdown's budget
// and clock. signals: the process-wide signal registration.
//
// Each service's state is a lifecycle.Machine (internal/lifecycle): every
// step goes through it, and it refuses a step its table does not allow, so
// that a failed or removed service is never acted on again (step, in
// lifecycle.go; the failure rule in failures.go).
//
// Add reserves the service in the registry (internal/registry, generic
// over the service and the entry, adapted in registry.go) under the
// registry's mutex, binds its handler interfaces to the fan-out of each event
// (events.go) and calls SetLogger, then hands the service's lifecycle
// (lifecycle.go) to a goroutine: the lane (internal/lane) for services
// without dependencies, which runs their lifecycles one after another in the
// order added and moves to a new goroutine when one gets stuck (an Init
// running its loop, a handler waiting), or a goroutine of its own for a
// service with dependencies. A lifecycle emits the service's events, resolves
// its dependencies, begins its Init (recorded on the start stack,
// registry.Starts, which shutdown reads behind a fence so that no Init it
// does not know of begins after it) and emits EventServiceInitialized.
//
// Resolution (dependencies.go, internal/sched): the lifecycle goroutine runs
// the first attempt; if it does not resolve, the lifecycle parks (the
// service is a waiting record, without a goroutine) and resumes on the
// goroutine that ends its resolution, or a new one. Later attempts are run by one scheduler
// goroutine, one after another: polls, backing off to 40 ms and aligned so
// that they fall due together (in phases, when more than a thousand wait),
// with one clock reading per 32 attempts, and broadcasts after any change,
// coalesced in
// a window that grows with what the last broadcast cost. A waiter that holds
// a service (found by reading its pointer fields, internal/graph) has its
// next attempt run the moment that service is initialized, on a goroutine
// started for it that goes on with its Init (a hand-off).
// Resolvers share one immutable list of the services; the registry rebuilds
// it lazily after a removal, and Remove itself leaves a hole in constant
// time.
//
// Shutdown (shutdown.go, deadline.go, signals.go) is one goroutine: it
// cancels resolutions, tells the handlers, stops the services whose Init
// began in the order of the dependency graph (internal/graph: a service stops
// after everything that holds it, unrelated services concurrently), never
// waiting for an Init, all within a budget (kept by internal/deadline's
// clock), then waits for the mesh's own goroutines (counted in busy).
// Signals reach each mesh through one process-wide registration that is
// kept while any mesh listens (internal/signals).
//
// No lock is held while service code runs or while the mesh waits on the
// event bus; service code is called through guard (panics.go), which turns a
// panic into a logged *PanicError.
