package servicemesh

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/registry"
	"github.com/gravestench/servicemesh/internal/timing"
)

// Events: the event names, the table that binds the EventHandler*
// interfaces, and the fan-outs that deliver an event to the handlers bound
// for it. A fan-out's list is read without a lock and changed under its own
// mutex.

// Names of the events the mesh emits on its event bus (Mesh.Events).
//
// Events about one service carry that service as their first argument;
// EventDependencyResolutionFailed carries (Service, error). The run-loop,
// shutdown and mesh-ready events carry no arguments. For one service the
// order is: EventServiceEventsBound, EventServiceLoggerBound (if it has a
// logger), EventServiceAdded, EventDependencyResolutionStarted and then
// Ended or Failed (only if it has dependencies), then Init, then
// EventServiceInitialized.
// The mesh waits for each event's handlers before taking the next step, so a
// handler that blocks delays that service's lifecycle.
const (
	EventServiceAdded       = "service added"
	EventServiceRemoved     = "service removed"
	EventServiceInitialized = "service initialized"
	EventServiceEventsBound = "service events bound"
	EventServiceLoggerBound = "service logger bound"

	EventRuntimeRunLoopInitiated  = "runtime begin"
	EventRuntimeShutdownInitiated = "runtime shutdown"

	EventDependencyResolutionStarted = "runtime dependency resolution start"
	EventDependencyResolutionEnded   = "runtime dependency resolution end"
	EventDependencyResolutionFailed  = "runtime dependency resolution failed"

	// EventServiceFailed carries (Service, *ServiceError): a service's
	// resolution, Init, Serve or stop failed (see RunContext).
	EventServiceFailed = "service failed"
	// EventServiceRestarting carries (Service, error): its Serve failed
	// with error and is about to be restarted after a backoff (see
	// RestartPolicy).
	EventServiceRestarting = "service restarting"

	// EventMeshReady carries no arguments: the mesh is ready (see Ready)
	// for the first time. It is told at most once per mesh, on a goroutine
	// of the mesh, and not at all if the shutdown had begun when the mesh
	// was found ready; its handlers count against the shutdown's budget if
	// they are still running when the shutdown begins.
	EventMeshReady = "mesh ready"
)

// Aliases kept for programs written against the original library.
const (
	EventServiceMeshRunLoopInitiated  = EventRuntimeRunLoopInitiated
	EventServiceMeshShutdownInitiated = EventRuntimeShutdownInitiated
)

// handlerBinding ties one EventHandler* interface to its event. listener
// returns the guarded call of svc's method, or nil if svc does not implement
// the interface.
type handlerBinding struct {
	event    string
	listener func(m *mesh, svc Service, name string) func(...any)
}

// bound is one handler interface of one service, bound to its event: a
// guarded call, added to the event's fan-out and removed from it by Remove.
type bound struct {
	event string
	fn    func(...any)
}

// handlerBindings lists every handler interface the mesh binds automatically.
var handlerBindings = []handlerBinding{
	onService(EventServiceAdded, EventHandlerServiceAdded.OnServiceAdded),
	onService(EventServiceRemoved, EventHandlerServiceRemoved.OnServiceRemoved),
	onService(EventServiceInitialized, EventHandlerServiceInitialized.OnServiceInitialized),
	onService(EventServiceEventsBound, EventHandlerServiceEventsBound.OnServiceEventsBound),
	onService(EventServiceLoggerBound, EventHandlerServiceLoggerBound.OnServiceLoggerBound),
	onService(EventDependencyResolutionStarted, EventHandlerDependencyResolutionStarted.OnDependencyResolutionStarted),
	onService(EventDependencyResolutionEnded, EventHandlerDependencyResolutionEnded.OnDependencyResolutionEnded),
	onNothing(EventRuntimeRunLoopInitiated, EventHandlerServiceMeshRunLoopInitiated.OnServiceMeshRunLoopInitiated),
	onNothing(EventRuntimeShutdownInitiated, EventHandlerServiceMeshShutdownInitiated.OnServiceMeshShutdownInitiated),
	onServiceErr(EventDependencyResolutionFailed, EventHandlerDependencyResolutionFailed.OnDependencyResolutionFailed),
	onServiceErr(EventServiceFailed, EventHandlerServiceFailed.OnServiceFailed),
	onServiceErr(EventServiceRestarting, EventHandlerServiceRestarting.OnServiceRestarting),
	onNothing(EventMeshReady, EventHandlerMeshReady.OnMeshReady),
}

// onService binds a handler interface H whose method takes the subject service.
func onService[H any](event string, call func(H, Service)) handlerBinding {
	return handlerBinding{event, func(m *mesh, svc Service, name string) func(...any) {
		h, ok := svc.(H)
		if !ok {
			return nil
		}
		return func(args ...any) {
			subject, ok := argService(args)
			if !ok {
				m.badArgs(name, event, args)
				return
			}
			m.guard(name, "handler for "+event, func() { call(h, subject) })
		}
	}}
}

// onServiceErr binds a handler interface H whose method takes the subject
// service and an error.
func onServiceErr[H any](event string, call func(H, Service, error)) handlerBinding {
	return handlerBinding{event, func(m *mesh, svc Service, name string) func(...any) {
		h, ok := svc.(H)
		if !ok {
			return nil
		}
		return func(args ...any) {
			subject, ok := argService(args)
			if !ok {
				m.badArgs(name, event, args)
				return
			}
			var err error
			if len(args) > 1 {
				err, _ = args[1].(error)
			}
			m.guard(name, "handler for "+event, func() { call(h, subject, err) })
		}
	}}
}

// onNothing binds a handler interface H whose method takes no arguments.
func onNothing[H any](event string, call func(H)) handlerBinding {
	return handlerBinding{event, func(m *mesh, svc Service, name string) func(...any) {
		h, ok := svc.(H)
		if !ok {
			return nil
		}
		return func(...any) {
			m.guard(name, "handler for "+event, func() { call(h) })
		}
	}}
}

// argService extracts the subject service from an event's arguments.
func argService(args []any) (Service, bool) {
	if len(args) == 0 {
		return nil, false
	}
	s, ok := args[0].(Service)
	return s, ok && s != nil
}

// listenersFor makes a guarded call for every handler interface svc
// implements.
func (m *mesh) listenersFor(svc Service, name string) []*bound {
	var out []*bound
	for _, b := range handlerBindings {
		if fn := b.listener(m, svc, name); fn != nil {
			out = append(out, &bound{b.event, fn})
		}
	}
	return out
}

// bind adds listeners to the fan-outs of their events.
func (m *mesh) bind(bs []*bound) {
	for _, b := range bs {
		m.fanOuts[b.event].add(b)
	}
}

// unbind removes listeners added by bind.
func (m *mesh) unbind(bs []*bound) {
	for _, b := range bs {
		m.fanOuts[b.event].remove(b)
	}
}

// fanOut delivers one event to the handler interfaces bound for it. It is
// one listener on the bus, placed there only while some handler is bound, so
// that an event nobody handles costs the bus nothing, and one that a
// thousand services handle costs one goroutine, not a thousand: the calls
// are made one after another (see deliver). Events emitted on the bus by
// anyone reach the handlers, as they did when each was a listener of its own.
type fanOut struct {
	m        *mesh
	event    string
	listener func(...any) // the bus listener; one func value, so that Off finds it

	// list is the handlers bound, in the order bound. It grows in place,
	// past the length readers have loaded, and is replaced by a fresh copy
	// on removal, so a loaded list never changes under its reader.
	list atomic.Pointer[[]*bound]

	mu    sync.Mutex // serializes changes of list and of onBus
	onBus bool       // listener is on the bus
}

// newFanOuts makes the fan-out of every event with a handler interface.
func (m *mesh) newFanOuts() map[string]*fanOut {
	fos := make(map[string]*fanOut, len(handlerBindings))
	for _, b := range handlerBindings {
		fo := &fanOut{m: m, event: b.event}
		fo.listener = func(args ...any) {
			if p := fo.list.Load(); p != nil {
				m.deliver(*p, args)
			}
		}
		fos[b.event] = fo
	}
	return fos
}

func (fo *fanOut) add(b *bound) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	var list []*bound
	if p := fo.list.Load(); p != nil {
		list = *p
	}
	list = registry.AppendDoubling(list, b)
	fo.list.Store(&list)
	if !fo.onBus {
		fo.m.events.On(fo.event, fo.listener)
		fo.onBus = true
	}
}

func (fo *fanOut) remove(b *bound) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	p := fo.list.Load()
	if p == nil {
		return
	}
	list := make([]*bound, 0, len(*p))
	for _, x := range *p {
		if x != b {
			list = append(list, x)
		}
	}
	fo.list.Store(&list)
	if len(list) == 0 && fo.onBus {
		fo.m.events.Off(fo.event, fo.listener)
		fo.onBus = false
	}
}

// deliver calls every handler in hs with args and returns when all have
// returned. It calls them one after another on this goroutine; when one
// takes longer than one to two timing.HandlerStall, the rest go on on another
// goroutine, and so on, so that a handler that waits for something that a
// later handler of the same event does (or that blocks for long) holds up
// the others for that long only. Each call is guarded (see listener).
func (m *mesh) deliver(hs []*bound, args []any) {
	switch len(hs) {
	case 0:
		return
	case 1:
		hs[0].fn(args...)
		return
	}
	d := &delivery{hs: hs, args: args, done: make(chan struct{}), seen: -1}
	d.left.Store(int64(len(hs)))
	d.timer.Store(time.AfterFunc(timing.HandlerStall, d.check))
	d.work()
	<-d.done
	d.over.Store(true)
	d.timer.Load().Stop()
}

// delivery is one call of deliver.
type delivery struct {
	hs   []*bound
	args []any
	next atomic.Int64 // the next handler to call
	left atomic.Int64 // handlers not yet returned
	done chan struct{}

	over  atomic.Bool                // deliver has returned
	timer atomic.Pointer[time.Timer] // the watchdog's next check
	seen  int64                      // next at the last check; only check uses it
}

// work calls handlers until none is left to call.
func (d *delivery) work() {
	for {
		i := int(d.next.Add(1) - 1)
		if i >= len(d.hs) {
			return
		}
		d.hs[i].fn(d.args...)
		if d.left.Add(-1) == 0 {
			close(d.done)
		}
	}
}

// check is the watchdog: when no handler was taken up since the last check
// and some remain, another goroutine goes on with them.
func (d *delivery) check() {
	if d.over.Load() || d.left.Load() == 0 {
		return
	}
	if n := d.next.Load(); n == d.seen && int(n) < len(d.hs) {
		go d.work()
	} else {
		d.seen = n
	}
	d.timer.Store(time.AfterFunc(timing.HandlerStall, d.check))
}

// emit sends an event and waits for its handlers to return.
func (m *mesh) emit(event string, args ...any) {
	if m.stopping.Load() {
		m.emitLate(event, args)
		return
	}
	m.events.Emit(event, args...).Wait()
}

// emitLate is emit once the shutdown began. An emission that began before
// is waited for by the shutdown through busy, which counts its goroutine;
// one that begins after is counted in emitting, before over is read, so
// that the shutdown's last step (waitLate) waits for its handlers. Once
// the shutdown has completed nothing is told (DESIGN §8). Counting only
// here keeps the emissions of a running mesh off one shared counter.
func (m *mesh) emitLate(event string, args []any) {
	m.emitting.Add(1)
	defer func() {
		if m.emitting.Add(-1) == 0 {
			poke(m.idleWake)
		}
	}()
	if m.over.Load() {
		return
	}
	m.events.Emit(event, args...).Wait()
}

// badArgs logs an event emitted by hand with arguments a handler cannot take.
func (m *mesh) badArgs(name, event string, args []any) {
	m.logger.Warn("event handler skipped: the event's arguments do not start with a service",
		"subject", name, "event", event, "args", fmt.Sprint(args))
}
