package servicemesh

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

// Logging: the mesh-owned router every logger of the mesh writes through,
// and its guards against handlers that panic or route records back to the
// mesh. The router's handler is swapped atomically; its destination is
// guarded by its mutex.

// SetLogHandler routes every logger of the mesh through h; nil restores the
// default text handler on the current destination. A handler that is, or
// holds, one of this mesh's own handlers is refused with a warning: it would
// route every record back to itself.
func (m *mesh) SetLogHandler(h slog.Handler) {
	if !m.logs.setHandler(h) {
		m.logger.Warn("SetLogHandler ignored: the handler is, or wraps, one of this mesh's own, which would route every record back to itself")
	}
}

// SetLogLevel sets the level below which the mesh's loggers drop records.
func (m *mesh) SetLogLevel(level slog.Level) { m.logs.level.Set(level) }

// SetLogDestination switches to the default text handler writing to dst;
// nil discards all output.
func (m *mesh) SetLogDestination(dst io.Writer) { m.logs.setDestination(dst) }

// logRouter owns the one handler every logger of a mesh writes through. The
// handler it routes to can be swapped at any time; loggers already handed out
// follow at their next record.
//
// The routed-to handler is the application's code: a panic in it is
// contained (the record is lost, and the first panic of each handler is
// reported through the default text handler), and a handler that hands the
// record back to one of the mesh's own loggers, however deeply wrapped, is
// refused by setHandler when it can be seen, and otherwise caught when the
// record comes back: it then goes to the default text handler instead.
type logRouter struct {
	level slog.LevelVar // the mesh's level; gates every record first
	cur   atomic.Pointer[target]
	// fallback is the default text handler on the current destination,
	// for records that come back around and for reporting panics.
	fallback atomic.Pointer[target]

	mu  sync.Mutex // guards dst and serializes swaps of cur
	dst io.Writer

	// panics counts the panics recovered from the handlers, reported or not
	// (mesh.RecoveredPanics).
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
type routingKey struct{ r *logRouter }

func newLogRouter() *logRouter {
	r := &logRouter{dst: os.Stdout}
	t := &target{h: defaultHandler(r.dst), trusted: true}
	r.cur.Store(t)
	r.fallback.Store(t)
	return r
}

// defaultHandler is a text handler that leaves level filtering to the router.
func defaultHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.Level(math.MinInt)})
}

func (r *logRouter) setHandler(h slog.Handler) bool {
	if r.holdsOwn(h) {
		return false // it would hand every record back to itself, forever
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

func (r *logRouter) setDestination(w io.Writer) {
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

// logger returns a logger through the router with the attribute service=name.
func (r *logRouter) logger(name string) *slog.Logger {
	h := &routedHandler{r: r, ops: []handlerOp{{attrs: []slog.Attr{slog.String("service", name)}}}}
	return slog.New(h)
}

// handlerOp is one WithAttrs (attrs set) or WithGroup (group set) call, kept
// so that it can be replayed onto whatever handler is current.
type handlerOp struct {
	attrs []slog.Attr
	group string
}

// routedHandler is the slog.Handler inside every logger of the mesh. It
// forwards to the router's current handler, with its own attributes and
// groups applied; the derived handler is cached per generation.
type routedHandler struct {
	r     *logRouter
	ops   []handlerOp // never modified after creation
	cache atomic.Pointer[derived]
}

// derived is the current handler with a routedHandler's ops applied.
type derived struct {
	gen *target
	h   slog.Handler
}

// Enabled reports whether the mesh's level and the current handler accept
// level. A panic in the handler counts as no.
func (h *routedHandler) Enabled(ctx context.Context, level slog.Level) (ok bool) {
	if level < h.r.level.Level() {
		return false
	}
	t := h.r.cur.Load()
	if h.looped(ctx) {
		return true // the record came back around; Handle sends it to the fallback
	}
	defer func() {
		if v := recover(); v != nil {
			h.r.reportPanic(t, "Enabled", v)
			ok = false
		}
	}()
	return t.h.Enabled(h.mark(ctx, t), level)
}

// Handle passes the record to the current handler. A panic in it (or in the
// writer under it) loses the record, never the process; a record that comes
// back to this router through the handler goes to the default text handler
// instead.
func (h *routedHandler) Handle(ctx context.Context, rec slog.Record) (err error) {
	if rec.Level < h.r.level.Level() {
		return nil
	}
	t := h.r.cur.Load()
	if h.looped(ctx) {
		t = h.r.fallback.Load()
	}
	defer func() {
		if v := recover(); v != nil {
			h.r.reportPanic(t, "Handle", v)
			err = nil
		}
	}()
	return h.current(t).Handle(h.mark(ctx, t), rec)
}

// mark returns ctx marked as handled by this router, for a handler that may
// hand the record on; the standard library's handlers do not, and get ctx as
// it is.
func (h *routedHandler) mark(ctx context.Context, t *target) context.Context {
	if t.trusted {
		return ctx
	}
	return context.WithValue(orBackground(ctx), routingKey{h.r}, true)
}

// looped reports whether ctx is already being handled by this router.
func (h *routedHandler) looped(ctx context.Context) bool {
	return ctx != nil && ctx.Value(routingKey{h.r}) != nil
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// reportPanic counts a panic of t's handler and reports the first one
// through the fallback handler, unless t is the fallback (its writer
// panicked); a panic while reporting is counted and dropped.
func (r *logRouter) reportPanic(t *target, call string, v any) {
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

// current returns the handler of generation gen with h's ops applied,
// cached. A handler whose WithAttrs or WithGroup panics is reported and
// replaced by one that drops records.
func (h *routedHandler) current(gen *target) slog.Handler {
	if d := h.cache.Load(); d != nil && d.gen == gen {
		return d.h
	}
	out := h.applyGuarded(gen)
	h.cache.Store(&derived{gen: gen, h: out})
	return out
}

func (h *routedHandler) applyGuarded(gen *target) (out slog.Handler) {
	defer func() {
		if v := recover(); v != nil {
			h.r.reportPanic(gen, "WithAttrs or WithGroup", v)
			out = discardHandler{}
		}
	}()
	return h.apply(gen.h)
}

// apply replays h's WithAttrs and WithGroup calls onto base.
func (h *routedHandler) apply(base slog.Handler) slog.Handler {
	out := base
	for _, op := range h.ops {
		if op.group != "" {
			out = out.WithGroup(op.group)
		} else {
			out = out.WithAttrs(op.attrs)
		}
	}
	return out
}

// discardHandler drops every record.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// WithAttrs returns a handler that adds attrs to every record.
func (h *routedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs})
}

// WithGroup returns a handler that nests later attributes under name.
func (h *routedHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerOp{group: name})
}

func (h *routedHandler) with(op handlerOp) *routedHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &routedHandler{r: h.r, ops: append(ops, op)}
}

// debug logs the mesh's lifecycle chatter at level Debug, with kv as
// alternating keys and string values. The level check comes first, in a small
// frame and before anything is boxed: entering slog's logging path grows the
// stack of every lifecycle goroutine, even when the record is then dropped.
func (m *mesh) debug(msg string, kv ...string) {
	if !m.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	args := make([]any, len(kv))
	for i, s := range kv {
		args[i] = s
	}
	m.logger.Debug(msg, args...)
}
