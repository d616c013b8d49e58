package servicemesh_test

// The application's log handler (DESIGN §3, Logging): SetLogHandler refuses
// a handler that is, or wraps, one of the mesh's own; a record that comes
// back to a mesh through handlers is not handled in a loop; and the mesh
// never calls the handler while it holds a lock of its own.

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxHops bounds how often a record may pass through the hop handlers
// before they call it a loop and drop it, so that a loop fails the test
// instead of overflowing the stack.
const maxHops = 32

// hopsKey is the context key under which hop counts a record's hops.
type hopsKey struct{}

// hopCount keeps the most hops any record took, and whether one went past
// maxHops.
type hopCount struct {
	most   atomic.Int32
	gaveUp atomic.Bool
}

// next returns ctx with one more hop counted, and false, counting the
// record as looping, past maxHops.
func (c *hopCount) next(ctx context.Context) (context.Context, bool) {
	n, _ := ctx.Value(hopsKey{}).(int32)
	n++
	for {
		most := c.most.Load()
		if n <= most || c.most.CompareAndSwap(most, n) {
			break
		}
	}
	if n > maxHops {
		c.gaveUp.Store(true)
		return ctx, false
	}
	return context.WithValue(ctx, hopsKey{}, n), true
}

// hop hands every record on to another handler, passing the context along
// as a well-behaved wrapper does (with its count of hops).
type hop struct {
	to    slog.Handler
	count *hopCount
}

func (h hop) Enabled(ctx context.Context, l slog.Level) bool {
	ctx, ok := h.count.next(ctx)
	return ok && h.to.Enabled(ctx, l)
}

func (h hop) Handle(ctx context.Context, r slog.Record) error {
	ctx, ok := h.count.next(ctx)
	if !ok {
		return nil
	}
	return h.to.Handle(ctx, r)
}

func (h hop) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h hop) WithGroup(string) slog.Handler      { return h }

// Guards: a log loop through two meshes' handlers is broken after one round.
//
// Design §3, Logging: a record that comes back to a mesh's logger through
// the application's handler goes to the default text handler instead, so
// that a loop is broken after one round. That holds when the way back runs
// through another mesh whose handler hands records to the first: neither
// handler wraps its own mesh's, so neither is refused. Two such meshes once
// recursed without end (a fatal stack overflow): the context mark that
// detects a record coming back held one router, and each router overwrote
// the other's.
func TestLogLoopAcrossTwoMeshesIsBroken(t *testing.T) {
	a, b := newTestMesh(t, "a"), newTestMesh(t, "b")
	var outA, outB syncBuffer
	a.SetLogDestination(&outA)
	b.SetLogDestination(&outB)
	_, la := loggedService(t, a, "logger a")
	_, lb := loggedService(t, b, "logger b")
	count := &hopCount{}
	a.SetLogHandler(hop{to: lb.Handler(), count: count}) // a's records go to b's logger
	b.SetLogHandler(hop{to: la.Handler(), count: count}) // b's records go to a's logger
	require.Zero(t, countLines(outA.String()+outB.String(), "SetLogHandler ignored"), "neither handler is refused")

	require.NotPanics(t, func() { la.Info("around two meshes") })
	assert.False(t, count.gaveUp.Load(), "the record went round a -> b -> a ... %d times", count.most.Load())
	assert.Equal(t, int32(2), count.most.Load(), "hops of a record: a's handler to b, b's handler back to a")
	assert.Equal(t, 1, countLines(outA.String(), "around two meshes"),
		"the record that came back to a reaches a's default text handler once")
	assert.Zero(t, countLines(outB.String(), "around two meshes"))
}

// cycNode is a handler that is also a recursive type: it holds the next
// node, and the last one holds a handler.
type cycNode struct {
	next *cycNode
	h    slog.Handler
}

func (n *cycNode) Enabled(context.Context, slog.Level) bool { return true }
func (n *cycNode) Handle(ctx context.Context, r slog.Record) error {
	if n.h != nil {
		return n.h.Handle(ctx, r)
	}
	if n.next != nil {
		return n.next.Handle(ctx, r)
	}
	return nil
}
func (n *cycNode) WithAttrs([]slog.Attr) slog.Handler { return n }
func (n *cycNode) WithGroup(string) slog.Handler      { return n }

// cycOuter holds a cycNode by value, so that the mesh meets cycNode, and
// through it *cycNode, for the first time while it looks into cycOuter. It
// keeps what it handles (captureHandler).
type cycOuter struct {
	//lint:ignore U1000 never read by name: its type is what the mesh's reflective walk into cycOuter meets, which is what the test exercises
	n cycNode
	*captureHandler
}

// cycTwin is cycNode's twin, first met as a pointer.
type cycTwin struct {
	next *cycTwin
	h    slog.Handler
}

func (n *cycTwin) Enabled(context.Context, slog.Level) bool  { return true }
func (n *cycTwin) Handle(context.Context, slog.Record) error { return nil }
func (n *cycTwin) WithAttrs([]slog.Attr) slog.Handler        { return n }
func (n *cycTwin) WithGroup(string) slog.Handler             { return n }

// Guards: a recursive wrapper of the mesh's own handler is refused wherever met.
//
// Design §3, Logging: a handler that wraps one of the mesh's own handlers,
// however deeply, is refused like the mesh's own. What a type can hold is
// worked out once per type; for a recursive type it must not depend on
// where the type was first met. The cache once stored the provisional
// answer a recursive type gets when it meets itself, so a pointer to a
// recursive type first met through a struct was taken for good as unable
// to hold one, and SetLogHandler accepted a handler that wraps the mesh's
// own.
func TestHandlerTypeCacheWithRecursiveTypes(t *testing.T) {
	m := newTestMesh(t)
	_, l := loggedService(t, m, "own")
	own := l.Handler()

	outer := cycOuter{captureHandler: newCaptureHandler(slog.LevelDebug)}
	m.SetLogHandler(outer) // the mesh looks into cycOuter, and so into cycNode
	refusals := func() int { return countLines(strings.Join(outer.sink.msgs(), "\n"), "SetLogHandler ignored") }
	require.Zero(t, refusals(), "cycOuter holds no handler of the mesh")

	// Control: the same shape, first met as a pointer, is refused.
	m.SetLogHandler(&cycTwin{next: &cycTwin{h: own}})
	require.Equal(t, 1, refusals(), "a recursive wrapper of the mesh's own handler is refused")

	m.SetLogHandler(&cycNode{next: &cycNode{h: own}})
	assert.Equal(t, 2, refusals(), "a *cycNode that wraps the mesh's own handler one link down is refused")
	l.Info("still routed to cycOuter")
	assert.Contains(t, outer.sink.msgs(), "still routed to cycOuter", "the refused handler did not replace the current one")
}

// callFromLog is a log handler that, the first time it handles a record
// whose message holds trigger, calls call on another goroutine and waits,
// still inside Handle, at most bound for it to return. It then sends
// whether call returned in time on result.
type callFromLog struct {
	trigger string
	call    func()
	once    sync.Once
	result  chan bool     // cap 1
	done    chan struct{} // closed once call has returned
}

func newCallFromLog(trigger string, call func()) *callFromLog {
	return &callFromLog{trigger: trigger, call: call, result: make(chan bool, 1), done: make(chan struct{})}
}

func (h *callFromLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *callFromLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, h.trigger) {
		return nil
	}
	h.once.Do(func() {
		go func() {
			defer close(h.done)
			h.call()
		}()
		timer := time.NewTimer(bound)
		defer timer.Stop()
		select {
		case <-h.done:
			h.result <- true
		case <-timer.C:
			h.result <- false
		}
	})
	return nil
}
func (h *callFromLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *callFromLog) WithGroup(string) slog.Handler      { return h }

// check waits for the trigger's record and for call to return, and asserts
// that call returned while the handler was still handling the record.
func (h *callFromLog) check(t *testing.T, what string) {
	t.Helper()
	select {
	case ok := <-h.result:
		assert.True(t, ok, "%s from inside the log handler did not return within %v: the mesh logged %q holding a lock that %s takes", what, bound, h.trigger, what)
	case <-time.After(2 * bound):
		require.Fail(t, "the mesh never logged "+h.trigger)
	}
	require.True(t, waitChan(t, h.done, bound, what+" returned"))
}

// Guards: the lane's watchdog logs without holding the lane's lock.
//
// Design §3, Concurrency: the mesh never holds a lock of its own while it
// calls the application's code, and the log handler is the application's.
// The lane's watchdog logs that later services go ahead of one whose Init
// has not returned; a handler that adds a service meanwhile is not blocked.
// It once logged under its lock, and such a handler blocked until it gave
// up.
func TestLaneDoesNotLogUnderItsLock(t *testing.T) {
	m := newTestMesh(t)
	h := newCallFromLog("later services go ahead", func() { m.Add(newBase("added by the log handler")) })
	m.SetLogLevel(slog.LevelDebug)
	m.SetLogHandler(h)

	release := make(chan struct{})
	defer close(release) // before the mesh's shutdown at cleanup
	slow := newBase("slow")
	slow.initFn = func(servicemesh.Mesh) { <-release }
	m.Add(slow)
	queued := m.Add(newBase("queued")) // the lane has more to do: it hands on
	h.check(t, "Add")
	require.True(t, waitTimeout(t, queued, bound, "the queued service's Add"))
}

// Guards: the scheduler's watchdog logs without holding the scheduler's lock.
//
// The same for the scheduler's watchdog, which logs that a resolver has not
// returned; a handler that removes a service meanwhile is not blocked.
func TestSchedulerDoesNotLogUnderItsLock(t *testing.T) {
	m := newTestMesh(t)
	other := newBase("other")
	require.True(t, waitTimeout(t, m.Add(other), bound, "Add"))
	h := newCallFromLog("a resolver has not returned", func() { m.Remove(other) })
	m.SetLogLevel(slog.LevelDebug)
	m.SetLogHandler(h)

	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	defer free() // before the mesh's shutdown at cleanup
	var calls atomic.Int32
	stalling := &withDeps{base: newBase("stalling")}
	stalling.resolvedFn = func() bool {
		// An attempt asks twice, before and after ResolveDependencies.
		switch calls.Add(1) {
		case 1, 2:
			return false // the first attempt, on the lifecycle's goroutine
		case 3:
			<-release // the second, on the scheduler's: it stalls
		}
		return true
	}
	resolved := m.Add(stalling)
	h.check(t, "Remove")
	free()
	require.True(t, waitTimeout(t, resolved, bound, "the stalling service's Add"))
}

// Guards: SetLogHandler refuses the mesh's own handler; logging goes on.
func TestSetLogHandlerRefusesTheMeshsOwnHandler(t *testing.T) {
	m := newTestMesh(t)
	var buf syncBuffer
	m.SetLogDestination(&buf)
	s := &slowLogged{entered: make(chan struct{}), release: make(chan struct{})}
	close(s.release)
	require.True(t, waitTimeout(t, m.Add(s), bound))
	m.SetLogHandler(s.Logger().Handler()) // would route to itself
	s.Logger().Info("still works")
	assert.Contains(t, buf.String(), "SetLogHandler ignored")
	assert.Contains(t, buf.String(), "still works")
}
