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
func (m *mesh) Events() *ee.EventEmitter { return m.events }

// Add registers svc and starts its lifecycle. See Mesh.Add.
func (m *mesh) Add(svc Service) *sync.WaitGroup {
	if registry.IsNil(svc) {
		m.logger.Warn("Add ignored: the service is nil")
		return doneWaitGroup()
	}
	name, err := m.serviceName(svc)
	if err != nil {
		return doneWaitGroup()
	}
	e := newEntry(svc, name)
	e.policy = m.ownPolicy(svc, name) // read once, at Add (DESIGN §8)
	if bs := m.listenersFor(svc, name); len(bs) > 0 {
		e.handlers = &handlerSet{listeners: bs}
	}
	// Counted before the entry can be found: a Remove and Add of the same
	// service that race with this one wait for this lifecycle through it.
	e.done.Add(1)

	listed, refused := m.reg.Admit(&e.node, func(seq uint64, prev *entry) bool {
		// Reserved: a concurrent Add of the same service is now a
		// duplicate, and shutdown waits for this one. A service with a
		// logger becomes visible to others only once SetLogger has run, so
		// that no resolver finds it, and no Init uses it, without its
		// logger.
		e.seq, e.prev = seq, prev
		m.pending.Add(1)
		m.busy.Add(1)
		return !e.hasLogger && prev == nil
	})
	switch refused {
	case registry.ShuttingDown:
		m.logger.Warn("Add ignored: the mesh is shutting down", "subject", name)
		return doneWaitGroup()
	case registry.Duplicate:
		m.logger.Warn("Add ignored: the service is already in the mesh", "subject", name)
		return doneWaitGroup()
	}
	if listed {
		m.wakeResolvers()
	}

	// A service added again while its previous lifecycle or Serve still
	// runs, or while its removal is still being told, is set up by its new
	// lifecycle once all are over: its methods never run concurrently with
	// themselves, and it never hears of its own removal.
	if e.prev == nil {
		m.attach(e, e.hasLogger)
	}
	m.changed()

	if e.resolution == nil && e.prev == nil { // see lifecycle
		m.enqueue(e)
	} else {
		go m.lifecycle(e)
	}
	return &e.done
}

// attach binds e's handler interfaces and gives it its logger, then lists it
// where others see it if publish is set. Nothing happens for a service
// removed meanwhile.
func (m *mesh) attach(e *entry, publish bool) {
	if hs := e.handlers; hs != nil {
		hs.mu.Lock()
		if !hs.removed {
			m.bind(hs.listeners)
			hs.bound = true
		}
		hs.mu.Unlock()
	}
	if e.hasLogger && !e.gone.Load() {
		logger := m.logs.Logger(e.name)
		e.progress.Steps.Add(1)
		e.progress.InUserCode.Store(true)
		_ = m.guard(e.name, "SetLogger", func() { e.svc.(HasLogger).SetLogger(logger) })
		e.progress.InUserCode.Store(false)
		e.progress.Steps.Add(1)
	}
	if publish && m.reg.Publish(&e.node) {
		m.wakeResolvers()
	}
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

// Remove takes svc out of the mesh. See Mesh.Remove.
func (m *mesh) Remove(svc Service) *sync.WaitGroup {
	if registry.IsNil(svc) {
		m.logger.Warn("Remove ignored: the service is nil")
		return doneWaitGroup()
	}
	// Wait only for a resolution under way: one that has not begun sees the
	// flag and never calls the resolver, and waiting for it could wait on
	// the very handler that called Remove.
	var resolving <-chan struct{}
	e, ok := m.reg.Remove(svc, func(e *entry) (awaitLife, awaitServe bool) {
		e.gone.Store(true)
		awaitLife, awaitServe = !e.ended.Load(), e.serveRunning() // see retired, serveReturned
		m.step(e, StateRemoved)                                   // from any state but failed: it is never acted on again
		resolving = m.sched.Removed(e.resolution, &e.watchers)
		m.busy.Add(1)
		return awaitLife, awaitServe
	})
	if !ok {
		if name, err := m.serviceName(svc); err == nil {
			m.logger.Warn("Remove ignored: the service is not in the mesh", "subject", name)
		}
		return doneWaitGroup()
	}
	m.changed()

	if e.serve != nil {
		e.endServe() // its Serve's context ends; Remove does not wait for it
	}
	if hs := e.handlers; hs != nil {
		hs.mu.Lock()
		hs.removed = true
		if hs.bound {
			m.unbind(hs.listeners)
		}
		hs.mu.Unlock()
	}

	m.starts.Removed(wasRemoved)

	resolved := resolving // captured by value, so that resolving, set under the lock, stays on the stack
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer m.busyDone()
		defer wg.Done()
		m.debug("service removed", "subject", e.name)
		m.emit(EventServiceRemoved, svc)
		if resolved != nil {
			<-resolved
		}
		m.reg.Told(&e.node)
	}()
	return &wg
}

// changed notes that the set of services or their states changed.
func (m *mesh) changed() { m.sched.NoteChange() }

// serviceName calls svc.Name, containing a panic.
func (m *mesh) serviceName(svc Service) (name string, err error) {
	err = m.guard(reflect.TypeOf(svc).String(), "Name", func() { name = svc.Name() })
	return name, err
}

// doneWaitGroup returns a WaitGroup that is already done.
func doneWaitGroup() *sync.WaitGroup { return new(sync.WaitGroup) }
