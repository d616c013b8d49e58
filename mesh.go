package servicemesh

import (
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ee "github.com/gravestench/eventemitter"
)

const defaultName = "Service Mesh"

// New returns an empty mesh. The name is the given parts joined with a space,
// or "Service Mesh" when none are given; it appears in the mesh's own log
// lines. The mesh logs as text to standard output at level Info until told
// otherwise.
//
// The mesh listens for SIGINT and SIGTERM from New on, so that a signal which
// arrives while main is still adding services, or waiting on Add(...).Wait(),
// starts a graceful shutdown instead of killing the process (see Mesh.Run).
// It stops listening once its shutdown has completed.
func New(name ...string) Mesh {
	n := strings.Join(name, " ")
	if n == "" {
		n = defaultName
	}
	m := &mesh{
		name:     n,
		events:   ee.New(),
		logs:     newLogRouter(),
		index:    make(map[Service]*entry),
		retiring: make(map[Service]*entry),
		sched:    newScheduler(),
		down:     make(chan struct{}),
		finished: make(chan struct{}),
		idleWake: make(chan struct{}, 1),
		epoch:    time.Now(),

		stopTimeoutChanged: make(chan struct{}, 1),
	}
	m.logger = m.logs.logger(n)
	m.fanOuts = m.newFanOuts()
	m.svcs = []Service{m}
	m.slots = []*entry{nil}
	m.view = []Service{m}
	m.storeSnapshot()
	m.timeout.Store(int64(defaultResolutionTimeout))
	m.warnDelay.Store(int64(defaultWarnDelay))
	m.stopTimeout.Store(int64(defaultShutdownTimeout))
	m.listenForSignals()
	return m
}

// mesh is the implementation of Mesh. It is itself a Service.
type mesh struct {
	name   string
	events *ee.EventEmitter
	// fanOuts delivers each event to the handler interfaces bound for it
	// (events.go); the map is made by New and never changes.
	fanOuts map[string]*fanOut
	logs    *logRouter
	logger  *slog.Logger
	epoch   time.Time // when the mesh was made; polls align to it

	timeout     atomic.Int64  // time.Duration; resolution timeout, <= 0 disables
	stopTimeout atomic.Int64  // time.Duration; the shutdown's budget, <= 0 none
	inits       atomic.Uint64 // numbers Inits in the order they begin
	// stopTimeoutChanged is poked when stopTimeout changes, so that a
	// shutdown under way recomputes its deadline (cap 1).
	stopTimeoutChanged chan struct{}
	// pending counts accepted services whose way to Init has not ended: Init
	// has not returned, nor has the lifecycle been cut short.
	pending atomic.Int64
	// busy counts the goroutines the mesh started that shutdown waits for:
	// lifecycles (except while they are inside Init, which shutdown never
	// waits for), removals and the poller. Reaching zero pokes idleWake.
	busy     atomic.Int64
	idleWake chan struct{} // cap 1
	// initsRunning counts Inits that began and have not returned; reaching
	// zero, or any Init returning during shutdown, pokes idleWake too.
	initsRunning atomic.Int64
	// changes counts services added, initialized or removed. Waiting
	// resolvers note when they see it move, which tells how long the mesh
	// has been quiet without a clock read on every change.
	changes   atomic.Uint64
	warnDelay atomic.Int64 // time.Duration; when a slow resolution is reported

	// started is a lock-free stack, linked through entry.nextStarted, of the
	// entries whose Init began. Shutdown orders it by initSeq, when each
	// Init began, and stops them newest first.
	started atomic.Pointer[entry]
	// startMu fences the beginning of Inits against shutdown: beginInit
	// holds it shared while it checks stopping and pushes on started;
	// shutdown takes it once, exclusively, after setting stopping, so that
	// every Init that began is on the stack it reads and no Init begins
	// after. No user code runs under it.
	startMu sync.RWMutex
	// stackMu serializes compactions of started with the shutdown's read
	// of it; pushes need no lock.
	stackMu sync.Mutex
	// stacked counts the entries on started; removals counts Removes since
	// the last compaction, which drops removed entries so that a mesh that
	// adds and removes services for ever does not keep them.
	stacked, removals atomic.Int64
	// sched runs the resolvers of waiting services (scheduler.go).
	sched scheduler
	// snap is the list of services handed to resolvers, view[:n:n], stored
	// under mu at every change and loaded without it.
	snap atomic.Pointer[[]Service]

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
	// order added (startorder.go).
	lane lane

	mu sync.Mutex // guards every field below
	// svcs is the mesh followed by its services, in the order added, with
	// nil holes where services were removed (holes of them); slots holds
	// the entry of each (nil for the mesh), and each entry its index there.
	svcs  []Service
	slots []*entry
	holes int
	// view holds the services of svcs, without holes, for resolvers. It is
	// append-only and set to nil on removal, to be built anew when next
	// asked for, so every view[:n:n] handed out stays as it was and
	// resolvers share it without a copy each. It is apart from svcs so that
	// a resolver that writes into its list, which it must not do, can only
	// confuse other resolvers, never the registry.
	view  []Service
	index map[Service]*entry // entries of services whose value is comparable
	odd   []*entry           // entries of other services: not comparable, or of zero size
	// byAddr holds the entries of pointer-shaped services by address, for
	// matching what resolvers hold; nil until a resolver first waits.
	byAddr map[uintptr]*entry
	// retiring holds removed entries until their lifecycle has ended and
	// their EventServiceRemoved has been delivered, so that adding the same
	// service again starts its new lifecycle only after both: the newest of
	// each comparable service, and a list of the others.
	retiring    map[Service]*entry
	retiringOdd []*entry
	seq         uint64 // numbers entries in the order added
	shutting    bool   // shutdown has begun
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
	if isNil(svc) {
		m.logger.Warn("Add ignored: the service is nil")
		return doneWaitGroup()
	}
	name, err := m.serviceName(svc)
	if err != nil {
		return doneWaitGroup()
	}
	e := newEntry(svc, name)
	if bs := m.listenersFor(svc, name); len(bs) > 0 {
		e.handlers = &handlerSet{listeners: bs}
	}
	// Counted before the entry can be found: a Remove and Add of the same
	// service that race with this one wait for this lifecycle through it.
	e.done.Add(1)

	m.mu.Lock()
	switch {
	case m.shutting:
		m.mu.Unlock()
		m.logger.Warn("Add ignored: the mesh is shutting down", "subject", name)
		return doneWaitGroup()
	case svc == Service(m) || (!e.zeroSize && m.lookupAs(svc, e.comparable) != nil):
		m.mu.Unlock()
		m.logger.Warn("Add ignored: the service is already in the mesh", "subject", name)
		return doneWaitGroup()
	}
	// Reserved: a concurrent Add of the same service is now a duplicate,
	// and shutdown waits for this one. A service with a logger becomes
	// visible to others only once SetLogger has run, so that no resolver
	// finds it, and no Init uses it, without its logger.
	if !e.zeroSize {
		e.prev = m.stillRetiring(svc, e.comparable)
	}
	m.reserve(e)
	m.pending.Add(1)
	m.busy.Add(1)
	if !e.hasLogger && e.prev == nil {
		m.publish(e)
	}
	m.mu.Unlock()

	// A service added again while its previous lifecycle still runs, or
	// while its removal is still being told, is set up by its new lifecycle
	// once both are over: its methods never run concurrently with
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
		logger := m.logs.logger(e.name)
		e.steps.Add(1)
		e.inUserCode.Store(true)
		_ = m.guard(e.name, "SetLogger", func() { e.svc.(HasLogger).SetLogger(logger) })
		e.inUserCode.Store(false)
		e.steps.Add(1)
	}
	if publish {
		m.mu.Lock()
		m.publish(e)
		m.mu.Unlock()
	}
}

// busyDone marks the end of work counted in busy; the last one pokes a
// shutdown waiting for them all.
func (m *mesh) busyDone() {
	if m.busy.Add(-1) == 0 {
		poke(m.idleWake)
	}
}

// Remove takes svc out of the mesh. See Mesh.Remove.
func (m *mesh) Remove(svc Service) *sync.WaitGroup {
	if isNil(svc) {
		m.logger.Warn("Remove ignored: the service is nil")
		return doneWaitGroup()
	}
	m.mu.Lock()
	e := m.lookup(svc)
	if e == nil {
		m.mu.Unlock()
		if name, err := m.serviceName(svc); err == nil {
			m.logger.Warn("Remove ignored: the service is not in the mesh", "subject", name)
		}
		return doneWaitGroup()
	}
	m.unregister(e)
	e.gone.Store(true)
	m.retire(e)
	e.state.from(StateRemoved, StateAdded, StateResolving) // one that began Init keeps its state
	// Wait only for a resolution under way: one that has not begun sees the
	// flag and never calls the resolver, and waiting for it could wait on
	// the very handler that called Remove.
	var resolving chan struct{}
	m.sched.mu.Lock()
	if e.resolution != nil && e.waitElem != nil {
		resolving = e.resolved
		m.queue(e) // to cancel it
	}
	m.wakeDependents(e)
	m.sched.mu.Unlock()
	m.busy.Add(1)
	m.mu.Unlock()
	m.changed()

	if hs := e.handlers; hs != nil {
		hs.mu.Lock()
		hs.removed = true
		if hs.bound {
			m.unbind(hs.listeners)
		}
		hs.mu.Unlock()
	}

	m.compactStarted()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer m.busyDone()
		defer wg.Done()
		m.debug("service removed", "subject", e.name)
		m.emit(EventServiceRemoved, svc)
		if resolving != nil {
			<-resolving
		}
		m.mu.Lock()
		e.awaitTold = false
		close(e.told)
		m.retireIfDone(e)
		m.mu.Unlock()
	}()
	return &wg
}

// changed notes that the set of services or their states changed.
func (m *mesh) changed() { m.changes.Add(1) }

// serviceName calls svc.Name, containing a panic.
func (m *mesh) serviceName(svc Service) (name string, err error) {
	err = m.guard(reflect.TypeOf(svc).String(), "Name", func() { name = svc.Name() })
	return name, err
}

// doneWaitGroup returns a WaitGroup that is already done.
func doneWaitGroup() *sync.WaitGroup { return new(sync.WaitGroup) }
