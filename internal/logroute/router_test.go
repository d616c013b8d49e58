package logroute

// The router in isolation: attributes and groups follow a swap of the
// handler, the router's level gates before the handler, nil inputs, a
// disabled record costs nothing, and a handler holding the router's own is
// refused. The mesh-level tests (SetLogHandler and friends, loops through
// two meshes, panicking handlers) are in the root package.

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoutedLoggerReplaysAttrsAndGroupsOnEverySwap(t *testing.T) {
	r := New()
	var first, second bytes.Buffer
	r.SetDestination(&first)
	l := r.Logger("svc").With("k", 1).WithGroup("g").With("inner", true)

	l.Info("one", "x", 2)
	assert.Contains(t, first.String(), `msg=one service=svc k=1 g.inner=true g.x=2`)

	r.SetHandler(slog.NewJSONHandler(&second, nil))
	l.Info("two")
	assert.Contains(t, second.String(), `"service":"svc","k":1,"g":{"inner":true}`)
	assert.NotContains(t, first.String(), "two")
}

func TestRouterLevelGatesBeforeTheHandler(t *testing.T) {
	r := New()
	var buf bytes.Buffer
	// A handler that accepts everything: only the router's level may drop records.
	r.SetHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 8}))
	l := r.Logger("svc")

	l.Debug("hidden")
	assert.Empty(t, buf.String())
	assert.False(t, l.Enabled(context.Background(), slog.LevelDebug))

	r.SetLevel(slog.LevelDebug)
	l.Debug("shown")
	assert.Contains(t, buf.String(), "shown")

	// A stricter handler still applies after the router's level.
	buf.Reset()
	r.SetHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l.Info("dropped by handler")
	assert.Empty(t, buf.String())
}

func TestRouterNilInputs(t *testing.T) {
	r := New()
	var buf bytes.Buffer
	r.SetDestination(&buf)
	r.SetHandler(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	r.SetHandler(nil) // back to text on the current destination
	r.Logger("svc").Info("text again")
	assert.Contains(t, buf.String(), "msg=\"text again\" service=svc")

	r.SetDestination(nil) // discard
	require.NotPanics(t, func() { r.Logger("svc").Info("gone") })
	assert.NotContains(t, buf.String(), "gone")
}

func TestRoutedLoggerDoesNotAllocateWhenDisabled(t *testing.T) {
	r := New()
	r.SetDestination(nil)
	l := r.Logger("svc")
	assert.Zero(t, testing.AllocsPerRun(100, func() { l.Debug("off", "k", 1) }))
}

// A handler that is, or wraps, one of the router's own is refused and
// leaves the current handler in place; another router's is not refused.
func TestSetHandlerRefusesTheRoutersOwn(t *testing.T) {
	r, other := New(), New()
	var buf bytes.Buffer
	r.SetDestination(&buf)
	own := r.Logger("svc").Handler()
	assert.False(t, r.SetHandler(own))
	assert.False(t, r.SetHandler(struct{ slog.Handler }{own}), "wrapped in a struct")
	assert.False(t, r.SetHandler(&struct{ slog.Handler }{struct{ slog.Handler }{own}}), "two deep, behind a pointer")
	r.Logger("svc").Info("still text")
	assert.Contains(t, buf.String(), `msg="still text" service=svc`)

	assert.True(t, other.SetHandler(own), "another router's handler is no loop of its own")
	assert.True(t, r.SetHandler(nil))
}
