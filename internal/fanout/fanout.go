// Package fanout delivers one event of a mesh's event bus to the handler
// interfaces that services implement for it. A FanOut is one listener on
// the bus, placed there only while some handler is bound, so that an event
// nobody handles costs the bus nothing, and one that a thousand services
// handle costs one goroutine, not a thousand: the calls are made one after
// another (Deliver), and handed on to another goroutine when one stalls.
//
// It imports the event bus (github.com/gravestench/eventemitter) and
// internal/timing, nothing of the mesh. The root package makes one FanOut
// per event that has a handler interface, makes the Listeners (guarded
// calls of a service's methods) from its table of bindings, and adds and
// removes them as services are added and removed. Events emitted on the bus
// by anyone reach the listeners, as they did when each was a bus listener
// of its own.
package fanout

import (
	"sync"
	"sync/atomic"

	ee "github.com/gravestench/eventemitter"
)

// Listener is one handler interface of one service, bound to its event: Fn
// is the call of the service's method, which must not panic (the root
// package guards it) and may block. A Listener is added to its event's
// FanOut by pointer, and removed by the same pointer.
type Listener struct {
	Event string
	Fn    func(...any)
}

// FanOut delivers one event to the listeners bound for it, in the order
// they were added. Add and Remove are safe for concurrent use, and with the
// deliveries under way: a delivery reads the list without a lock and
// delivers to the listeners bound when the event reached it.
type FanOut struct {
	bus      *ee.EventEmitter
	event    string
	listener func(...any) // the bus listener; one func value, so that Off finds it

	// list is the listeners bound, in the order added. It grows in place,
	// past the length readers have loaded, and is replaced by a fresh copy
	// on removal, so a loaded list never changes under its reader.
	list atomic.Pointer[[]*Listener]

	mu    sync.Mutex // serializes changes of list and of onBus
	onBus bool       // listener is on the bus
	// heard is onBus, readable without mu (OnBus).
	heard atomic.Bool
}

// OnBus reports whether fo is on the bus: some listener is bound. An Add
// that happens before OnBus is seen by it; one concurrent with it may not
// be, as an event emitted concurrently with Add may or may not reach l.
func (fo *FanOut) OnBus() bool { return fo.heard.Load() }

// New returns the fan-out of event on bus, with nothing bound and so not
// on the bus yet.
func New(bus *ee.EventEmitter, event string) *FanOut {
	fo := &FanOut{bus: bus, event: event}
	fo.listener = func(args ...any) {
		if p := fo.list.Load(); p != nil {
			Deliver(*p, args)
		}
	}
	return fo
}

// Add binds l, after those already bound, and puts the fan-out on the bus
// if it was not. l's Event is not looked at: l is bound to fo's event.
func (fo *FanOut) Add(l *Listener) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	var list []*Listener
	if p := fo.list.Load(); p != nil {
		list = *p
	}
	list = appendDoubling(list, l)
	fo.list.Store(&list)
	if !fo.onBus {
		fo.bus.On(fo.event, fo.listener)
		fo.onBus = true
		fo.heard.Store(true)
	}
}

// Remove unbinds l, and takes the fan-out off the bus when it was the last
// one. A listener that is not bound is ignored.
func (fo *FanOut) Remove(l *Listener) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	p := fo.list.Load()
	if p == nil {
		return
	}
	list := make([]*Listener, 0, len(*p))
	for _, x := range *p {
		if x != l {
			list = append(list, x)
		}
	}
	fo.list.Store(&list)
	if len(list) == 0 && fo.onBus {
		fo.bus.Off(fo.event, fo.listener)
		fo.onBus = false
		fo.heard.Store(false)
	}
}

// appendDoubling appends l to s, doubling the capacity when s is full: a
// popular event's list grows one listener at a time to as many as there are
// services, and append's growth of about 1.25x for large slices would copy
// it several times over on the way.
func appendDoubling(s []*Listener, l *Listener) []*Listener {
	if len(s) == cap(s) {
		grown := make([]*Listener, len(s), max(2*cap(s), 8))
		copy(grown, s)
		s = grown
	}
	return append(s, l)
}
