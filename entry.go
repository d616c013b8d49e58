package servicemesh

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/lane"
	"github.com/gravestench/servicemesh/internal/lifecycle"
	"github.com/gravestench/servicemesh/internal/registry"
	"github.com/gravestench/servicemesh/internal/sched"
)

// The entry: what the mesh keeps about one added service, and what guards
// each of its fields.

// entry is the mesh's record of one added service. A poll of a waiting
// service reads its waiting record (resolution) only, not the entry: ten
// thousand waiters are polled from memory, not from cache.
type entry struct {
	// resolution is the waiting record of a service with dependencies
	// (dependencies.go), nil for the others: most services never wait, so
	// they do not carry it.
	resolution *resolution
	name       string
	seq        uint64 // order added; set by Add under the registry's lock before use
	svc        Service
	done       sync.WaitGroup // returned by Add
	gone       atomic.Bool    // set by Remove; cancels a resolution
	ended      atomic.Bool    // its lifecycle goroutine has finished
	// provides is set once its Init returned and its Serve started: it
	// may fill requirements from then on (requirements.go).
	provides atomic.Bool
	// startTimer ends its start at the start timeout; nil without one.
	startTimer atomic.Pointer[time.Timer]
	// reqs are its declared requirements (HasRequirements), nil for the
	// many services that declare none; read at Add.
	reqs *reqState
	// lc is its state: read by anyone, changed only through step and
	// stepFrom, which take a step only if its lifecycle allows it.
	lc lifecycle.Machine
	// prev is the same service's previous entry, still retiring when this
	// one was added; set by Add, cleared by the lifecycle.
	prev *entry
	// node is the registry's part of it (internal/registry): its place in
	// the list of services, whether it is hidden from resolvers, its
	// retirement once removed (told once its EventServiceRemoved has been
	// delivered, retired once moreover its lifecycle has ended and no call
	// of its Serve runs), all guarded by the registry's lock; and its link
	// in the start stack and the number of its Init (InitSeq).
	node registry.Node[Service, *entry]

	// Guarded by the registry's lock (m.reg.Do):
	dependsOn []*entry // the services it holds (graph.go), and those it declared
	declared  []*entry // the services it declared (requirements.go), also in dependsOn
	holdsMesh bool     // it holds the Mesh (graph.go)

	hasLogger bool // it implements HasLogger; set at Add (beside holdsMesh: the entry is 8 bytes smaller)

	// progress counts the steps of its way to Init, and tells whether its
	// Init runs (InInit, read by shutdown too) and whether it is inside
	// SetLogger or an event's handlers, so that the lane (startorder.go)
	// can tell a stuck lifecycle from a slow one.
	progress lane.Progress

	handlers *handlerSet // nil if it implements no handler interface

	// What Status reports beside lc, read without a lock:
	lastErr  atomic.Pointer[string]
	restarts atomic.Int64 // of its Serve (supervise.go)
	// policy is its own restart policy, read once at Add, with defaults;
	// nil when it has none (HasRestartPolicy) and the mesh's applies.
	policy *RestartPolicy

	serve *serveState // nil unless it implements HasServe
	// startOver is set once Init returned or timed out, whichever first;
	// stopOver once the stop's budget ran out for it. doneOnce makes Add's
	// WaitGroup done once, at the end of the lifecycle or at a start
	// timeout.
	startOver, stopOver atomic.Bool
	doneOnce            sync.Once
	// startFailed is set when its start did not complete: its Init
	// panicked, failed or timed out, or the shutdown cut it short. It is
	// never stopped. A service whose Serve ended or failed is, in its turn.
	startFailed atomic.Bool

	watchers sched.Watchers[resolverState] // resolvers holding this service; the scheduler's
}

// handlerSet is the handler interfaces of one service. Add binds them unless
// Remove came first; Remove unbinds them if Add got there first.
type handlerSet struct {
	listeners []*bound
	mu        sync.Mutex // guards bound and removed
	bound     bool
	removed   bool
}
