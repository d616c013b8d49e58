package servicemesh

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ee "github.com/gravestench/eventemitter"
	"github.com/gravestench/servicemesh/internal/deadline"
	"github.com/gravestench/servicemesh/internal/fanout"
	"github.com/gravestench/servicemesh/internal/lane"
	"github.com/gravestench/servicemesh/internal/logroute"
	"github.com/gravestench/servicemesh/internal/registry"
	"github.com/gravestench/servicemesh/internal/sched"
	"github.com/gravestench/servicemesh/internal/timing"
)

// The mesh: New, and the mesh type, which composes the parts each file
// owns (registry, lifecycle and start stack, lane, scheduler, fan-outs, log
// router, shutdown) and adds Add and Remove, which step through them. Its own
// fields are atomics and channels set by New; each part's comment says what
// guards it.

const defaultName = "Service Mesh"

// New returns an empty mesh. The name is the given parts joined with a space,
// or "Service Mesh" when none are given; it appears in the mesh's own log
// lines. The mesh logs as text to standard output at level Info until told
// otherwise.
//
// The mesh listens for SIGINT and SIGTERM from New on, so that a signal which
// arrives while main is still adding services, or waiting on Add(...).Wait(),
// starts a graceful shutdown instead of killing the process (see Mesh.Run).
// It stops listening once its shutdown has completed; a mesh that is never
// shut down keeps them caught for as long as the process runs.
func New(name ...string) Mesh {
	n := strings.Join(name, " ")
	if n == "" {
		n = defaultName
	}
	m := &mesh{
		name:     n,
		events:   ee.New(),
		logs:     logroute.New(),
		down:     make(chan struct{}),
		finished: make(chan struct{}),
		idleWake: make(chan struct{}, 1),
		epoch:    time.Now(),

		stopTimeoutChanged: make(chan struct{}, 1),
	}
	m.logger = m.logs.Logger(n)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.initHealth()
	m.initScheduler()
	m.fanOuts = m.newFanOuts()
	m.reg.Init(m)
	m.hub.wake = make(chan struct{}, 1)
	m.initLane()
	m.warnDelay.Store(int64(timing.WarnDelay))
	m.stopTimeout.Store(int64(timing.ShutdownTimeout))
	m.listenForSignals()
	return m
}

// mesh is the implementation of Mesh. It is itself a Service.
type mesh struct {
	name   string
	events *ee.EventEmitter
	// busOut is set once Events handed the bus out: from then on anyone
	// may listen on it, and every event is sent (events.go, heard).
	busOut atomic.Bool
	// fanOuts delivers each event to the handler interfaces bound for it
	// (events.go); the map is made by New and never changes.
	fanOuts map[string]*fanout.FanOut
	logs    *logroute.Router // the mesh's loggers and level (logging.go)
	logger  *slog.Logger
	epoch   time.Time // when the mesh was made; polls align to it

	stopTimeout  atomic.Int64 // time.Duration; the shutdown's budget, <= 0 none
	startTimeout atomic.Int64 // time.Duration; how long one Init may take, <= 0 no limit
	// sequentialStop makes the shutdown stop one service at a time.
	sequentialStop atomic.Bool
	drainDelay     atomic.Int64 // time.Duration; how long a shutdown drains first
	// restartPolicy is the mesh's policy for failing Serves (supervise.go);
	// nil: the defaults.
	restartPolicy atomic.Pointer[RestartPolicy]
	// ctx ends when shutdown begins (cancel); InitContext's contexts derive
	// from it.
	ctx    context.Context
	cancel context.CancelFunc
	// failures are the failures of the run, for RunContext (failures.go).
	failures failureLog
	// recovered counts the panics recovered from service code by guard and
	// probeGuard; the log router counts its handler's own (logs.Panics).
	// RecoveredPanics sums them (panics.go).
	recovered atomic.Int64
	// stopTimeoutChanged is poked when stopTimeout changes, so that a
	// shutdown under way recomputes its deadline (cap 1).
	stopTimeoutChanged chan struct{}
	// stopBudget is the context of the stops of the shutdown under way
	// (deadline.go, internal/deadline); nil before it began.
	stopBudget atomic.Pointer[deadline.BudgetContext]
	// running is set by Run (and so RunContext): only from then on is the
	// mesh's first readiness latched (ready.go).
	running atomic.Bool
	// hub tells subscribers of every step (subscribe.go).
	hub changeHub
	// needs are the services parked waiting for their requirements
	// (requirements.go).
	needs needsState
	// drain is whether the mesh was ready when its shutdown began, so
	// that the shutdown drains it (SetDrainDelay); set by the first
	// Shutdown under the registry's lock (BeginShutdown), before the
	// shutdown goroutine starts.
	drain bool
	// over is set once shutdown has completed: from then on the mesh
	// emits no event (events.go).
	over atomic.Bool
	// emitting counts the emissions under way (events.go, emit).
	emitting atomic.Int64
	// abandoned is emitting when the shutdown last gave up waiting on
	// handlers (its deadline, timing.TellBound): those it does not wait for again.
	abandoned atomic.Int64
	// abandonedBusy is busy at that moment: the goroutines it counts are
	// left behind, the ones after are waited for (waitLate).
	abandonedBusy atomic.Int64
	// tells counts the goroutines telling EventServiceFailed for a stop
	// that ran out of budget; shutdown waits for them before it completes
	// (hooks.go). The last one to end pokes idleWake.
	tells atomic.Int64
	// pending counts accepted services whose way to Init has not ended: Init
	// has not returned, nor has the lifecycle been cut short.
	pending atomic.Int64
	// busy counts the goroutines the mesh started that shutdown waits for:
	// lifecycles (except while they are inside Init, which shutdown never
	// waits for), the lane, removals, the scheduler, supervisors of Serve,
	// health checks, the readiness watcher and the goroutines that tell
	// EventMeshReady and stop timeouts. Reaching zero pokes idleWake.
	busy     atomic.Int64
	idleWake chan struct{} // cap 1
	// warnDelay (a time.Duration) is when a slow resolution is reported;
	// the scheduler reads it too.
	warnDelay atomic.Int64
	// inits caches the names of the Inits under way for the warnings of
	// slow resolutions (dependencies.go).
	inits initNames

	// starts records the Inits that began (lifecycle.go, internal/registry).
	starts registry.Starts[Service, *entry]
	// sched runs the resolvers of waiting services (internal/sched), and
	// counts the changes they look for (changed).
	sched sched.Scheduler[resolverState]

	// stopping is set, and down closed, when shutdown begins: the flag
	// cancels resolutions, the channel wakes Run. finished is closed when
	// shutdown has completed, just before shutdownWG is done.
	stopping atomic.Bool
	down     chan struct{}
	finished chan struct{}
	// shutdownWG is done when shutdown has completed.
	shutdownWG sync.WaitGroup
	// sigDone is closed when the signal goroutine has ended (signals.go).
	sigDone chan struct{}
	// lane runs the lifecycles of services without dependencies in the
	// order added (startorder.go); set up by New.
	lane lane.Lane[*entry]

	// reg is the set of services (registry.go, internal/registry).
	reg registry.Registry[Service, *entry]

	// health is readiness: the services' probes and whether EventMeshReady
	// was told (healthcheck.go, which says what guards it).
	health healthState
}

// Name returns the mesh's name.
func (m *mesh) Name() string { return m.name }

// Init does nothing: the mesh is a Service so that it can be listed and found
// like any other, but it is never added to a mesh.
func (m *mesh) Init(Mesh) {}

// Events returns the mesh's event bus.
func (m *mesh) Events() *ee.EventEmitter {
	if !m.busOut.Load() { // a load: callers that ask for it often do not write a shared line
		m.busOut.Store(true)
	}
	return m.events
}

// busyDone marks the end of work counted in busy; the last one pokes a
// shutdown waiting for them all.
func (m *mesh) busyDone() {
	if m.busy.Add(-1) == 0 {
		poke(m.idleWake)
	}
}

// poke sends a wake-up that is never lost and never blocks.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// changed notes that the set of services or their states changed.
func (m *mesh) changed() {
	m.sched.NoteChange()
	if m.needs.parked.Load() > 0 { // the mesh is not quiet yet
		m.needs.mu.Lock()
		m.quietAgainLocked()
		m.needs.mu.Unlock()
	}
}

// serviceName calls svc.Name, containing a panic.
func (m *mesh) serviceName(svc Service) (name string, err error) {
	err = m.guard(reflect.TypeOf(svc).String(), "Name", func() { name = svc.Name() })
	return name, err
}

// doneWaitGroup returns a WaitGroup that is already done.
func doneWaitGroup() *sync.WaitGroup { return new(sync.WaitGroup) }
