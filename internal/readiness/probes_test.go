package readiness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svc is an owner for the tests: a service whose HealthCheck runs check
// (nil: it has none) and whose probe is kept under key (nil: itself).
type svc struct {
	name  string
	key   any
	gone  atomic.Bool
	check func(ctx context.Context) error
	// What the calls of check were: how many, how many at once at most,
	// and, for each call, whether a panic would be logged.
	calls, inFlight, most atomic.Int32
	loud                  []bool // guarded by mesh.mu
}

func (s *svc) ProbeKey() any {
	if s.key != nil {
		return s.key
	}
	return s
}
func (s *svc) Gone() bool     { return s.gone.Load() }
func (s *svc) HasCheck() bool { return s.check != nil }

// mesh is the mesh's side of the probes for the tests: it counts the
// checks' goroutines as the mesh's busy does, refuses checks once stopping,
// guards the checks as guard does, and notes the changes told.
type mesh struct {
	probes   Probes[*svc]
	ctx      context.Context
	cancel   context.CancelFunc
	stopping atomic.Bool
	busy     sync.WaitGroup
	mu       sync.Mutex
	changes  []string // "name: error" or "name: passing"; guarded by mu
}

func newMesh(t *testing.T) *mesh {
	m := &mesh{}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.probes.Init(Hooks[*svc]{
		Ctx: m.ctx,
		Begin: func() bool {
			m.busy.Add(1)
			if m.stopping.Load() {
				m.busy.Done()
				return false
			}
			return true
		},
		Done:    m.busy.Done,
		Check:   m.check,
		Changed: m.changed,
	})
	t.Cleanup(func() {
		m.stopping.Store(true)
		m.cancel()
		m.busy.Wait()
	})
	return m
}

func (m *mesh) check(ctx context.Context, s *svc, quiet bool) (panicked bool, err error) {
	m.mu.Lock()
	s.loud = append(s.loud, !quiet)
	m.mu.Unlock()
	s.calls.Add(1)
	if n := s.inFlight.Add(1); n > s.most.Load() {
		s.most.Store(n)
	}
	defer s.inFlight.Add(-1)
	defer func() {
		if v := recover(); v != nil {
			panicked, err = true, fmt.Errorf("panicked: %v", v)
		}
	}()
	return false, s.check(ctx)
}

func (m *mesh) changed(s *svc, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.changes = append(m.changes, s.name+": "+err.Error())
	} else {
		m.changes = append(m.changes, s.name+": passing")
	}
}

func (m *mesh) told() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.changes...)
}

// failing asks whether any of ss fails, as readiness does.
func (m *mesh) failing(ctx context.Context, wait bool, ss ...*svc) (*svc, bool) {
	return m.probes.Failing(ctx, ss, m.probes.For(ss, false), wait)
}

func passes(context.Context) error { return nil }

// For returns one probe per service, the same each time, in order; a
// service added again under the same key gets the probe it had.
func TestForKeepsOneProbePerKey(t *testing.T) {
	m := newMesh(t)
	a, b := &svc{name: "a"}, &svc{name: "b"}
	ps := m.probes.For([]*svc{a, b}, false)
	require.Len(t, ps, 2)
	assert.NotSame(t, ps[0], ps[1])
	again := m.probes.For([]*svc{b, a}, true)
	assert.Same(t, ps[1], again[0])
	assert.Same(t, ps[0], again[1])

	a2 := &svc{name: "a", key: "a"}
	a3 := &svc{name: "a", key: "a"}
	p2 := m.probes.For([]*svc{a2}, false)[0]
	a2.gone.Store(true) // removed, and added again as a3
	assert.Same(t, p2, m.probes.For([]*svc{a3}, true)[0], "the same service, the same probe")
	assert.Empty(t, m.probes.For(nil, true))
}

// With prune, the probes of services gone are dropped, after the owners
// named were brought up to date; the others are kept.
func TestForPrunesTheProbesOfServicesGone(t *testing.T) {
	m := newMesh(t)
	a, b := &svc{name: "a"}, &svc{name: "b"}
	ps := m.probes.For([]*svc{a, b}, false)
	a.gone.Store(true)
	m.probes.For([]*svc{b}, false)
	assert.Same(t, ps[0], m.probes.For([]*svc{a}, false)[0], "no prune, kept")
	m.probes.For([]*svc{b}, true)
	assert.NotSame(t, ps[0], m.probes.For([]*svc{a}, false)[0], "pruned: a new probe")
	assert.Same(t, ps[1], m.probes.For([]*svc{b}, true)[0])

	// A service gone whose key is named again under a new owner is not
	// pruned: the owner is brought up to date first.
	k1, k2 := &svc{name: "k", key: "k"}, &svc{name: "k", key: "k"}
	p := m.probes.For([]*svc{k1}, false)[0]
	k1.gone.Store(true)
	assert.Same(t, p, m.probes.For([]*svc{k2}, true)[0])
	assert.Same(t, p, m.probes.For([]*svc{k2}, true)[0])
}

// Ready asks through ask, notes the answer for LastReady, and a call from
// inside the ask (or during it) gets the last answer without asking again.
func TestReadyIsNeverAskedFromInsideItself(t *testing.T) {
	m := newMesh(t)
	p := m.probes.For([]*svc{{name: "r"}}, false)[0]
	assert.False(t, p.LastReady(), "never asked")
	asked := 0
	inner := true
	ask := func(quiet bool) (bool, bool) {
		asked++
		inner = p.Ready(func(bool) (bool, bool) {
			t.Error("asked from inside its own Ready")
			return true, false
		})
		return true, false
	}
	assert.True(t, p.Ready(ask))
	assert.Equal(t, 1, asked)
	assert.False(t, inner, "from inside: the last answer, none yet")
	assert.True(t, p.LastReady())
	assert.True(t, p.Ready(ask))
	assert.True(t, inner, "from inside: the last answer")
	assert.Equal(t, 2, asked)
}

// A Ready that panics is not ready; a panic right after a panic is quiet
// (not logged again); a call that returns makes the next panic loud again.
func TestReadyPanicsAreLoudOnce(t *testing.T) {
	m := newMesh(t)
	p := m.probes.For([]*svc{{name: "r"}}, false)[0]
	var quiets []bool
	answer := func(ready, panicked bool) func(bool) (bool, bool) {
		return func(quiet bool) (bool, bool) {
			quiets = append(quiets, quiet)
			return ready, panicked
		}
	}
	assert.True(t, p.Ready(answer(true, false)))
	assert.False(t, p.Ready(answer(true, true)), "a panic is not ready, whatever the answer")
	assert.False(t, p.LastReady())
	assert.False(t, p.Ready(answer(true, true)))
	assert.True(t, p.Ready(answer(true, false)))
	assert.False(t, p.Ready(answer(false, true)))
	assert.Equal(t, []bool{false, false, true, true, false}, quiets)
}

// Passed tells the latest result however old, false before any; UnderWay
// whether a check runs with no fresh result; neither starts a check.
func TestPassedAndUnderWayStartNothing(t *testing.T) {
	m := newMesh(t)
	release := make(chan struct{})
	s := &svc{name: "s", check: func(context.Context) error { <-release; return nil }}
	p := m.probes.For([]*svc{s}, false)[0]
	assert.False(t, m.probes.Passed(p))
	assert.False(t, m.probes.UnderWay(s))
	assert.Zero(t, s.calls.Load())

	_, failing := m.failing(context.Background(), false, s)
	assert.True(t, failing, "never completed: failing, without waiting")
	assert.True(t, m.probes.UnderWay(s))
	close(release)
	m.busy.Wait()
	assert.False(t, m.probes.UnderWay(s))
	assert.True(t, m.probes.Passed(p))
	_, failing = m.failing(context.Background(), false, s)
	assert.False(t, failing, "from the cache")
	assert.Equal(t, int32(1), s.calls.Load())
}

// Services without a HealthCheck are passed over; the first failing one, in
// the order given, is named.
func TestFailingNamesTheFirstThatFails(t *testing.T) {
	m := newMesh(t)
	boom := errors.New("boom")
	none := &svc{name: "none"}
	ok := &svc{name: "ok", check: passes}
	bad1 := &svc{name: "bad1", check: func(context.Context) error { return boom }}
	bad2 := &svc{name: "bad2", check: func(context.Context) error { return boom }}
	s, failing := m.failing(context.Background(), true, none, ok)
	assert.False(t, failing)
	assert.Nil(t, s)
	s, failing = m.failing(context.Background(), true, none, ok, bad1, bad2)
	assert.True(t, failing)
	assert.Same(t, bad1, s)
	assert.Zero(t, none.calls.Load())
	m.busy.Wait()
	assert.ElementsMatch(t, []string{"bad1: boom", "bad2: boom"}, m.told(), "a first failure is a change")
}

// Once Begin refuses (the shutdown has begun), a service without a fresh
// result fails, and no check starts.
func TestNoCheckOnceBeginRefuses(t *testing.T) {
	m := newMesh(t)
	s := &svc{name: "s", check: passes}
	m.stopping.Store(true)
	got, failing := m.failing(context.Background(), true, s)
	assert.True(t, failing)
	assert.Same(t, s, got)
	assert.Zero(t, s.calls.Load())
}
