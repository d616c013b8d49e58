// Package logroute owns the log router of a mesh: the one handler every
// logger of the mesh writes through, the mesh's level, and the guards
// against the application's handler — a handler that panics loses its
// records, never the process, and a handler that routes records back to the
// mesh is refused when it can be seen and broken out of when it cannot.
//
// It imports nothing of the mesh. The root package makes one Router per
// mesh (New), hands services the Router's loggers (Logger), and adapts its
// public SetLogHandler, SetLogLevel and SetLogDestination to SetHandler,
// SetLevel and SetDestination; RecoveredPanics reads Panics. Every method is
// safe for concurrent use.
package logroute

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Router owns the one handler every logger of a mesh writes through. The
// handler it routes to can be swapped at any time; loggers already handed out
// follow at their next record.
//
// The routed-to handler is the application's code: a panic in it is
// contained (the record is lost, and the first panic of each handler is
// reported through the default text handler), and a handler that hands the
// record back to one of the mesh's own loggers, however deeply wrapped, is
// refused by SetHandler when it can be seen, and otherwise caught when the
// record comes back: it then goes to the default text handler instead.
//
// The handler is swapped atomically (cur, fallback); the destination is
// guarded by mu. A record is handled without any lock of the Router held.
type Router struct {
	level slog.LevelVar // the mesh's level; gates every record first
	cur   atomic.Pointer[target]
	// fallback is the default text handler on the current destination,
	// for records that come back around and for reporting panics.
	fallback atomic.Pointer[target]

	mu  sync.Mutex // guards dst and serializes swaps of cur
	dst io.Writer

	// panics counts the panics recovered from the handlers, reported or not
	// (Panics).
	panics atomic.Int64
}

// target is one generation of the routed-to handler. A new target is made on
// every swap, so its address identifies the generation.
type target struct {
	h slog.Handler
	// trusted is set for the standard library's text and JSON handlers,
	// which never call back into another handler: records reach them
	// without the context value that detects a loop.
	trusted  bool
	panicked atomic.Bool // a panic of h was reported
}

// routingKey marks a context that is being handled by router r, so that a
// record that comes back to r through the application's handler is seen,
// even by way of another mesh's router.
type routingKey struct{ r *Router }

// New returns a router that writes text to standard output at level Info.
func New() *Router {
	r := &Router{dst: os.Stdout}
	t := &target{h: defaultHandler(r.dst), trusted: true}
	r.cur.Store(t)
	r.fallback.Store(t)
	return r
}

// defaultHandler is a text handler that leaves level filtering to the router.
func defaultHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.Level(math.MinInt)})
}

// SetHandler routes every logger of r through h; nil restores the default
// text handler on the current destination. It returns false, and changes
// nothing, when h is, or holds, one of r's own handlers: it would hand every
// record back to itself, forever.
func (r *Router) SetHandler(h slog.Handler) bool {
	if r.holdsOwn(h) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h == nil {
		r.cur.Store(r.fallback.Load())
		return true
	}
	switch h.(type) {
	case *slog.TextHandler, *slog.JSONHandler:
		r.cur.Store(&target{h: h, trusted: true})
	default:
		r.cur.Store(&target{h: h})
	}
	return true
}

// SetDestination switches to the default text handler writing to w; nil
// discards all output.
func (r *Router) SetDestination(w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dst = w
	t := &target{h: defaultHandler(w), trusted: true}
	r.fallback.Store(t)
	r.cur.Store(t)
}

// SetLevel sets the level below which r's loggers drop records, before any
// handler is asked.
func (r *Router) SetLevel(level slog.Level) { r.level.Set(level) }

// Logger returns a logger through r with the attribute service=name. It
// costs one allocation: every service with a logger gets one at Add.
func (r *Router) Logger(name string) *slog.Logger {
	x := &serviceLogger{}
	x.attr[0] = slog.String("service", name)
	x.op[0].attrs = x.attr[:]
	x.h.r, x.h.ops = r, x.op[:]
	x.logger = *slog.New(&x.h) // slog.New is inlined: its Logger stays on the stack
	return &x.logger
}

// serviceLogger is a logger of Logger and what it is made of, in one
// allocation. It is immutable once Logger returned it, but for h's cache.
type serviceLogger struct {
	logger slog.Logger
	h      routedHandler
	op     [1]handlerOp
	attr   [1]slog.Attr
}

// Panics returns how many panics r has recovered from the handlers it
// routed to, or the writers under them, whether reported or not.
func (r *Router) Panics() int64 { return r.panics.Load() }

// reportPanic counts a panic of t's handler and reports the first one
// through the fallback handler, unless t is the fallback (its writer
// panicked); a panic while reporting is counted and dropped.
func (r *Router) reportPanic(t *target, call string, v any) {
	r.panics.Add(1)
	fb := r.fallback.Load()
	if fb == t || t.panicked.Swap(true) {
		return
	}
	defer func() {
		if recover() != nil {
			r.panics.Add(1)
		}
	}()
	rec := slog.NewRecord(time.Now(), slog.LevelError, "the log handler panicked; its records are dropped", 0)
	rec.AddAttrs(slog.String("call", call), slog.String("panic", fmt.Sprint(v)))
	_ = fb.h.Handle(context.Background(), rec)
}
