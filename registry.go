package servicemesh

import (
	"math"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
)

// The registry: which services are in the mesh, in the order added, how one
// is found again (by value where Go can compare it, by identity where it
// cannot, never at all for services of zero size), the list handed to
// resolvers, and the removed services still retiring. Every field it uses is
// guarded by registry.mu, except the snapshot for resolvers, which is read
// without a lock.

// registry is the set of services of a mesh.
type registry struct {
	// snap is the list of services handed to resolvers, view[:n:n], stored
	// under mu at every change and loaded without it.
	snap atomic.Pointer[[]Service]

	mu sync.Mutex // guards every field below, and the fields of entries said to be guarded by registry.mu
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

// Services returns a copy of the mesh's services, the mesh first.
func (m *mesh) Services() []Service {
	m.reg.mu.Lock()
	defer m.reg.mu.Unlock()
	out := make([]Service, 0, len(m.reg.svcs)-m.reg.holes)
	for _, s := range m.reg.svcs {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// snapshot returns the shared, immutable list of services for resolvers. Its
// capacity equals its length, so appending to it copies. After a removal it
// is built anew by the first resolver that asks.
func (m *mesh) snapshot() []Service {
	if p := m.reg.snap.Load(); p != nil {
		return *p
	}
	m.reg.mu.Lock()
	defer m.reg.mu.Unlock()
	if m.reg.view == nil {
		m.reg.view = make([]Service, 0, len(m.reg.svcs)-m.reg.holes)
		for i, s := range m.reg.svcs {
			if s != nil && (m.reg.slots[i] == nil || !m.reg.slots[i].hidden) {
				m.reg.view = append(m.reg.view, s)
			}
		}
		m.storeSnapshot()
	}
	return *m.reg.snap.Load()
}

// storeSnapshot publishes the current view to resolvers. The caller holds mu
// (or is New).
func (m *mesh) storeSnapshot() {
	s := m.reg.view[:len(m.reg.view):len(m.reg.view)]
	m.reg.snap.Store(&s)
}

// hide takes e, which failed, out of the list handed to resolvers, so that
// no dependent finds it from now on; Services still lists it.
func (r *registry) hide(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.hidden {
		return
	}
	e.hidden = true
	if e.slot >= 0 {
		r.view = nil
		r.snap.Store(nil)
	}
}

// stillRetiring returns the newest removed entry of svc that is still
// retiring, or nil. Services of zero size are never looked for. The caller
// holds mu.
func (m *mesh) stillRetiring(svc Service, comparable bool) *entry {
	if comparable {
		return m.reg.retiring[svc]
	}
	for i := len(m.reg.retiringOdd) - 1; i >= 0; i-- {
		if x := m.reg.retiringOdd[i]; sameService(x.svc, svc) {
			return x
		}
	}
	return nil
}

// retire lists e, just removed, as retiring until its lifecycle has ended
// (see retired) and its removal has been told. The caller holds mu.
func (m *mesh) retire(e *entry) {
	e.told, e.retired = make(chan struct{}), make(chan struct{})
	e.awaitLife = !e.ended.Load()
	e.awaitTold = true
	e.awaitServe = e.serveRunning()
	switch {
	case e.zeroSize: // never looked for
	case e.comparable:
		m.reg.retiring[e.svc] = e // the newest; an older one is waited for by it
	default:
		m.reg.retiringOdd = append(m.reg.retiringOdd, e)
	}
}

// retired notes, at the end of e's lifecycle, that it has ended. Entries
// never removed take no lock here.
func (m *mesh) retired(e *entry) {
	// Remove sets gone and then, under mu, reads ended; this sets ended and
	// then reads gone. If Remove read ended as false, this sees gone.
	e.ended.Store(true)
	m.stopAwaiting(e, &e.awaitLife)
}

// stopAwaiting clears await, one of the waits of e's retirement, if e was
// removed, and retires e if it was the last. The caller has just recorded
// that what await waits for is over (ended, or serving under the Serve's
// mutex); Remove sets gone and then reads that record, under mu, for
// retire, so either it saw the record or this sees gone.
func (m *mesh) stopAwaiting(e *entry, await *bool) {
	if !e.gone.Load() {
		return
	}
	m.reg.mu.Lock()
	defer m.reg.mu.Unlock()
	if *await {
		*await = false
		m.retireIfDone(e)
	}
}

// retireIfDone ends e's retirement once its lifecycle has ended, no call
// of its Serve runs (see serveReturned), and its removal has been told.
// The caller holds mu.
func (m *mesh) retireIfDone(e *entry) {
	if e.awaitLife || e.awaitTold || e.awaitServe {
		return
	}
	switch {
	case e.zeroSize:
	case e.comparable:
		if m.reg.retiring[e.svc] == e {
			delete(m.reg.retiring, e.svc)
		}
	default:
		if i := slices.Index(m.reg.retiringOdd, e); i >= 0 {
			m.reg.retiringOdd = slices.Delete(m.reg.retiringOdd, i, i+1)
		}
	}
	close(e.retired)
}

// publish lists e in svcs, where Services and resolvers see it, unless it
// was removed meanwhile, and wakes the waiting resolvers. The caller holds mu.
func (m *mesh) publish(e *entry) {
	if e.gone.Load() || e.slot >= 0 {
		return
	}
	e.slot = len(m.reg.svcs)
	m.reg.svcs = appendDoubling(m.reg.svcs, e.svc)
	m.reg.slots = appendDoubling(m.reg.slots, e)
	if m.reg.view != nil {
		m.reg.view = appendDoubling(m.reg.view, e.svc)
		m.storeSnapshot()
	}
	m.sched.Broadcast()
}

// reserve enters e in the index, so that lookups find it; Add then
// publishes it in svcs. The caller holds mu.
func (m *mesh) reserve(e *entry) {
	m.reg.seq++
	e.seq = m.reg.seq
	if e.comparable && !e.zeroSize {
		m.reg.index[e.svc] = e
	} else {
		m.reg.odd = append(m.reg.odd, e)
	}
	if m.reg.byAddr != nil && !e.zeroSize { // zero-size services cannot be told apart by address
		if a := addressOf(e.svc); a != 0 {
			m.reg.byAddr[a] = e
		}
	}
}

// unregister drops e from the registry in constant time, amortized: its
// slot in svcs becomes a hole, and the holes are squeezed out once they are
// half of svcs. The list for resolvers is built anew when next asked for.
// The caller holds mu.
func (m *mesh) unregister(e *entry) {
	if e.slot >= 0 {
		m.reg.svcs[e.slot], m.reg.slots[e.slot] = nil, nil
		e.slot = -1
		m.reg.holes++
		m.reg.view = nil
		m.reg.snap.Store(nil)
		if m.reg.holes >= 64 && 2*m.reg.holes >= len(m.reg.svcs) {
			m.squeeze()
		}
	}
	if e.comparable && !e.zeroSize {
		delete(m.reg.index, e.svc)
	} else if i := slices.Index(m.reg.odd, e); i >= 0 {
		m.reg.odd = slices.Delete(m.reg.odd, i, i+1)
	}
	if m.reg.byAddr != nil {
		if a := addressOf(e.svc); a != 0 && m.reg.byAddr[a] == e {
			delete(m.reg.byAddr, a)
		}
	}
}

// squeeze removes the holes from svcs and slots, keeping the order. The
// caller holds mu.
func (m *mesh) squeeze() {
	svcs := make([]Service, 0, max(2*(len(m.reg.svcs)-m.reg.holes), 8))
	slots := make([]*entry, 0, cap(svcs))
	for i, s := range m.reg.svcs {
		if s == nil {
			continue
		}
		if e := m.reg.slots[i]; e != nil {
			e.slot = len(svcs)
		}
		svcs = append(svcs, s)
		slots = append(slots, m.reg.slots[i])
	}
	m.reg.svcs, m.reg.slots, m.reg.holes = svcs, slots, 0
}

// lookup finds the entry of svc, without ever comparing values that Go
// cannot compare. Services of zero size cannot be told apart: lookup finds
// the earliest added of those the same as svc. The caller holds mu.
func (m *mesh) lookup(svc Service) *entry {
	if zeroSized(svc) {
		for _, e := range m.reg.odd {
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
		return m.reg.index[svc]
	}
	for _, e := range m.reg.odd {
		if !e.comparable && !e.zeroSize && sameService(e.svc, svc) {
			return e
		}
	}
	return nil
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
