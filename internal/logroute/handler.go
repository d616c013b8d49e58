package logroute

// The handler inside every logger a Router hands out: it gates on the
// router's level, forwards to the router's current handler with the
// logger's own attributes and groups replayed onto it, and contains that
// handler's panics and loops.

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// handlerOp is one WithAttrs (attrs set) or WithGroup (group set) call, kept
// so that it can be replayed onto whatever handler is current.
type handlerOp struct {
	attrs []slog.Attr
	group string
}

// routedHandler is the slog.Handler inside every logger of the mesh. It
// forwards to the router's current handler, with its own attributes and
// groups applied; the derived handler is cached per generation. It is
// immutable but for the cache, which is swapped atomically.
type routedHandler struct {
	r     *Router
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

// orBackground returns ctx, or context.Background() for a nil ctx.
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
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

// applyGuarded is apply onto gen's handler, with a panic reported and
// answered by a handler that drops records.
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

// with returns a new handler on the same router with op appended to h's.
func (h *routedHandler) with(op handlerOp) *routedHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &routedHandler{r: h.r, ops: append(ops, op)}
}
