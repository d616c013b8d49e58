package registry

import (
	"iter"
	"sync"
	"sync/atomic"
)

// Registry is the set of services of a mesh. Its zero value is not ready:
// Init it first.
type Registry[S comparable, E comparable] struct {
	// snap is the list of services handed to resolvers, view[:n:n], set to
	// nil under mu at every change, stored under mu by the first Snapshot
	// after it, and loaded without it.
	snap atomic.Pointer[[]S]

	mu sync.Mutex // guards every field below, and the fields of nodes said to be guarded by Registry.mu
	// svcs is the mesh followed by its services, in the order added, with
	// zero holes where services were removed (holes of them); slots holds
	// the node of each (nil for the mesh), and each node its index there.
	svcs  []S
	slots []*Node[S, E]
	holes int
	// view holds the services of svcs, without holes or hidden ones, for
	// resolvers. It is append-only and set to nil on removal, to be built
	// anew when next asked for, so every view[:n:n] handed out stays as it
	// was and resolvers share it without a copy each. It is apart from svcs
	// so that a resolver that writes into its list, which it must not do,
	// can only confuse other resolvers, never the registry.
	view  []S
	index map[S]*Node[S, E] // nodes of services found by value (Node.ByValue)
	odd   []*Node[S, E]     // nodes of other services: not comparable, or of zero size
	// byAddr holds the nodes of pointer-shaped services by address, for
	// matching what resolvers hold; nil until first asked for (At, Held).
	byAddr map[uintptr]*Node[S, E]
	// retiring holds removed nodes until their retirement is over
	// (retire.go): the newest of each service found by value, and a list
	// of the others but those of zero size, which are never looked for.
	retiring    map[S]*Node[S, E]
	retiringOdd []*Node[S, E]
	seq         uint64 // numbers nodes in the order admitted
	shutting    bool   // BeginShutdown was called: Admit refuses
}

// Init makes r an empty registry of the mesh self, which is listed first
// and never removed. It must be called once, before r is shared.
func (r *Registry[S, E]) Init(self S) {
	r.index = make(map[S]*Node[S, E])
	r.retiring = make(map[S]*Node[S, E])
	r.svcs = []S{self}
	r.slots = []*Node[S, E]{nil}
	r.view = []S{self}
	r.storeSnapshot()
}

// Services returns a new list of the mesh and its services, the mesh
// first, then the others in the order added; it includes hidden ones.
func (r *Registry[S, E]) Services() []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	var none S
	out := make([]S, 0, len(r.svcs)-r.holes)
	for _, s := range r.svcs {
		if s != none {
			out = append(out, s)
		}
	}
	return out
}

// Snapshot returns the shared, immutable list of the services for
// resolvers: Services without the hidden ones. It takes no lock and does not
// allocate unless the list changed since it was last built: after an
// addition it is stored anew, after a removal or a Hide built anew, by the
// first caller. Its capacity equals its length, so appending to it copies;
// the caller must not write into it.
func (r *Registry[S, E]) Snapshot() []S {
	if p := r.snap.Load(); p != nil {
		return *p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.snap.Load(); p != nil { // stored meanwhile
		return *p
	}
	if r.view == nil {
		var none S
		r.view = make([]S, 0, len(r.svcs)-r.holes)
		for i, s := range r.svcs {
			if s != none && (r.slots[i] == nil || !r.slots[i].hidden) {
				r.view = append(r.view, s)
			}
		}
	}
	r.storeSnapshot()
	return *r.snap.Load()
}

// storeSnapshot publishes the current view to resolvers. The caller holds
// mu (or is Init).
func (r *Registry[S, E]) storeSnapshot() {
	s := r.view[:len(r.view):len(r.view)]
	r.snap.Store(&s)
}

// Hide takes n, whose service failed, out of the list handed to resolvers,
// so that no dependent finds it from now on; Services and Entries still list
// it. Hiding twice does nothing.
func (r *Registry[S, E]) Hide(n *Node[S, E]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.hidden {
		return
	}
	n.hidden = true
	if n.slot >= 0 {
		r.view = nil
		r.snap.Store(nil)
	}
}

// Held returns the entries of the services at addrs (addresses a resolver
// holds, see AddressOf), each once, in the order of addrs, leaving out self.
func (r *Registry[S, E]) Held(addrs []uintptr, self E) []E { return r.AppendHeld(nil, addrs, self) }

// AppendHeld is Held appending to dst, which may be on the caller's stack.
func (r *Registry[S, E]) AppendHeld(dst []E, addrs []uintptr, self E) []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Locked[S, E]{r}
	start := len(dst)
	for _, a := range addrs {
		if x, ok := l.At(a); ok && x != self && !containsEntry(dst[start:], x) {
			dst = append(dst, x)
		}
	}
	return dst
}

// containsEntry reports whether list holds e.
func containsEntry[E comparable](list []E, e E) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

// Do calls fn under the registry's lock with a view of it, for a caller that
// needs several steps to be atomic (and for the fields of entries guarded by
// the registry's lock, such as the root's dependency edges). The view is
// valid only during the call. fn must not call user code, wait on the event
// bus or call any method of r.
func (r *Registry[S, E]) Do(fn func(l Locked[S, E])) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(Locked[S, E]{r})
}

// Entries returns the entries listed now, in the order added (the mesh,
// which has none, left out), for a range loop that holds the registry's
// lock while it runs: its body must not call user code, wait on the event
// bus or call any method of the registry.
func (r *Registry[S, E]) Entries() iter.Seq[E] {
	return func(yield func(E) bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.each(yield)
	}
}

// each calls yield for each listed entry in order until it returns false.
// The caller holds mu.
func (r *Registry[S, E]) each(yield func(E) bool) {
	for _, n := range r.slots {
		if n != nil && !yield(n.entry) {
			return
		}
	}
}

// BeginShutdown marks the beginning of the shutdown: from then on Admit
// refuses. The first call calls begin under the registry's lock (so that no
// service is admitted while it runs) and reports true; later calls do
// nothing and report false. begin must not call user code, wait on the
// event bus or call any method of r.
func (r *Registry[S, E]) BeginShutdown(begin func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutting {
		return false
	}
	r.shutting = true
	begin()
	return true
}

// Locked is the registry seen under its lock, handed to the func given to
// Do; it is valid only during that call.
type Locked[S comparable, E comparable] struct{ r *Registry[S, E] }

// Entries returns the entries listed, in the order added, for a range loop.
func (l Locked[S, E]) Entries() iter.Seq[E] { return l.r.each }

// Len returns how many services are listed, the mesh not counted.
func (l Locked[S, E]) Len() int { return len(l.r.svcs) - 1 - l.r.holes }

// AllListed reports whether every admitted service is listed: none is
// admitted and waiting to be published (see Admit).
func (l Locked[S, E]) AllListed() bool {
	return len(l.r.index)+len(l.r.odd) == l.Len()
}

// At returns the entry of the pointer-shaped service at address addr, not
// of zero size, if there is one in the registry (listed or not). Of two
// services at one address (a struct and its first field), one is found.
func (l Locked[S, E]) At(addr uintptr) (E, bool) {
	r := l.r
	if r.byAddr == nil {
		r.indexAddresses()
	}
	if n := r.byAddr[addr]; n != nil {
		return n.entry, true
	}
	var none E
	return none, false
}

// indexAddresses builds byAddr, the first time it is asked for; from then
// on reserve and unregister keep it. The caller holds mu.
func (r *Registry[S, E]) indexAddresses() {
	r.byAddr = make(map[uintptr]*Node[S, E], len(r.index))
	for _, n := range r.index {
		if a := AddressOf(n.svc); a != 0 {
			r.byAddr[a] = n
		}
	}
}
