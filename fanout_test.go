package servicemesh

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onAdded calls fn for every EventServiceAdded it is told about.
type onAdded struct {
	name string
	fn   func(s Service)
}

func (o *onAdded) Name() string             { return o.name }
func (o *onAdded) Init(Mesh)                {}
func (o *onAdded) OnServiceAdded(s Service) { o.fn(s) }

// The handlers of one event are called in the order their services were
// added, one after another. (That an event nobody handles has no bus
// listener is internal/fanout's TestOnTheBusOnlyWhileBound.)
func TestHandlersAreCalledInOrderBound(t *testing.T) {
	m := quietMesh(t)
	var mu sync.Mutex
	var got []string
	for _, name := range []string{"a", "b", "c", "d"} {
		h := &onAdded{name: name}
		h.fn = func(s Service) {
			if s.Name() == "subject" {
				mu.Lock()
				got = append(got, name)
				mu.Unlock()
			}
		}
		m.Add(h).Wait()
	}
	m.Add(&plainSvc{name: "subject"}).Wait()
	assert.Equal(t, []string{"a", "b", "c", "d"}, got)

	m.Remove(m.lookupByName("b")).Wait()
	got = nil
	m.Add(&plainSvc{name: "subject"}).Wait() // a second one: a new value
	assert.Equal(t, []string{"a", "c", "d"}, got, "unbound on Remove")
	m.Shutdown().Wait()
}

// A handler that waits for what a later handler of the same event does
// holds it up for a few milliseconds only: the later ones go on on another
// goroutine.
func TestAHandlerMayWaitForALaterOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		later := make(chan struct{})
		first := &onAdded{name: "first", fn: func(s Service) {
			if s.Name() == "subject" {
				<-later
			}
		}}
		second := &onAdded{name: "second", fn: func(s Service) {
			if s.Name() == "subject" {
				close(later)
			}
		}}
		m.Add(first).Wait()
		m.Add(second).Wait()
		start := time.Now()
		m.Add(&plainSvc{name: "subject"}).Wait()
		took := time.Since(start)
		assert.Greater(t, took, time.Duration(0))
		assert.LessOrEqual(t, took, 2*timing.HandlerStall, "the second handler went on after one to two stalls")
		m.Shutdown().Wait()
	})
}

// Events emitted on the bus by hand reach the handler interfaces too.
func TestHandlersHearEventsEmittedOnTheBus(t *testing.T) {
	m := quietMesh(t)
	heard := make(chan Service, 1)
	m.Add(&onAdded{name: "h", fn: func(s Service) {
		if s.Name() == "by hand" {
			heard <- s
		}
	}}).Wait()
	x := &plainSvc{name: "by hand"}
	m.Events().Emit(EventServiceAdded, x).Wait()
	require.Len(t, heard, 1)
	assert.Same(t, x, <-heard)
	m.Shutdown().Wait()
}

// lookup returns the entry of svc, listed in m, or nil.
func lookup(m *mesh, svc Service) *entry {
	for e := range m.reg.Entries() {
		if e.svc == svc {
			return e
		}
	}
	return nil
}

// lookupByName returns the first service named name.
func (m *mesh) lookupByName(name string) Service {
	for _, s := range m.Services() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// The handler interfaces a type implements are read once per type, into a
// mask of 16 bits (bindingMask): a service implementing several is bound to
// each, and a type that implements none to none.
func TestHandlerInterfacesAreReadOncePerType(t *testing.T) {
	require.LessOrEqual(t, len(handlerBindings), 16, "bindingMask holds one bit per binding")
	var all uint16 = 1<<len(handlerBindings) - 1
	for range 2 { // computed, then cached
		assert.Equal(t, all, bindingMask(&everyHandler{}))
		assert.Zero(t, bindingMask(&noHandlers{}))
	}
}

// everyHandler implements every handler interface the mesh binds.
type everyHandler struct{}

func (*everyHandler) Name() string                                { return "every" }
func (*everyHandler) Init(Mesh)                                   {}
func (*everyHandler) OnServiceAdded(Service)                      {}
func (*everyHandler) OnServiceRemoved(Service)                    {}
func (*everyHandler) OnServiceInitialized(Service)                {}
func (*everyHandler) OnServiceEventsBound(Service)                {}
func (*everyHandler) OnServiceLoggerBound(Service)                {}
func (*everyHandler) OnDependencyResolutionStarted(Service)       {}
func (*everyHandler) OnDependencyResolutionEnded(Service)         {}
func (*everyHandler) OnServiceMeshRunLoopInitiated()              {}
func (*everyHandler) OnServiceMeshShutdownInitiated()             {}
func (*everyHandler) OnDependencyResolutionFailed(Service, error) {}
func (*everyHandler) OnServiceFailed(Service, error)              {}
func (*everyHandler) OnServiceRestarting(Service, error)          {}
func (*everyHandler) OnMeshReady()                                {}

// noHandlers is a service with no handler interface.
type noHandlers struct{}

func (*noHandlers) Name() string { return "none" }
func (*noHandlers) Init(Mesh)    {}
