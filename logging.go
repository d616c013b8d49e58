package servicemesh

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
)

// SetLogHandler routes every logger of the mesh through h; nil restores the
// default text handler on the current destination. The handler of one of the
// mesh's own loggers is refused with a warning: it would route to itself.
func (m *mesh) SetLogHandler(h slog.Handler) {
	if !m.logs.setHandler(h) {
		m.logger.Warn("SetLogHandler ignored: the handler is one of this mesh's own, which would route every record back to itself")
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
type logRouter struct {
	level slog.LevelVar // the mesh's level; gates every record first
	cur   atomic.Pointer[target]

	mu  sync.Mutex // guards dst and serializes swaps of cur
	dst io.Writer
}

// target is one generation of the routed-to handler. A new target is made on
// every swap, so its address identifies the generation.
type target struct {
	h slog.Handler
}

func newLogRouter() *logRouter {
	r := &logRouter{dst: os.Stdout}
	r.cur.Store(&target{h: defaultHandler(r.dst)})
	return r
}

// defaultHandler is a text handler that leaves level filtering to the router.
func defaultHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.Level(math.MinInt)})
}

func (r *logRouter) setHandler(h slog.Handler) bool {
	if rh, ok := h.(*routedHandler); ok && rh.r == r {
		return false // it would hand every record back to itself, forever
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h == nil {
		h = defaultHandler(r.dst)
	}
	r.cur.Store(&target{h: h})
	return true
}

func (r *logRouter) setDestination(w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dst = w
	r.cur.Store(&target{h: defaultHandler(w)})
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

// Enabled reports whether the mesh's level and the current handler accept level.
func (h *routedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.r.level.Level() && h.r.cur.Load().h.Enabled(ctx, level)
}

// Handle passes the record to the current handler.
func (h *routedHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level < h.r.level.Level() {
		return nil
	}
	return h.current().Handle(ctx, rec)
}

func (h *routedHandler) current() slog.Handler {
	gen := h.r.cur.Load()
	if d := h.cache.Load(); d != nil && d.gen == gen {
		return d.h
	}
	out := gen.h
	for _, op := range h.ops {
		if op.group != "" {
			out = out.WithGroup(op.group)
		} else {
			out = out.WithAttrs(op.attrs)
		}
	}
	h.cache.Store(&derived{gen: gen, h: out})
	return out
}

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
