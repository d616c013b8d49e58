package servicemesh

import (
	"cmp"
	"container/list"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
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
		name:       n,
		events:     ee.New(),
		logs:       newLogRouter(),
		index:      make(map[Service]*entry),
		waiting:    list.New(),
		blind:      make(map[*entry]struct{}),
		down:       make(chan struct{}),
		finished:   make(chan struct{}),
		pollerWake: make(chan struct{}, 1),
		idleWake:   make(chan struct{}, 1),
		epoch:      time.Now(),

		stopTimeoutChanged: make(chan struct{}, 1),
	}
	m.logger = m.logs.logger(n)
	m.svcs = []Service{m}
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
	logs   *logRouter
	logger *slog.Logger
	epoch  time.Time // when the mesh was made; polls align to it

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
	pollerWake        chan struct{} // pokes the poller to rescan (cap 1)
	// nwaiting is waiting.Len(), readable without mu.
	nwaiting atomic.Int64
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
	// svcs is the mesh followed by its services, in the order added.
	svcs []Service
	// view holds what svcs holds, for resolvers. It is append-only and
	// replaced by a fresh copy on removal, so every view[:n:n] handed out
	// stays as it was, and resolvers share it without a copy each. It is
	// apart from svcs so that a resolver that writes into its list, which
	// it must not do, can only confuse other resolvers, never the registry.
	view  []Service
	index map[Service]*entry // entries of services whose value is comparable
	odd   []*entry           // entries of other services: not comparable, or of zero size
	// byAddr holds the entries of pointer-shaped services by address, for
	// matching what resolvers hold; nil until a resolver first waits.
	byAddr map[uintptr]*entry
	// waiting lists the entries whose resolvers wait for a change, in the
	// order added; blind holds those of them that refer to no service
	// the mesh can see.
	waiting *list.List // of *entry
	// pollerOn tells whether pollLoop runs; pollerAt is when it next wakes
	// by itself (zero: only when poked through pollerWake).
	pollerOn bool
	pollerAt time.Time
	// broadcastAt is when the poller is to wake every waiting resolver,
	// after a service was initialized or removed; zero: not asked.
	broadcastAt time.Time

	blind map[*entry]struct{}
	// retiring holds removed entries until their lifecycle has ended and
	// their EventServiceRemoved has been delivered, so that adding the same
	// service again starts its new lifecycle only after both.
	retiring []*entry
	seq      uint64 // numbers entries in the order added
	shutting bool   // shutdown has begun
}

// Name returns the mesh's name.
func (m *mesh) Name() string { return m.name }

// Init does nothing: the mesh is a Service so that it can be listed and found
// like any other, but it is never added to a mesh.
func (m *mesh) Init(Mesh) {}

// Events returns the mesh's event bus.
func (m *mesh) Events() *ee.EventEmitter { return m.events }

// Services returns a copy of the mesh's services, the mesh first.
func (m *mesh) Services() []Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Service(nil), m.svcs...)
}

// snapshot returns the shared, immutable list of services for resolvers. Its
// capacity equals its length, so appending to it copies.
func (m *mesh) snapshot() []Service { return *m.snap.Load() }

// storeSnapshot publishes the current view to resolvers. The caller holds mu
// (or is New).
func (m *mesh) storeSnapshot() {
	s := m.view[:len(m.view):len(m.view)]
	m.snap.Store(&s)
}

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

// lifecycle takes one service from added to initialized. It runs on the
// lane (startorder.go) or in a goroutine of its own, counted in busy except
// while Init runs, and ends once EventServiceInitialized's handlers have run
// or the lifecycle was cut short.
func (m *mesh) lifecycle(e *entry) {
	if e.resolution != nil || e.prev != nil { // on a goroutine of its own
		defer m.busyDone()
	}
	defer e.done.Done()
	defer m.retired(e)
	if e.prev != nil {
		select {
		case <-e.prev.retired:
		case <-m.down: // no Init begins now: waiting could outlast shutdown
		}
		e.prev = nil
		m.attach(e, true)
		m.changed()
	}
	reached := false // whether pending was already settled
	defer func() {
		if !reached {
			m.settle(e, false)
		}
	}()

	svc := e.svc
	about := []any{svc} // the arguments of every event about svc; handlers only read them
	// A service removed meanwhile emits no more events of its lifecycle, so
	// that they do not follow its EventServiceRemoved. An event whose
	// emission began before Remove may still be delivered concurrently with
	// the removal's.
	emit := func(event string) bool {
		if e.gone.Load() {
			return false
		}
		e.steps.Add(1)
		e.inUserCode.Store(true)
		m.emit(event, about...)
		e.inUserCode.Store(false)
		e.steps.Add(1)
		return true
	}
	if !emit(EventServiceEventsBound) || (e.hasLogger && !emit(EventServiceLoggerBound)) || !emit(EventServiceAdded) {
		return
	}
	if e.resolution != nil && !m.resolve(e, about) {
		return
	}
	if !m.beginInit(e) {
		return
	}
	m.debug("initializing service", "subject", e.name)
	// Shutdown never waits for an Init: a service may run its loop inside
	// Init until its OnShutdown tells it to end.
	m.busyDone()
	err := m.guard(e.name, "Init", func() { svc.Init(m) })
	m.busy.Add(1)
	e.inInit.Store(false)
	if m.initsRunning.Add(-1) == 0 || m.stopping.Load() {
		poke(m.idleWake) // see settleInits
	}
	reached = true
	m.settle(e, err == nil)
	if err != nil {
		return
	}
	m.debug("service initialized", "subject", e.name)
	emit(EventServiceInitialized)
}

// beginInit reports whether e may be initialized now: not once it was
// removed, nor once shutdown began. An Init that begins is recorded on the
// started stack before shutdown can read it (see startMu), so that shutdown
// stops every service whose Init began.
func (m *mesh) beginInit(e *entry) bool {
	if e.gone.Load() {
		return false
	}
	m.startMu.RLock()
	defer m.startMu.RUnlock()
	if m.stopping.Load() {
		return false
	}
	e.phase.store(phaseInitializing)
	e.inInit.Store(true)
	m.initsRunning.Add(1)
	e.initSeq = m.inits.Add(1)
	m.pushStarted(e, e)
	m.stacked.Add(1)
	return true
}

// settle records the end of e's way to Init: initialized when ok, failed
// otherwise. Dependents watching e are woken.
func (m *mesh) settle(e *entry, ok bool) {
	switch {
	case ok:
		m.changed()
		// A service being stopped, or removed, keeps that phase.
		e.phase.from(phaseInitialized, phaseInitializing)
		// Without waiting resolvers there is nobody to wake, and a resolver
		// that begins waiting later sees this Init's effects on its first
		// attempt: most services settle without taking mu.
		if m.nwaiting.Load() > 0 {
			m.mu.Lock()
			m.wakeDependents(e)
			m.mu.Unlock()
		}
	case !e.gone.Load():
		e.phase.from(phaseFailed, phaseAdded, phaseResolving, phaseInitializing)
	}
	m.pending.Add(-1)
}

// pushStarted pushes the chain first..last, linked through nextStarted, on
// the stack of entries whose Init began.
func (m *mesh) pushStarted(first, last *entry) {
	for {
		top := m.started.Load()
		last.nextStarted = top
		if m.started.CompareAndSwap(top, first) {
			return
		}
	}
}

// compactStarted drops removed entries from the stack of started ones once
// removals since the last compaction rival what it holds, so the cost is
// amortized over the Removes.
func (m *mesh) compactStarted() {
	if n := m.removals.Add(1); n < 64 || n < m.stacked.Load()/2 {
		return
	}
	m.stackMu.Lock()
	defer m.stackMu.Unlock()
	m.removals.Store(0)
	var first, last *entry
	dropped := int64(0)
	for e := m.started.Swap(nil); e != nil; {
		next := e.nextStarted
		e.nextStarted = nil
		if e.gone.Load() {
			dropped++
		} else {
			if last == nil {
				first = e
			} else {
				last.nextStarted = e
			}
			last = e
		}
		e = next
	}
	m.stacked.Add(-dropped)
	if first != nil {
		m.pushStarted(first, last)
	}
}

// stopOrder returns the entries to stop: those whose Init began, that were
// not removed and whose Init did not panic, newest Init first. initSeq
// numbers every Init that began, 1 to inits, so a slot per number orders
// them without sorting.
func (m *mesh) stopOrder() []*entry {
	m.stackMu.Lock()
	var live []*entry
	for e := m.started.Load(); e != nil; e = e.nextStarted {
		if !e.gone.Load() && e.phase.load() != phaseFailed {
			live = append(live, e)
		}
	}
	m.stackMu.Unlock()
	inits := m.inits.Load()
	if inits > uint64(2*len(live)) { // sparse after many removals: sort
		slices.SortFunc(live, func(a, b *entry) int { return cmp.Compare(b.initSeq, a.initSeq) })
		return live
	}
	slots := make([]*entry, inits)
	for _, e := range live {
		slots[e.initSeq-1] = e
	}
	order := live[:0]
	for i := len(slots) - 1; i >= 0; i-- {
		if slots[i] != nil {
			order = append(order, slots[i])
		}
	}
	return order
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
	// Retiring until its lifecycle has ended (see retired) and its removal
	// has been told (below).
	e.retired = make(chan struct{})
	e.awaitLife = !e.ended.Load()
	e.awaitTold = true
	m.retiring = append(m.retiring, e)
	if p := e.phase.load(); p != phaseInitialized && p != phaseInitializing {
		e.phase.store(phaseRemoved)
	}
	// Wait only for a resolution under way: one that has not begun sees the
	// flag and never calls the resolver, and waiting for it could wait on
	// the very handler that called Remove.
	var resolving chan struct{}
	if e.resolution != nil {
		poke(e.wake)
		if e.waitElem != nil {
			resolving = e.resolved
		}
	}
	m.wakeDependents(e)
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
		m.retireIfDone(e)
		m.mu.Unlock()
	}()
	return &wg
}

// stillRetiring returns the newest removed entry of svc that is still
// retiring, or nil. The caller holds mu.
func (m *mesh) stillRetiring(svc Service, comparable bool) *entry {
	for i := len(m.retiring) - 1; i >= 0; i-- {
		x := m.retiring[i]
		if (comparable && x.svc == svc) || (!comparable && sameService(x.svc, svc)) {
			return x
		}
	}
	return nil
}

// retired notes, at the end of e's lifecycle, that it has ended. Entries
// never removed take no lock here.
func (m *mesh) retired(e *entry) {
	// Remove sets gone and then, under mu, reads ended; this sets ended and
	// then reads gone. If Remove read ended as false, this sees gone.
	e.ended.Store(true)
	if !e.gone.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.awaitLife {
		e.awaitLife = false
		m.retireIfDone(e)
	}
}

// retireIfDone ends e's retirement once its lifecycle has ended and its
// removal has been told. The caller holds mu.
func (m *mesh) retireIfDone(e *entry) {
	if e.awaitLife || e.awaitTold {
		return
	}
	if i := slices.Index(m.retiring, e); i >= 0 {
		m.retiring = slices.Delete(m.retiring, i, i+1)
	}
	close(e.retired)
}

// publish lists e in svcs, where Services and resolvers see it, unless it
// was removed meanwhile, and wakes the waiting resolvers. The caller holds mu.
func (m *mesh) publish(e *entry) {
	if !e.gone.Load() && !e.published {
		e.published = true
		m.svcs = appendDoubling(m.svcs, e.svc)
		m.view = appendDoubling(m.view, e.svc)
		m.storeSnapshot()
		m.wakeAll()
	}
}

// reserve enters e in the index, so that lookups find it; Add then
// publishes it in svcs. The caller holds mu.
func (m *mesh) reserve(e *entry) {
	m.seq++
	e.seq = m.seq
	if e.comparable && !e.zeroSize {
		m.index[e.svc] = e
	} else {
		m.odd = append(m.odd, e)
	}
	if m.byAddr != nil {
		if a := addressOf(e.svc); a != 0 {
			m.byAddr[a] = e
		}
	}
}

// unregister drops e from the registry. The caller holds mu.
func (m *mesh) unregister(e *entry) {
	if e.published {
		// Services of zero size cannot be told apart: any one of those the
		// same as e.svc stands for it.
		t := reflect.TypeOf(e.svc)
		for i, s := range m.svcs {
			if i > 0 && reflect.TypeOf(s) == t && ((e.zeroSize && sameService(s, e.svc)) || (!e.zeroSize && m.lookup(s) == e)) {
				m.svcs = slices.Delete(m.svcs, i, i+1)
				break
			}
		}
		m.view = append(make([]Service, 0, cap(m.svcs)), m.svcs...)
		m.storeSnapshot()
	}
	if e.comparable && !e.zeroSize {
		delete(m.index, e.svc)
	} else if i := slices.Index(m.odd, e); i >= 0 {
		m.odd = slices.Delete(m.odd, i, i+1)
	}
	if m.byAddr != nil {
		if a := addressOf(e.svc); a != 0 && m.byAddr[a] == e {
			delete(m.byAddr, a)
		}
	}
}

// lookup finds the entry of svc, without ever comparing values that Go
// cannot compare. Services of zero size cannot be told apart: lookup finds
// the earliest added of those the same as svc. The caller holds mu.
func (m *mesh) lookup(svc Service) *entry {
	if zeroSized(svc) {
		for _, e := range m.odd {
			if e.zeroSize && sameService(e.svc, svc) {
				return e
			}
		}
		return nil
	}
	return m.lookupAs(svc, isComparable(svc))
}

// lookupAs is lookup for a service of non-zero size already known to be
// comparable or not. The caller holds mu.
func (m *mesh) lookupAs(svc Service, comparable bool) *entry {
	if comparable {
		return m.index[svc]
	}
	for _, e := range m.odd {
		if !e.comparable && !e.zeroSize && sameService(e.svc, svc) {
			return e
		}
	}
	return nil
}

// changed notes that the set of services or their states changed.
func (m *mesh) changed() { m.changes.Add(1) }

// serviceName calls svc.Name, containing a panic.
func (m *mesh) serviceName(svc Service) (name string, err error) {
	err = m.guard(reflect.TypeOf(svc).String(), "Name", func() { name = svc.Name() })
	return name, err
}

// phase is where a service is in its lifecycle.
type phase uint8

const (
	phaseAdded        phase = iota // registered; lifecycle events being emitted
	phaseResolving                 // waiting for its dependencies
	phaseInitializing              // Init is running
	phaseInitialized               // Init returned normally
	phaseFailed                    // resolution failed, was canceled, or Init panicked
	phaseRemoved                   // removed before it was initialized
	phaseStopping                  // its stop is under way
	phaseStopped                   // its stop has ended
)

var phaseNames = [...]string{"added", "resolving", "initializing", "initialized", "failed", "removed", "stopping", "stopped"}

// phaseVar holds a phase for concurrent use.
type phaseVar struct{ v atomic.Uint32 }

func (p *phaseVar) load() phase   { return phase(p.v.Load()) }
func (p *phaseVar) store(x phase) { p.v.Store(uint32(x)) }

// from moves to x if the phase is one of from, and reports whether it did.
func (p *phaseVar) from(x phase, from ...phase) bool {
	for {
		cur := p.v.Load()
		if !slices.Contains(from, phase(cur)) {
			return false
		}
		if p.v.CompareAndSwap(cur, uint32(x)) {
			return true
		}
	}
}

// String returns the phase's name.
func (p phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// entry is the mesh's record of one added service.
type entry struct {
	svc        Service
	name       string
	seq        uint64         // order added; set under mesh.mu before use
	initSeq    uint64         // order its Init began; set before Init, read after it began
	comparable bool           // svc can be a map key
	zeroSize   bool           // svc is, or points to, a value of zero size: never a duplicate
	hasLogger  bool           // it implements HasLogger
	done       sync.WaitGroup // returned by Add
	gone       atomic.Bool    // set by Remove; cancels a resolution
	ended      atomic.Bool    // its lifecycle goroutine has finished
	inInit     atomic.Bool    // its Init is running
	phase      phaseVar       // read and written without mu
	// nextStarted is the next entry down the mesh's started stack.
	nextStarted *entry
	// prev is the same service's previous entry, still retiring when this
	// one was added; set by Add, cleared by the lifecycle.
	prev *entry

	// Guarded by mesh.mu: published tells whether it is listed in svcs;
	// retired is made by Remove and closed once awaitLife (its lifecycle
	// has not ended) and awaitTold (its removal is being told) are false.
	published            bool
	retired              chan struct{}
	awaitLife, awaitTold bool

	// steps counts the steps of its way to Init, and inUserCode tells
	// whether it is inside SetLogger or an event's handlers, so that the
	// lane (startorder.go) can tell a stuck lifecycle from a slow one.
	steps      atomic.Uint32
	inUserCode atomic.Bool

	handlers *handlerSet // nil if it implements no handler interface

	watchers map[*entry]struct{} // resolvers holding this service; guarded by mesh.mu

	// resolution is the state of a service with dependencies, nil for the
	// others: most services never wait, so they do not carry it.
	*resolution
}

// handlerSet is the bus listeners of one service. Add binds them unless
// Remove came first; Remove unbinds them if Add got there first.
type handlerSet struct {
	listeners []bound
	mu        sync.Mutex // guards bound and removed
	bound     bool
	removed   bool
}

// resolution is what the mesh keeps to resolve one service's dependencies.
type resolution struct {
	deps     HasDependencies
	wake     chan struct{} // a change the resolver may care about (cap 1)
	resolved chan struct{} // closed when resolution ends
	polled   atomic.Bool   // the poller's was the last wake-up

	// guarded by mesh.mu:
	waitElem *list.Element // its element in mesh.waiting while it waits
	due      time.Time     // when the poller is to wake it; zero: not asked
	watching []*entry      // services the resolver holds
}

func newEntry(svc Service, name string) *entry {
	e := &entry{
		svc:        svc,
		name:       name,
		comparable: isComparable(svc),
		zeroSize:   zeroSized(svc),
	}
	_, e.hasLogger = svc.(HasLogger)
	if d, ok := svc.(HasDependencies); ok {
		e.resolution = &resolution{
			deps:     d,
			wake:     make(chan struct{}, 1),
			resolved: make(chan struct{}),
		}
	}
	return e
}

// appendDoubling appends v to s, doubling the capacity when s is full. The
// registry's slices only grow, one element at a time, to sizes in the
// hundreds of thousands; append's growth of about 1.25x for large slices
// would allocate and copy five times their final size along the way.
func appendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		grown := make([]T, len(s), max(2*cap(s), 8))
		copy(grown, s)
		s = grown
	}
	return append(s, v)
}

// doneWaitGroup returns a WaitGroup that is already done.
func doneWaitGroup() *sync.WaitGroup { return new(sync.WaitGroup) }

// isNil reports whether svc is nil or a nil pointer, map, slice, func or
// channel, on which calling a method would likely panic.
func isNil(svc Service) bool {
	if svc == nil {
		return true
	}
	v := reflect.ValueOf(svc)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// zeroSized reports whether svc is a value of zero size or a pointer to one.
// Go may give every such pointer the same address, so two of them cannot be
// told apart; the mesh never treats them as duplicates.
func zeroSized(svc Service) bool {
	t := reflect.TypeOf(svc)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Size() == 0
}

// isComparable reports whether svc may be compared with == or used as a map
// key without panicking.
func isComparable(svc Service) bool {
	t := reflect.TypeOf(svc)
	if t.Kind() == reflect.Pointer {
		return true
	}
	// A value holding a NaN is comparable but unequal to itself, so a map
	// would never find it again: such values are compared by sameService.
	return reflect.ValueOf(svc).Comparable() && svc == svc
}

// sameService reports whether a and b, whose values are not comparable, are
// the same service: values of one type whose maps, slices, funcs, channels
// and pointers are the very same ones and whose other fields are equal.
func sameService(a, b Service) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Type() == vb.Type() && sameValue(va, vb)
}

// sameValue compares two values of one type by identity where Go cannot
// compare them, field by field. It reads unexported fields without copying
// them out, so it never panics.
func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Map, reflect.Func, reflect.Chan, reflect.Pointer, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	case reflect.Slice:
		return a.Pointer() == b.Pointer() && a.Len() == b.Len()
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return a.Elem().Type() == b.Elem().Type() && sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64: // by bits: a NaN is the same as itself
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Complex64, reflect.Complex128:
		ca, cb := a.Complex(), b.Complex()
		return math.Float64bits(real(ca)) == math.Float64bits(real(cb)) &&
			math.Float64bits(imag(ca)) == math.Float64bits(imag(cb))
	case reflect.String:
		return a.String() == b.String()
	}
	return false
}
