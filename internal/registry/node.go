package registry

import "sync/atomic"

// Node is the registry's part of one entry: the root package's entry embeds
// one and hands it to Admit. Init sets it up; its other fields belong to the
// registry, guarded as said beside each.
type Node[S comparable, E comparable] struct {
	entry E // the entry that holds this node; set by Init
	svc   S // the service; set by Init
	// Guarded by Registry.mu: slot is the node's index in the registry's
	// list of services, -1 while it is not listed there. told and retired
	// are made when it is removed: told is closed once its removal has
	// been told (awaitTold false), retired once its lifecycle has ended and
	// no call of its Serve runs (awaitLife and awaitServe false).
	slot          int
	told, retired chan struct{}
	// Start stack (Starts): next is the next node down the stack, written
	// by the push that owns it and by a compaction under Starts.mu; initSeq
	// numbers its Init in the order Inits began, 0 before.
	next    *Node[S, E]
	initSeq atomic.Uint64
	// comparable and zeroSize are set by Init and never change: svc can be
	// a map key; svc is, or points to, a value of zero size, so that it is
	// never a duplicate of another.
	comparable, zeroSize bool
	// Guarded by Registry.mu:
	hidden                           bool // failed: not in the list handed to resolvers
	awaitLife, awaitTold, awaitServe bool // see told and retired
}

// Init sets n up for entry e of service svc, before n is handed to the
// registry. svc must not be nil.
func (n *Node[S, E]) Init(e E, svc S) {
	n.entry, n.svc, n.slot = e, svc, -1
	n.comparable, n.zeroSize = isComparable(svc), zeroSized(svc)
}

// ByValue reports whether the service is found by its value: Go can compare
// it, and it is not of zero size. Such a service is the same one across a
// Remove and a new Add.
func (n *Node[S, E]) ByValue() bool { return n.comparable && !n.zeroSize }

// Listed reports whether the node is in the registry's list of services.
// The caller holds the registry's lock (inside Do, or a loop over Entries).
func (n *Node[S, E]) Listed() bool { return n.slot >= 0 }

// Told returns the channel closed once the removal of n has been told (see
// Registry.Told); nil before n was removed. A Node got as the previous one
// of a service added again (Admit) was removed already.
func (n *Node[S, E]) Told() <-chan struct{} { return n.told }

// Retired returns the channel closed once n's retirement is over: its
// lifecycle ended, no call of its Serve runs and its removal was told; nil
// before n was removed.
func (n *Node[S, E]) Retired() <-chan struct{} { return n.retired }

// InitSeq returns the number of n's Init in the order Inits began
// (Starts.Begin), 0 before it began. It is read without a lock.
func (n *Node[S, E]) InitSeq() uint64 { return n.initSeq.Load() }
