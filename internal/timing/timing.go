// Package timing holds every timing constant of the mesh, each named once,
// with the reason for its value. It imports nothing and is imported by the
// root package and by the internal packages that keep time; a value is
// changed here and nowhere else.
package timing

import "time"

// Resolution of dependencies (root dependencies.go, internal scheduler).
const (
	// ResolutionTimeout is how long a service may wait for its
	// dependencies unless the application says otherwise: the original
	// library's default.
	ResolutionTimeout = 30 * time.Second
	// WarnDelay is when a service still waiting for its dependencies is
	// reported at Warn, once: long enough that a normal start never
	// triggers it, short enough that a missing service is named well
	// before the resolution timeout.
	WarnDelay = 5 * time.Second
	// FirstPoll is the first poll of a waiter for a dependency from
	// outside the mesh: a dependency that is nearly there is found at once.
	FirstPoll = time.Millisecond
	// MaxPoll is the poll's ceiling. The promise is that an outside
	// dependency is noticed within 50 ms; polling at 40 ms leaves the rest
	// for waking the resolver on a busy machine.
	MaxPoll = 40 * time.Millisecond
	// BroadcastDelay is the shortest time between a change of the mesh and
	// the broadcast to every waiter it causes; changes within it share one.
	BroadcastDelay = 100 * time.Microsecond
	// BroadcastShare bounds the scheduler's time spent on broadcasts: the
	// window after a change is at least BroadcastShare times as long as
	// the last broadcast took, so broadcasts take at most about a tenth of
	// a core however many waiters and changes there are.
	BroadcastShare = 10
	// SchedulerTick is the period of the watchdog that looks for a stuck
	// resolver; it runs only while the scheduler runs attempts.
	SchedulerTick = time.Millisecond
	// ResolverStallTicks is how many ticks an attempt may take before the
	// scheduler goes on without it (about 10 ms): a resolver that blocks
	// holds up its own service only.
	ResolverStallTicks = 10
	// ClockEvery is how many attempts the scheduler runs on one reading of
	// the clock, as long as they are quick: a fifth of a poll's cost was
	// reading the clock. Once ClockEvery attempts have taken longer than
	// ClockStale it reads the clock for every attempt until they are quick
	// again, so a reading is never much older than SchedulerTick plus one
	// attempt.
	ClockEvery = 32
	ClockStale = 100 * time.Microsecond
	// InitNamesTTL is how long the names of the services in Init are
	// reused by the warnings about slow resolutions: ten thousand warnings
	// must not each walk ten thousand services.
	InitNamesTTL = 100 * time.Millisecond
	// MeshSettled is how long the mesh must be quiet (no service added or
	// changed state) before a requirement that no service can fill is
	// named at Warn: long enough that services still being added in a
	// burst are not reported, short enough that the missing type is named
	// at once rather than seconds later.
	MeshSettled = 100 * time.Millisecond
)

// Readiness and health (internal/readiness; root ready.go, healthcheck.go).
const (
	// HealthCheckTimeout bounds one HealthCheck: its context ends then, and
	// a check that has not returned by then counts as failing. Kubernetes
	// probes time out after 1 s by default; two keeps a slow check from
	// flapping while a hung one is still caught.
	HealthCheckTimeout = 2 * time.Second
	// HealthCacheTTL is how long the result of a HealthCheck is used before
	// the service is asked again: probes that hammer /readyz cannot call a
	// service more than about once a second.
	HealthCacheTTL = time.Second
	// ReadyPollMin and ReadyPollMax bound the backoff of WaitReady and of
	// the readiness watcher between two looks at the mesh: readiness that
	// arrives unannounced (a HasReadiness service turning ready, a health
	// check passing) is noticed within ReadyPollMax.
	ReadyPollMin = time.Millisecond
	ReadyPollMax = 50 * time.Millisecond
)

// The lane, which starts services without dependencies in the order added
// (root startorder.go).
const (
	// LaneTick is the period of the watchdog that hands the lane on. It
	// runs only while the lane has work.
	LaneTick = time.Millisecond
	// LaneInitTicks is how many ticks the lane waits for an Init (2 to 3
	// ms): an Init that returns at once keeps the order of Add; one that
	// runs its loop inside Init does not hold the others up.
	LaneInitTicks = 3
	// LaneStuckTicks is how many ticks without progress the lane waits for
	// SetLogger or a handler (about 50 ms): a slow handler keeps the order,
	// one that waits for a later service does not deadlock it.
	LaneStuckTicks = 50
)

// Events (internal/fanout).
const (
	// HandlerStall is how long one event handler may hold up the handlers
	// after it, without finishing, before they are called on another
	// goroutine: longer than any handler that only records, short enough
	// that a handler that waits cannot stall the mesh.
	HandlerStall = 5 * time.Millisecond
)

// Shutdown (root shutdown.go, hooks.go; internal/deadline, internal/signals).
const (
	// ShutdownTimeout is the whole shutdown's budget unless the application
	// sets another: inside the 30 s that Kubernetes waits by default between
	// SIGTERM and SIGKILL, with room for the process to exit.
	ShutdownTimeout = 25 * time.Second
	// MaxStopGrace bounds the grace after the shutdown's budget has passed,
	// within which the services that the stops left behind depend on are
	// still stopped (a tenth of the budget, at most this).
	MaxStopGrace = time.Second
	// InitSettle is how long the shutdown gives the Inits of stopped
	// services, once every service was stopped, to return: a service that
	// runs its loop inside Init has just been told by its OnShutdown to end
	// it, and an InitContext saw its context end. An Init that nothing told
	// to end is not waited for.
	InitSettle = 100 * time.Millisecond
	// TellBound bounds how long a shutdown whose budget ran out waits for
	// the handlers of what it told last (EventServiceFailed of the stops
	// that ran out, events of lifecycles that ended late): long enough for
	// any handler that only records or logs, short enough that a handler
	// that hangs cannot hold the process for long after its budget.
	TellBound = time.Second
	// LateLook is how often the shutdown's last step looks whether the
	// goroutines that began after its deadline have ended: their count
	// wakes nobody while the ones left behind keep it above zero. Short,
	// since it delays Shutdown's WaitGroup; only past a deadline.
	LateLook = time.Millisecond
	// AnchorLinger is how long the process-wide signal registration is kept
	// after the last mesh stopped listening: a program or a test suite
	// that makes mesh after mesh pays the runtime's round trip once.
	AnchorLinger = 100 * time.Millisecond
)

// Supervision: RestartPolicy's defaults (internal/supervise).
const (
	// RestartWindow is the span over which restarts are counted.
	RestartWindow = 30 * time.Second
	// RestartBackoff is the wait before the first restart: long enough that
	// a crash loop costs little, short enough that a blip heals at once.
	RestartBackoff = 100 * time.Millisecond
	// RestartMaxBackoff caps the doubling backoff.
	RestartMaxBackoff = 15 * time.Second
)
