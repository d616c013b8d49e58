package servicemesh

// The start stack: the Inits that began, pushed without a lock, which the
// shutdown reads behind a fence (startStack.fence) and stops, in the order
// of the dependency graph, newest Init first. What guards each field is
// said beside it.

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// startStack records the Inits that began, for shutdown to stop them.
type startStack struct {
	seq atomic.Uint64 // numbers Inits in the order they begin
	// running counts Inits that began and have not returned; reaching zero,
	// or any Init returning during shutdown, pokes mesh.idleWake.
	running atomic.Int64
	// stack is a lock-free stack, linked through entry.nextStarted, of the
	// entries whose Init began. Shutdown orders it by initSeq, when each
	// Init began, and stops them newest first.
	stack atomic.Pointer[entry]
	// fence fences the beginning of Inits against shutdown: beginInit holds
	// it shared while it checks stopping and pushes on stack; shutdown takes
	// it once, exclusively, after setting stopping, so that every Init that
	// began is on the stack it reads and no Init begins after. No user code
	// runs under it.
	fence sync.RWMutex
	// mu serializes compactions of stack with the shutdown's read of it;
	// pushes need no lock.
	mu sync.Mutex
	// n counts the entries on stack; removals counts Removes since the last
	// compaction, which drops removed entries so that a mesh that adds and
	// removes services for ever does not keep them.
	n, removals atomic.Int64
}

// pushStarted pushes the chain first..last, linked through nextStarted, on
// the stack of entries whose Init began.
func (m *mesh) pushStarted(first, last *entry) {
	for {
		top := m.starts.stack.Load()
		last.nextStarted = top
		if m.starts.stack.CompareAndSwap(top, first) {
			return
		}
	}
}

// compactStarted drops removed entries from the stack of started ones once
// removals since the last compaction rival what it holds, so the cost is
// amortized over the Removes.
func (m *mesh) compactStarted() {
	if n := m.starts.removals.Add(1); n < 64 || n < m.starts.n.Load()/2 {
		return
	}
	m.starts.mu.Lock()
	defer m.starts.mu.Unlock()
	m.starts.removals.Store(0)
	var first, last *entry
	dropped := int64(0)
	for e := m.starts.stack.Swap(nil); e != nil; {
		next := e.nextStarted
		e.nextStarted = nil
		if e.gone.Load() {
			dropped++
		} else {
			if last == nil {
				first = e
			} else {
				last.nextStarted = e
			}
			last = e
		}
		e = next
	}
	m.starts.n.Add(-dropped)
	if first != nil {
		m.pushStarted(first, last)
	}
}

// stopOrder returns the entries to stop: those whose Init began, that were
// not removed and whose start did not fail, newest Init first. initSeq
// numbers every Init that began, 1 to inits, so a slot per number orders
// them without sorting.
func (m *mesh) stopOrder() []*entry {
	m.starts.mu.Lock()
	var live []*entry
	for e := m.starts.stack.Load(); e != nil; e = e.nextStarted {
		if !e.gone.Load() && !e.startFailed.Load() {
			live = append(live, e)
		}
	}
	m.starts.mu.Unlock()
	inits := m.starts.seq.Load()
	if inits > uint64(2*len(live)) { // sparse after many removals: sort
		slices.SortFunc(live, func(a, b *entry) int { return cmp.Compare(b.initSeq.Load(), a.initSeq.Load()) })
		return live
	}
	slots := make([]*entry, inits)
	for _, e := range live {
		slots[e.initSeq.Load()-1] = e
	}
	order := live[:0]
	for i := len(slots) - 1; i >= 0; i-- {
		if slots[i] != nil {
			order = append(order, slots[i])
		}
	}
	return order
}
