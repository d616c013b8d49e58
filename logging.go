package servicemesh

import (
	"context"
	"io"
	"log/slog"
)

// Logging: the public setters of the mesh's log router (internal/logroute,
// which owns the one handler every logger of the mesh writes through, the
// level, and the guards against handlers that panic or route records back
// to the mesh), and the mesh's own debug chatter.

// SetLogHandler routes every logger of the mesh through h; nil restores the
// default text handler on the current destination. A handler that is, or
// holds, one of this mesh's own handlers is refused with a warning: it would
// route every record back to itself.
func (m *mesh) SetLogHandler(h slog.Handler) {
	if !m.logs.SetHandler(h) {
		m.logger.Warn("SetLogHandler ignored: the handler is, or wraps, one of this mesh's own, which would route every record back to itself")
	}
}

// SetLogLevel sets the level below which the mesh's loggers drop records.
func (m *mesh) SetLogLevel(level slog.Level) { m.logs.SetLevel(level) }

// SetLogDestination switches to the default text handler writing to dst;
// nil discards all output.
func (m *mesh) SetLogDestination(dst io.Writer) { m.logs.SetDestination(dst) }

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
