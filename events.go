package servicemesh

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/gravestench/servicemesh/internal/fanout"
)

// Events: the event names, the table that binds the EventHandler*
// interfaces, binding them to the fan-out of each event (internal/fanout,
// which delivers an event to the handlers bound for it), and emit.

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
	is       func(svc Service) bool // svc implements the interface
}

// bound is one handler interface of one service, bound to its event: a
// guarded call, added to the event's fan-out and removed from it by Remove
// (an alias of the fan-out's Listener, which it is).
type bound = fanout.Listener

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
	return handlerBinding{event: event, is: implements[H], listener: func(m *mesh, svc Service, name string) func(...any) {
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
	return handlerBinding{event: event, is: implements[H], listener: func(m *mesh, svc Service, name string) func(...any) {
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
	return handlerBinding{event: event, is: implements[H], listener: func(m *mesh, svc Service, name string) func(...any) {
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
	mask := bindingMask(svc)
	if mask == 0 { // most services: no handler interface
		return nil
	}
	var out []*bound
	for i, b := range handlerBindings {
		if mask&(1<<i) == 0 {
			continue
		}
		if fn := b.listener(m, svc, name); fn != nil {
			out = append(out, &bound{Event: b.event, Fn: fn})
		}
	}
	return out
}

// bindingMasks holds, for each dynamic type of service seen, which of
// handlerBindings it implements (bit i: handlerBindings[i]): a service
// added asks thirteen interfaces once per type, not once per Add.
var bindingMasks sync.Map // reflect.Type -> uint16

// bindingMask returns which of handlerBindings svc implements.
func bindingMask(svc Service) uint16 {
	t := reflect.TypeOf(svc)
	if v, ok := bindingMasks.Load(t); ok {
		return v.(uint16)
	}
	var mask uint16
	for i, b := range handlerBindings {
		if b.is(svc) {
			mask |= 1 << i
		}
	}
	bindingMasks.Store(t, mask)
	return mask
}

// implements reports whether svc is an H.
func implements[H any](svc Service) bool {
	_, ok := svc.(H)
	return ok
}

// bind adds listeners to the fan-outs of their events.
func (m *mesh) bind(bs []*bound) {
	for _, b := range bs {
		m.fanOuts[b.Event].Add(b)
	}
}

// unbind removes listeners added by bind.
func (m *mesh) unbind(bs []*bound) {
	for _, b := range bs {
		m.fanOuts[b.Event].Remove(b)
	}
}

// newFanOuts makes the fan-out of every event with a handler interface.
func (m *mesh) newFanOuts() map[string]*fanout.FanOut {
	fos := make(map[string]*fanout.FanOut, len(handlerBindings))
	for _, b := range handlerBindings {
		fos[b.event] = fanout.New(m.events, b.event)
	}
	return fos
}

// emit sends an event and waits for its handlers to return. An event
// nobody can hear is not sent: the bus takes a lock shared by every
// service, and allocates, for each emission.
func (m *mesh) emit(event string, args ...any) {
	if !m.heard(event) {
		return
	}
	if m.stopping.Load() {
		m.emitLate(event, args)
		return
	}
	m.events.Emit(event, args...).Wait()
}

// emitAbout is emit of an event about e's service, its only argument. The
// list of arguments is made only when the event is heard.
func (m *mesh) emitAbout(event string, e *entry) {
	if m.heard(event) {
		m.emit(event, e.svc)
	}
}

// heard reports whether an emission of event may reach a handler: the
// bus was handed out (Events), so that anyone may listen on it, or a
// handler interface of event is bound (a fan-out is on the bus). Handlers
// are bound at Add before the service's lifecycle begins, so its events
// reach them.
func (m *mesh) heard(event string) bool {
	if m.busOut.Load() {
		return true
	}
	fo := m.fanOuts[event]
	return fo != nil && fo.OnBus()
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
