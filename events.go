package servicemesh

import (
	"fmt"
)

// Names of the events the mesh emits on its event bus (Mesh.Events).
//
// Events about one service carry that service as their first argument;
// EventDependencyResolutionFailed carries (Service, error). The run-loop and
// shutdown events carry no arguments. For one service the order is:
// EventServiceEventsBound, EventServiceLoggerBound (if it has a logger),
// EventServiceAdded, EventDependencyResolutionStarted and then Ended or Failed
// (only if it has dependencies), then Init, then EventServiceInitialized.
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
)

// Aliases kept for programs written against the original library.
const (
	EventServiceMeshRunLoopInitiated  = EventRuntimeRunLoopInitiated
	EventServiceMeshShutdownInitiated = EventRuntimeShutdownInitiated
)

// handlerBinding ties one EventHandler* interface to its event. listener
// returns the bus listener for svc, or nil if svc does not implement the
// interface.
type handlerBinding struct {
	event    string
	listener func(m *mesh, svc Service, name string) func(...any)
}

// bound is one listener placed on the bus for a service, kept so that Remove
// can take off exactly that function.
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
	{EventDependencyResolutionFailed, func(m *mesh, svc Service, name string) func(...any) {
		h, ok := svc.(EventHandlerDependencyResolutionFailed)
		if !ok {
			return nil
		}
		return func(args ...any) {
			subject, ok1 := argService(args)
			var err error
			if len(args) > 1 {
				err, _ = args[1].(error)
			}
			if !ok1 {
				m.badArgs(name, EventDependencyResolutionFailed, args)
				return
			}
			m.guard(name, "OnDependencyResolutionFailed", func() { h.OnDependencyResolutionFailed(subject, err) })
		}
	}},
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

// listenersFor makes a bus listener for every handler interface svc
// implements.
func (m *mesh) listenersFor(svc Service, name string) []bound {
	var out []bound
	for _, b := range handlerBindings {
		if fn := b.listener(m, svc, name); fn != nil {
			out = append(out, bound{b.event, fn})
		}
	}
	return out
}

// bind places listeners on the bus.
func (m *mesh) bind(bs []bound) {
	for _, b := range bs {
		m.events.On(b.event, b.fn)
	}
}

// unbind removes listeners placed by bind.
func (m *mesh) unbind(bs []bound) {
	for _, b := range bs {
		m.events.Off(b.event, b.fn)
	}
}

// emit sends an event and waits for its handlers to return.
func (m *mesh) emit(event string, args ...any) {
	m.events.Emit(event, args...).Wait()
}

// badArgs logs an event emitted by hand with arguments a handler cannot take.
func (m *mesh) badArgs(name, event string, args []any) {
	m.logger.Warn("event handler skipped: the event's arguments do not start with a service",
		"subject", name, "event", event, "args", fmt.Sprint(args))
}
