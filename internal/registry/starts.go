package registry

// The start stack: the entries whose Init began, pushed without a lock,
// which the shutdown reads behind a fence (Seal) and stops, in the order of
// the dependency graph, newest Init first. It links entries through their
// Node (next), which is why it lives beside the registry; it is
// independent of the registry's lock. What guards each field is said beside
// it.

import (
	"cmp"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
)

// Starts records the Inits that began, for the shutdown to stop them. Its
// zero value is ready to use.
type Starts[S comparable, E comparable] struct {
	seq atomic.Uint64 // numbers Inits in the order they begin
	// running counts Inits that began and have not returned.
	running atomic.Int64
	// top is a lock-free stack, linked through Node.next, of the nodes
	// whose Init began.
	top atomic.Pointer[Node[S, E]]
	// fence fences the beginning of Inits against the shutdown: Begin holds
	// it shared while it asks whether the Init may begin and pushes it;
	// Seal takes it once, exclusively, so that every Init that began is on
	// the stack and none begins after (the shutdown's flag, set before
	// Seal, says no). No user code runs under it.
	fence sync.RWMutex
	// mu serializes compactions of the stack with reads of it; pushes need
	// no lock.
	mu sync.Mutex
	// n counts the nodes on the stack; removals counts Removed calls since
	// the last compaction, which drops removed entries so that a mesh that
	// adds and removes services for ever does not keep them.
	n, removals atomic.Int64
}

// Begin records the beginning of n's Init if may, called under the fence
// (shared), reports that it may begin: it counts the Init as running,
// numbers it (Node.InitSeq) and pushes it on the stack, all before Seal can
// return. It reports whether the Init begins. may must not call user code.
func (s *Starts[S, E]) Begin(n *Node[S, E], may func() bool) bool {
	s.fence.RLock()
	defer s.fence.RUnlock()
	if !may() {
		return false
	}
	s.running.Add(1)
	n.initSeq.Store(s.seq.Add(1))
	s.push(n, n)
	s.n.Add(1)
	return true
}

// Seal waits for every Begin under way: once it returns, every Init that
// began is on the stack, and an Init begins after only if Begin's may says
// so, which the caller has made say no (the shutdown's flag).
func (s *Starts[S, E]) Seal() {
	s.fence.Lock()
	//lint:ignore SA2001 the empty critical section is a fence: it waits out every Begin that holds fence, and the lock itself is the point
	s.fence.Unlock()
}

// Returned notes that an Init counted by Begin returned (or ended with
// runtime.Goexit), and reports whether none is running any more.
func (s *Starts[S, E]) Returned() (none bool) { return s.running.Add(-1) == 0 }

// Running returns how many Inits began and have not returned.
func (s *Starts[S, E]) Running() int64 { return s.running.Load() }

// Len returns how many nodes the stack holds, removed ones not yet dropped
// included.
func (s *Starts[S, E]) Len() int64 { return s.n.Load() }

// push pushes the chain first..last, linked through next, on the stack.
func (s *Starts[S, E]) push(first, last *Node[S, E]) {
	for {
		top := s.top.Load()
		last.next = top
		if s.top.CompareAndSwap(top, first) {
			return
		}
	}
}

// Removed notes that an entry was removed, and drops from the stack those
// entries for which gone reports true once the removals since the last
// compaction rival what the stack holds, so that the cost is amortized over
// the removals. gone must not call user code.
func (s *Starts[S, E]) Removed(gone func(E) bool) {
	if n := s.removals.Add(1); n < 64 || n < s.n.Load()/2 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removals.Store(0)
	var first, last *Node[S, E]
	dropped := int64(0)
	for n := s.top.Swap(nil); n != nil; {
		next := n.next
		n.next = nil
		if gone(n.entry) {
			dropped++
		} else {
			if last == nil {
				first = n
			} else {
				last.next = n
			}
			last = n
		}
		n = next
	}
	s.n.Add(-dropped)
	if first != nil {
		s.push(first, last)
	}
}

// All returns the entries on the stack, for a range loop that holds the
// stack's lock while it runs (pushes go on): newest push first, but a
// compaction may have put older ones above Inits that began meanwhile. The
// loop's body must not call user code or any method of s but Running and
// Len.
func (s *Starts[S, E]) All() iter.Seq[E] {
	return func(yield func(E) bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for n := s.top.Load(); n != nil; n = n.next {
			if !yield(n.entry) {
				return
			}
		}
	}
}

// Order returns the entries on the stack for which keep reports true,
// newest Init first (by InitSeq). InitSeq numbers every Init that began, 1
// to the count, so a slot per number orders them without sorting unless
// most were dropped. keep must not call user code.
func (s *Starts[S, E]) Order(keep func(E) bool) []E {
	s.mu.Lock()
	var live []*Node[S, E]
	for n := s.top.Load(); n != nil; n = n.next {
		if keep(n.entry) {
			live = append(live, n)
		}
	}
	s.mu.Unlock()
	inits := s.seq.Load()
	if inits > uint64(2*len(live)) { // sparse after many removals: sort
		slices.SortFunc(live, func(a, b *Node[S, E]) int { return cmp.Compare(b.initSeq.Load(), a.initSeq.Load()) })
		order := make([]E, len(live))
		for i, n := range live {
			order[i] = n.entry
		}
		return order
	}
	// Newest first: the slot of Init number k is inits-k, so that the
	// order is the slots without the empty ones, compacted in place.
	slots := make([]E, inits)
	for _, n := range live {
		slots[inits-n.initSeq.Load()] = n.entry
	}
	var none E
	order := slots[:0]
	for _, e := range slots {
		if e != none {
			order = append(order, e)
		}
	}
	return order
}
