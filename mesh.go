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
		pollerWake: make(chan struct{}, 1),
		epoch:      time.Now(),
	}
	m.idle = sync.NewCond(&m.mu)
	m.logger = m.logs.logger(n)
	m.svcs = []Service{m}
	m.timeout.Store(int64(defaultResolutionTimeout))
	m.warnDelay.Store(int64(defaultWarnDelay))
	return m
}

// mesh is the implementation of Mesh. It is itself a Service.
type mesh struct {
	name   string
	events *ee.EventEmitter
	logs   *logRouter
	logger *slog.Logger
	epoch  time.Time // when the mesh was made; polls align to it

	timeout atomic.Int64  // time.Duration; resolution timeout, <= 0 disables
	inits   atomic.Uint64 // numbers Inits in the order they begin
	// pending counts accepted services whose way to Init has not ended: Init
	// has not returned, nor has the lifecycle been cut short. It is raised
	// under mu, with the shutdown check; reaching zero is signalled on idle.
	pending atomic.Int64
	// workers counts live goroutines the mesh started for lifecycles,
	// removals and polling; reaching zero is signalled on idle.
	workers atomic.Int64
	// changes counts services added, initialized or removed. Waiting
	// resolvers note when they see it move, which tells how long the mesh
	// has been quiet without a clock read on every change.
	changes   atomic.Uint64
	warnDelay atomic.Int64 // time.Duration; when a slow resolution is reported

	// initialized is a lock-free stack, linked through entry.nextInit, of
	// the entries whose Init returned normally. Shutdown orders it by
	// initSeq, when each Init began.
	initialized atomic.Pointer[entry]
	// stackMu serializes compactions of initialized with the shutdown's
	// read of it; pushes need no lock.
	stackMu sync.Mutex
	// stacked counts the entries on initialized; removals counts Removes
	// since the last compaction, which drops removed entries so that a
	// mesh that adds and removes services for ever does not keep them.
	stacked, removals atomic.Int64
	pollerWake        chan struct{} // pokes the poller to rescan (cap 1)
	// nwaiting is waiting.Len(), readable without mu.
	nwaiting atomic.Int64

	// stopping is set, and down closed, when shutdown begins: the flag
	// cancels resolutions, the channel wakes Run.
	stopping atomic.Bool
	down     chan struct{}
	// shutdownWG is done when shutdown has completed.
	shutdownWG sync.WaitGroup

	mu sync.Mutex // guards every field below
	// idle is signalled (on mu) when pending or workers reach zero.
	idle *sync.Cond
	// svcs is the mesh followed by its services, in the order added. It is
	// append-only and replaced by a fresh copy on removal, so every
	// svcs[:n:n] handed out stays immutable: resolvers share it.
	svcs  []Service
	index map[Service]*entry // entries of services whose value is comparable
	odd   []*entry           // entries of services whose value is not comparable
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
	// retiring holds removed entries whose lifecycle may still run, so
	// that adding the same service again waits for it.
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

// snapshot returns the shared, immutable list of services for resolvers.
func (m *mesh) snapshot() []Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.svcs[:len(m.svcs):len(m.svcs)]
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

	m.mu.Lock()
	switch {
	case m.shutting:
		m.mu.Unlock()
		m.logger.Warn("Add ignored: the mesh is shutting down", "subject", name)
		return doneWaitGroup()
	case svc == Service(m) || m.lookupAs(svc, e.comparable) != nil:
		m.mu.Unlock()
		m.logger.Warn("Add ignored: the service is already in the mesh", "subject", name)
		return doneWaitGroup()
	}
	// Reserved: a concurrent Add of the same service is now a duplicate,
	// and shutdown waits for this one. A service with a logger becomes
	// visible to others only once SetLogger has run, so that no resolver
	// finds it, and no Init uses it, without its logger.
	e.prev = m.stillRetiring(svc, e.comparable)
	m.reserve(e)
	m.pending.Add(1)
	m.workers.Add(1)
	if !e.hasLogger {
		m.publish(e)
	}
	m.mu.Unlock()

	if hs := e.handlers; hs != nil {
		hs.mu.Lock()
		if !hs.removed {
			m.bind(hs.listeners)
			hs.bound = true
		}
		hs.mu.Unlock()
	}
	if e.hasLogger {
		logger := m.logs.logger(name)
		_ = m.guard(name, "SetLogger", func() { svc.(HasLogger).SetLogger(logger) })
		m.mu.Lock()
		m.publish(e)
		m.mu.Unlock()
	}
	m.changed()

	e.done.Add(1)
	go m.lifecycle(e)
	return &e.done
}

// lifecycle takes one service from added to initialized. It runs in its own
// goroutine, counted in workers, and ends once EventServiceInitialized's
// handlers have run or the lifecycle was cut short.
func (m *mesh) lifecycle(e *entry) {
	defer m.workerDone()
	defer e.done.Done()
	defer m.retired(e)
	if e.prev != nil {
		// The same service was removed and added again while its previous
		// lifecycle still ran: its methods are never called concurrently.
		e.prev.done.Wait()
		e.prev = nil
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
	// that they do not follow its EventServiceRemoved.
	emit := func(event string) bool {
		if e.gone.Load() {
			return false
		}
		m.emit(event, about...)
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
	err := m.guard(e.name, "Init", func() { svc.Init(m) })
	reached = true
	m.settle(e, err == nil)
	if err != nil {
		return
	}
	m.debug("service initialized", "subject", e.name)
	m.emit(EventServiceInitialized, about...)
}

// beginInit reports whether e may be initialized now: not once it was
// removed, nor, for a service that waited for dependencies, once shutdown
// began. It takes no lock: a Remove or Shutdown that lands just after the
// check finds an Init in flight, which both already allow for.
func (m *mesh) beginInit(e *entry) bool {
	if e.gone.Load() || (e.resolution != nil && m.stopping.Load()) {
		return false
	}
	e.phase.store(phaseInitializing)
	e.initSeq = m.inits.Add(1)
	return true
}

// settle records the end of e's way to Init: initialized when ok, failed
// otherwise. Dependents watching e are woken.
func (m *mesh) settle(e *entry, ok bool) {
	switch {
	case ok:
		m.changed()
		e.phase.store(phaseInitialized)
		if !e.gone.Load() {
			m.recordInitialized(e)
		}
		// Without waiting resolvers there is nobody to wake, and a resolver
		// that begins waiting later sees this Init's effects on its first
		// attempt: most services settle without taking mu.
		if m.nwaiting.Load() > 0 {
			m.mu.Lock()
			m.wakeDependents(e)
			m.mu.Unlock()
		}
	case !e.gone.Load():
		e.phase.store(phaseFailed)
	}
	if m.pending.Add(-1) == 0 {
		m.mu.Lock()
		m.idle.Broadcast()
		m.mu.Unlock()
	}
}

// recordInitialized pushes e on the stack of initialized entries. The
// lifecycles of many services settle at once; a lock here was, after the
// event bus's, the most contended one at 100,000 services.
func (m *mesh) recordInitialized(e *entry) {
	m.pushInitialized(e, e)
	m.stacked.Add(1)
}

// pushInitialized pushes the chain first..last, linked through nextInit,
// on the stack of initialized entries.
func (m *mesh) pushInitialized(first, last *entry) {
	for {
		top := m.initialized.Load()
		last.nextInit = top
		if m.initialized.CompareAndSwap(top, first) {
			return
		}
	}
}

// compactInitialized drops removed entries from the stack of initialized
// ones once removals since the last compaction rival what it holds, so the
// cost is amortized over the Removes.
func (m *mesh) compactInitialized() {
	if n := m.removals.Add(1); n < 64 || n < m.stacked.Load()/2 {
		return
	}
	m.stackMu.Lock()
	defer m.stackMu.Unlock()
	m.removals.Store(0)
	var first, last *entry
	dropped := int64(0)
	for e := m.initialized.Swap(nil); e != nil; {
		next := e.nextInit
		e.nextInit = nil
		if e.gone.Load() {
			dropped++
		} else {
			if last == nil {
				first = e
			} else {
				last.nextInit = e
			}
			last = e
		}
		e = next
	}
	m.stacked.Add(-dropped)
	if first != nil {
		m.pushInitialized(first, last)
	}
}

// initOrder returns the initialized entries, newest Init first. initSeq
// numbers every Init that began, 1 to inits, so a slot per number orders
// them without sorting; the slots of Inits that panicked stay empty.
func (m *mesh) initOrder() []*entry {
	m.stackMu.Lock()
	var live []*entry
	for e := m.initialized.Load(); e != nil; e = e.nextInit {
		if !e.gone.Load() {
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

// workerDone marks the end of a goroutine counted in workers. Only the last
// one takes mu, to wake a shutdown waiting for them all.
func (m *mesh) workerDone() {
	if m.workers.Add(-1) == 0 {
		m.mu.Lock()
		m.idle.Broadcast()
		m.mu.Unlock()
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
	if !e.ended.Load() { // see retired
		m.retiring = append(m.retiring, e)
	}
	if e.phase.load() != phaseInitialized {
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
	m.workers.Add(1)
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

	m.compactInitialized()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer m.workerDone()
		defer wg.Done()
		m.debug("service removed", "subject", e.name)
		m.emit(EventServiceRemoved, svc)
		if resolving != nil {
			<-resolving
		}
	}()
	return &wg
}

// stillRetiring returns the newest removed entry of svc whose lifecycle may
// still run, or nil. The caller holds mu.
func (m *mesh) stillRetiring(svc Service, comparable bool) *entry {
	for i := len(m.retiring) - 1; i >= 0; i-- {
		x := m.retiring[i]
		if (comparable && x.svc == svc) || (!comparable && sameService(x.svc, svc)) {
			return x
		}
	}
	return nil
}

// retired takes e, at the end of its lifecycle, off the retiring list if it
// was removed. Entries never removed take no lock here.
func (m *mesh) retired(e *entry) {
	// Remove sets gone and then, under mu, lists e unless it has ended;
	// this sets ended and then looks at gone. One of them sees the other.
	e.ended.Store(true)
	if !e.gone.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := slices.Index(m.retiring, e); i >= 0 {
		m.retiring = slices.Delete(m.retiring, i, i+1)
	}
}

// publish lists e in svcs, where Services and resolvers see it, unless it
// was removed meanwhile, and wakes the waiting resolvers. The caller holds mu.
func (m *mesh) publish(e *entry) {
	if !e.gone.Load() {
		m.svcs = appendDoubling(m.svcs, e.svc)
		m.wakeAll()
	}
}

// reserve enters e in the index, so that lookups find it; Add then
// publishes it in svcs. The caller holds mu.
func (m *mesh) reserve(e *entry) {
	m.seq++
	e.seq = m.seq
	if e.comparable {
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

// unregister drops e from the registry. svcs is rebuilt rather than edited in
// place, so snapshots already handed to resolvers never change. The caller
// holds mu.
func (m *mesh) unregister(e *entry) {
	svcs := make([]Service, 0, len(m.svcs))
	skipped := false
	for _, s := range m.svcs {
		if !skipped && m.lookup(s) == e {
			skipped = true
			continue
		}
		svcs = append(svcs, s)
	}
	m.svcs = svcs
	if e.comparable {
		delete(m.index, e.svc)
	} else {
		for i, x := range m.odd {
			if x == e {
				m.odd = append(m.odd[:i:i], m.odd[i+1:]...)
				break
			}
		}
	}
	if m.byAddr != nil {
		if a := addressOf(e.svc); a != 0 && m.byAddr[a] == e {
			delete(m.byAddr, a)
		}
	}
}

// lookup finds the entry of svc, without ever comparing values that Go
// cannot compare. The caller holds mu.
func (m *mesh) lookup(svc Service) *entry {
	return m.lookupAs(svc, isComparable(svc))
}

// lookupAs is lookup for a service already known to be comparable or not.
// The caller holds mu.
func (m *mesh) lookupAs(svc Service, comparable bool) *entry {
	if comparable {
		return m.index[svc]
	}
	for _, e := range m.odd {
		if sameService(e.svc, svc) {
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
)

var phaseNames = [...]string{"added", "resolving", "initializing", "initialized", "failed", "removed"}

// phaseVar holds a phase for concurrent use.
type phaseVar struct{ v atomic.Uint32 }

func (p *phaseVar) load() phase   { return phase(p.v.Load()) }
func (p *phaseVar) store(x phase) { p.v.Store(uint32(x)) }

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
	initSeq    uint64         // order its Init began; set before Init, read after it returned
	comparable bool           // svc can be a map key
	hasLogger  bool           // it implements HasLogger
	done       sync.WaitGroup // returned by Add
	gone       atomic.Bool    // set by Remove; cancels a resolution
	ended      atomic.Bool    // its lifecycle goroutine has finished
	phase      phaseVar       // read and written without mu
	nextInit   *entry         // the next entry down the mesh's initialized stack
	prev       *entry         // the same service's previous entry, maybe still running; set by Add

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
