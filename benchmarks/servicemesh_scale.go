package benchmarks

// Servicemesh-only measurements of scale: Scale, Remove in a large mesh,
// and the fan-out of one event to many handler services.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/gravestench/servicemesh"
)

// meshPlain is an independent service with nothing but Init and Name.
type meshPlain struct {
	name  string
	inits *atomic.Int64
}

func (s *meshPlain) Name() string          { return s.name }
func (s *meshPlain) Init(servicemesh.Mesh) { s.inits.Add(1) }

// Scale adds n independent services to a mesh, waits for their Inits and
// shuts down.
func Scale(n int) error {
	if n <= 0 {
		return errors.New("no services")
	}
	ns := serviceNames(n)
	var inits atomic.Int64
	m := newMesh("scale")
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		wgs[i] = m.Add(&meshPlain{name: ns[i], inits: &inits})
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	return expect("Inits", inits.Load(), n)
}

// RemoveBench is a mesh of initialized independent services from which
// services are removed and re-added, to time Remove at a steady size.
type RemoveBench struct {
	m       servicemesh.Mesh
	names   []string
	slots   []*meshPlain // the services in the mesh, or nil where one was removed
	order   []int        // the slots in a random order, cycled through by Remove
	next    int          // the next position in order
	emptied []int        // the slots Remove emptied since the last Refill
	wgs     []*sync.WaitGroup
	inits   atomic.Int64
	adds    int64 // Adds made, each of which must Init once
	removes int64 // Removes made
}

// NewRemoveBench adds n independent services to a new mesh and waits for
// their Inits.
func NewRemoveBench(n int) (*RemoveBench, error) {
	if n <= 0 {
		return nil, errors.New("no services")
	}
	r := &RemoveBench{
		m:     newMesh("remove"),
		names: serviceNames(n),
		slots: make([]*meshPlain, n),
		order: rand.New(rand.NewPCG(1, 2)).Perm(n),
	}
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		r.slots[i] = &meshPlain{name: r.names[i], inits: &r.inits}
		wgs[i] = r.m.Add(r.slots[i])
	}
	r.adds = int64(n)
	waitAll(wgs)
	return r, nil
}

// Remove removes k services, taken from all over the mesh in a random
// order, and waits on each Remove's WaitGroup (done once the
// EventServiceRemoved handlers have run; there are none here). At most
// len(slots) services may be removed between two calls of Refill.
func (r *RemoveBench) Remove(k int) error {
	if len(r.emptied)+k > len(r.slots) {
		return fmt.Errorf("removing %d more of %d services before a Refill", k, len(r.slots))
	}
	r.wgs = r.wgs[:0]
	for range k {
		i := r.order[r.next]
		r.next = (r.next + 1) % len(r.order)
		r.wgs = append(r.wgs, r.m.Remove(r.slots[i]))
		r.slots[i] = nil
		r.emptied = append(r.emptied, i)
	}
	r.removes += int64(k)
	waitAll(r.wgs)
	return nil
}

// Refill adds a new service in every slot Remove emptied and waits for
// their Inits, bringing the mesh back to its size.
func (r *RemoveBench) Refill() {
	r.wgs = r.wgs[:0]
	for _, i := range r.emptied {
		r.slots[i] = &meshPlain{name: r.names[i], inits: &r.inits}
		r.wgs = append(r.wgs, r.m.Add(r.slots[i]))
	}
	r.adds += int64(len(r.emptied))
	r.emptied = r.emptied[:0]
	waitAll(r.wgs)
}

// Close checks that the mesh holds exactly the services in the slots (every
// removed service is gone, every added one is there) and that each Add led
// to one Init, then shuts the mesh down.
func (r *RemoveBench) Close() error {
	defer r.m.Shutdown().Wait()
	in := make(map[servicemesh.Service]bool, len(r.slots))
	for _, s := range r.slots {
		if s != nil {
			in[s] = true
		}
	}
	listed := r.m.Services()
	if len(listed) == 0 || any(listed[0]) != any(r.m) {
		return errors.New("the mesh's Services does not list the mesh first")
	}
	listed = listed[1:]
	if len(listed) != len(in) {
		return fmt.Errorf("the mesh lists %d services after %d Removes, want %d", len(listed), r.removes, len(in))
	}
	for _, s := range listed {
		if !in[s] {
			return fmt.Errorf("the mesh lists %s, which was removed", s.Name())
		}
	}
	return expect("Inits", r.inits.Load(), int(r.adds))
}

// meshAddedHandler counts the EventServiceAdded it is told of.
type meshAddedHandler struct {
	name  string
	calls atomic.Int64
}

func (h *meshAddedHandler) Name() string                       { return h.name }
func (h *meshAddedHandler) Init(servicemesh.Mesh)              {}
func (h *meshAddedHandler) OnServiceAdded(servicemesh.Service) { h.calls.Add(1) }

// FanOutBench is a mesh of services that each handle EventServiceAdded, to
// which independent services are added one at a time.
type FanOutBench struct {
	m        servicemesh.Mesh
	handlers []*meshAddedHandler
	base     []int64      // each handler's calls once set up
	extra    []*meshPlain // services added since the last Trim
	inits    atomic.Int64
	adds     int // services added by Add
}

// NewFanOutBench adds n services implementing
// servicemesh.EventHandlerServiceAdded to a new mesh and waits until they
// are initialized, and so until every EventServiceAdded of their own adding
// has been handled.
func NewFanOutBench(n int) (*FanOutBench, error) {
	if n <= 0 {
		return nil, errors.New("no handlers")
	}
	ns := serviceNames(n)
	f := &FanOutBench{
		m:        newMesh("fan-out"),
		handlers: make([]*meshAddedHandler, n),
		base:     make([]int64, n),
	}
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		f.handlers[i] = &meshAddedHandler{name: ns[i]}
		wgs[i] = f.m.Add(f.handlers[i])
	}
	waitAll(wgs)
	for i, h := range f.handlers {
		f.base[i] = h.calls.Load()
	}
	return f, nil
}

// Add adds one independent service and waits for its Init, which follows
// its EventServiceAdded having been handled by every handler.
func (f *FanOutBench) Add() {
	s := &meshPlain{name: "extra", inits: &f.inits}
	f.m.Add(s).Wait()
	f.extra = append(f.extra, s)
	f.adds++
}

// Trim removes the services Add added, so that the mesh keeps its size.
func (f *FanOutBench) Trim() {
	wgs := make([]*sync.WaitGroup, len(f.extra))
	for i, s := range f.extra {
		wgs[i] = f.m.Remove(s)
	}
	waitAll(wgs)
	f.extra = f.extra[:0]
}

// Close shuts the mesh down and checks that every handler was called once
// for each service Add added, and that each of those was initialized.
func (f *FanOutBench) Close() error {
	f.m.Shutdown().Wait()
	for i, h := range f.handlers {
		if got := h.calls.Load() - f.base[i]; got != int64(f.adds) {
			return fmt.Errorf("handler %s was called %d times for %d services added", h.name, got, f.adds)
		}
	}
	return expect("Inits of the added services", f.inits.Load(), f.adds)
}
