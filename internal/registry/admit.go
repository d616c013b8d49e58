package registry

import "slices"

// How a service enters and leaves the registry: Admit reserves it (lookups
// find it, a second Add of it is a duplicate), Publish lists it where
// Services and resolvers see it, Remove drops it in constant time,
// amortized.

// Refusal says why Admit refused a service.
type Refusal uint8

const (
	// Admitted: it was not refused.
	Admitted Refusal = iota
	// ShuttingDown: BeginShutdown was called.
	ShuttingDown
	// Duplicate: the service is the mesh itself, or the same service is
	// in the registry already (never for services of zero size).
	Duplicate
)

// Admit enters n's service in the registry, unless the shutdown began or
// it is there already. Under the registry's lock, once it is entered, it
// calls admitted with the number of n in the order admitted (from 1) and
// the entry of the same service removed earlier and still retiring, the
// newest (zero if there is none, and always for services of zero size); if
// admitted returns true, n is listed at once, as Publish would. It reports
// whether n was listed, and why it was refused. admitted must not call user
// code, wait on the event bus or call any method of r.
func (r *Registry[S, E]) Admit(n *Node[S, E], admitted func(seq uint64, prev E) (list bool)) (listed bool, refused Refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.shutting:
		return false, ShuttingDown
	case n.svc == r.svcs[0] || (!n.zeroSize && r.lookupAs(n.svc, n.comparable) != nil):
		return false, Duplicate
	}
	var prev E
	if !n.zeroSize {
		if p := r.stillRetiring(n.svc, n.comparable); p != nil {
			prev = p.entry
		}
	}
	r.reserve(n)
	if admitted(r.seq, prev) {
		listed = r.publish(n)
	}
	return listed, Admitted
}

// Publish lists n, admitted, where Services and resolvers see it, unless it
// was removed meanwhile or is listed already; it reports whether it listed
// it.
func (r *Registry[S, E]) Publish(n *Node[S, E]) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.publish(n)
}

// Remove takes svc out of the registry and reports its entry, or reports
// false if svc is not in it. Of services of zero size, which cannot be told
// apart, it takes the earliest admitted of those the same as svc. Under the
// registry's lock, once svc is out, it calls removed with its entry, which
// reports whether its retirement waits for its lifecycle to end and for a
// call of its Serve to return (see LifeOver and ServeOver); it always waits
// for Told. A service added again meanwhile gets the entry as its previous
// one (Admit) and waits for its retirement. removed must not call user
// code, wait on the event bus or call any method of r.
func (r *Registry[S, E]) Remove(svc S, removed func(e E) (awaitLife, awaitServe bool)) (E, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.lookup(svc)
	if n == nil {
		var none E
		return none, false
	}
	r.unregister(n)
	life, serve := removed(n.entry)
	r.retire(n, life, serve)
	return n.entry, true
}

// reserve enters n in the index, so that lookups find it. The caller holds
// mu.
func (r *Registry[S, E]) reserve(n *Node[S, E]) {
	r.seq++
	if n.ByValue() {
		r.index[n.svc] = n
	} else {
		r.odd = append(r.odd, n)
	}
	if r.byAddr != nil && !n.zeroSize { // zero-size services cannot be told apart by address
		if a := AddressOf(n.svc); a != 0 {
			r.byAddr[a] = n
		}
	}
}

// publish is Publish. The caller holds mu.
func (r *Registry[S, E]) publish(n *Node[S, E]) bool {
	if n.slot >= 0 || n.told != nil { // listed, or removed
		return false
	}
	n.slot = len(r.svcs)
	r.svcs = AppendDoubling(r.svcs, n.svc)
	r.slots = AppendDoubling(r.slots, n)
	if r.view != nil && !n.hidden {
		// The next Snapshot stores the longer view: a burst of additions
		// that no resolver reads costs no allocation each.
		r.view = AppendDoubling(r.view, n.svc)
		r.snap.Store(nil)
	}
	return true
}

// unregister drops n from the registry in constant time, amortized: its
// slot in svcs becomes a hole, and the holes are squeezed out once they are
// half of svcs. The list for resolvers is built anew when next asked for.
// The caller holds mu.
func (r *Registry[S, E]) unregister(n *Node[S, E]) {
	if n.slot >= 0 {
		var none S
		r.svcs[n.slot], r.slots[n.slot] = none, nil
		n.slot = -1
		r.holes++
		r.view = nil
		r.snap.Store(nil)
		if r.holes >= 64 && 2*r.holes >= len(r.svcs) {
			r.squeeze()
		}
	}
	if n.ByValue() {
		delete(r.index, n.svc)
	} else if i := slices.Index(r.odd, n); i >= 0 {
		r.odd = slices.Delete(r.odd, i, i+1)
	}
	if r.byAddr != nil {
		if a := AddressOf(n.svc); a != 0 && r.byAddr[a] == n {
			delete(r.byAddr, a)
		}
	}
}

// squeeze removes the holes from svcs and slots, keeping the order. The
// caller holds mu.
func (r *Registry[S, E]) squeeze() {
	var none S
	svcs := make([]S, 0, max(2*(len(r.svcs)-r.holes), 8))
	slots := make([]*Node[S, E], 0, cap(svcs))
	for i, s := range r.svcs {
		if s == none {
			continue
		}
		if n := r.slots[i]; n != nil {
			n.slot = len(svcs)
		}
		svcs = append(svcs, s)
		slots = append(slots, r.slots[i])
	}
	r.svcs, r.slots, r.holes = svcs, slots, 0
}

// lookup finds the node of svc, without ever comparing values that Go
// cannot compare. Services of zero size cannot be told apart: lookup finds
// the earliest admitted of those the same as svc. The caller holds mu.
func (r *Registry[S, E]) lookup(svc S) *Node[S, E] {
	if zeroSized(svc) {
		for _, n := range r.odd {
			if n.zeroSize && sameService(n.svc, svc) {
				return n
			}
		}
		return nil
	}
	return r.lookupAs(svc, isComparable(svc))
}

// lookupAs is lookup for a service of non-zero size already known to be
// comparable or not. The caller holds mu.
func (r *Registry[S, E]) lookupAs(svc S, comparable bool) *Node[S, E] {
	if comparable {
		return r.index[svc]
	}
	for _, n := range r.odd {
		if !n.comparable && !n.zeroSize && sameService(n.svc, svc) {
			return n
		}
	}
	return nil
}
