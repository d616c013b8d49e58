package servicemesh

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// server's Serve does what serve says, and notes each call's time.
type server struct {
	name   string
	policy *RestartPolicy // nil: the mesh's
	serve  func(ctx context.Context, call int) error

	mu      sync.Mutex
	calls   []time.Time
	stopped atomic.Bool // OnShutdown ran
	running atomic.Bool // a Serve is running
	overlap atomic.Bool // OnShutdown ran while Serve did
}

func (s *server) Name() string { return s.name }
func (s *server) Init(Mesh)    {}
func (s *server) Serve(ctx context.Context) error {
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	n := len(s.calls)
	s.mu.Unlock()
	s.running.Store(true)
	defer s.running.Store(false)
	return s.serve(ctx, n)
}
func (s *server) OnShutdown() {
	s.overlap.Store(s.running.Load())
	s.stopped.Store(true)
}
func (s *server) callTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

// policied is a server with a policy of its own.
type policied struct{ *server }

func (p policied) RestartPolicy() RestartPolicy { return *p.policy }

var errBroken = errors.New("broken")

func failing(context.Context, int) error { return errBroken }

func untilStopped(ctx context.Context, _ int) error {
	<-ctx.Done()
	return ctx.Err()
}

// A failing Serve is restarted after a backoff that doubles, up to its
// ceiling; after MaxRestarts within the window the mesh gives up: the
// service fails, and the mesh keeps running only if the policy says so.
func TestServeRestartsWithBackoffThenGivesUp(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "KeepRunning", false: "fail fast"}[keep], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				p := RestartPolicy{MaxRestarts: 3, Backoff: 100 * time.Millisecond, MaxBackoff: 250 * time.Millisecond,
					Window: time.Minute, Jitter: -1, KeepRunning: keep}
				s := &server{name: "srv", policy: &p, serve: failing}
				var restarting atomic.Int32
				m.Add(&onRestart{fn: func() { restarting.Add(1) }}).Wait()
				start := time.Now()
				m.Add(policied{s}).Wait()
				time.Sleep(time.Minute)
				synctest.Wait()

				var at []time.Duration
				for _, c := range s.callTimes() {
					at = append(at, c.Sub(start))
				}
				assert.Equal(t, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 550 * time.Millisecond}, at,
					"backoff 100, 200, then capped at 250 ms")
				assert.Equal(t, int32(3), restarting.Load(), "EventServiceRestarting told each restart")
				st := Status(m).Services[1]
				// Failed for good, whether the mesh runs on or shut down
				// (fail fast): a failure is sticky.
				assert.Equal(t, StateFailed, st.State)
				assert.Equal(t, 3, st.Restarts)
				assert.Contains(t, st.Error, "gave up after 3 restarts")
				assert.Equal(t, !keep, isClosed(m.down), "the mesh shut down unless KeepRunning")
				m.Shutdown().Wait()
				assert.ErrorIs(t, m.failed(), errBroken)
				var se *ServiceError
				require.ErrorAs(t, m.failed(), &se)
				assert.Equal(t, "serve", se.Op)
			})
		})
	}
}

type onRestart struct{ fn func() }

func (o *onRestart) Name() string                       { return "on restart" }
func (o *onRestart) Init(Mesh)                          {}
func (o *onRestart) OnServiceRestarting(Service, error) { o.fn() }

// How Serve ends decides what follows.
func TestServeEndings(t *testing.T) {
	tests := []struct {
		name     string
		serve    func(ctx context.Context, call int) error
		calls    int
		state    State
		down     bool  // the mesh shut down
		failedIs error // nil: no failure
	}{
		{"nil ends it", func(context.Context, int) error { return nil }, 1, StateStopped, false, nil},
		{"ErrDoNotRestart", func(context.Context, int) error { return errors.Join(errBroken, ErrDoNotRestart) }, 1, StateFailed, true, ErrDoNotRestart}, // fails for good: fail fast
		{"ErrShutdownMesh", func(context.Context, int) error { return ErrShutdownMesh }, 1, StateStopped, true, ErrShutdownMesh},                        // stopped by the shutdown it asked for
		{"a panic restarts it", func(ctx context.Context, call int) error {
			if call == 1 {
				panic("serve boom")
			}
			return untilStopped(ctx, call)
		}, 2, StateRunning, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				s := &server{name: "srv", serve: tc.serve}
				m.Add(s).Wait()
				time.Sleep(time.Minute)
				synctest.Wait()
				assert.Len(t, s.callTimes(), tc.calls)
				assert.Equal(t, tc.state, Status(m).Services[0].State)
				assert.Equal(t, tc.down, isClosed(m.down))
				m.Shutdown().Wait()
				if tc.failedIs == nil {
					assert.NoError(t, m.failed())
				} else {
					assert.ErrorIs(t, m.failed(), tc.failedIs)
				}
			})
		})
	}
}

// A service whose Serve ended, or failed for good, still gets its
// OnShutdown at shutdown.
func TestEndedServeIsStillStopped(t *testing.T) {
	for _, serve := range []func(context.Context, int) error{
		func(context.Context, int) error { return nil },
		func(context.Context, int) error { return ErrDoNotRestart },
	} {
		synctest.Test(t, func(t *testing.T) {
			m := quietMesh(t)
			s := &server{name: "srv", serve: serve}
			m.Add(s).Wait()
			synctest.Wait()
			m.Shutdown().Wait()
			assert.True(t, s.stopped.Load(), "OnShutdown ran")
		})
	}
}

// At its turn to stop, a service's Serve context ends and Serve returns
// before its OnShutdown; no restart follows.
func TestServeStopsBeforeOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &server{name: "srv", serve: untilStopped}
		m.Add(s).Wait()
		synctest.Wait()
		m.Shutdown().Wait()
		assert.True(t, s.stopped.Load())
		assert.False(t, s.overlap.Load(), "OnShutdown ran after Serve returned")
		assert.Len(t, s.callTimes(), 1, "no restart")
		assert.NoError(t, m.failed())
	})
}

// A Serve that ignores its context is bounded by the shutdown's budget and
// named as a stop that timed out.
func TestServeIgnoringItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetShutdownTimeout(m, 2*time.Second))
		release := make(chan struct{})
		s := &server{name: "deaf", serve: func(context.Context, int) error {
			<-release
			return nil
		}}
		m.Add(s).Wait()
		start := time.Now()
		m.Shutdown().Wait()
		// Its stop is left at the budget; its goroutine is waited for no
		// longer than the grace.
		assert.Equal(t, 2*time.Second+200*time.Millisecond, time.Since(start))
		assert.ErrorIs(t, m.failed(), ErrStopTimeout)
		close(release)
		synctest.Wait()
	})
}

// A Serve that removes or shuts down its own mesh: no deadlock, no restart.
func TestServeCallingRemoveOrShutdownOnItself(t *testing.T) {
	for _, what := range []string{"Remove", "Shutdown"} {
		t.Run(what, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				var self Service
				s := &server{name: "srv"}
				s.serve = func(ctx context.Context, call int) error {
					if call == 1 {
						if what == "Remove" {
							m.Remove(self)
						} else {
							m.Shutdown()
						}
					}
					<-ctx.Done()
					return errBroken // after its context ended: not a failure
				}
				self = s
				m.Add(s).Wait()
				synctest.Wait()
				m.Shutdown().Wait()
				assert.Len(t, s.callTimes(), 1)
				assert.NoError(t, m.failed())
			})
		})
	}
}

// A failure racing with the shutdown or a removal never restarts Serve
// after its stop.
func TestRestartRacingWithShutdownAndRemove(t *testing.T) {
	for _, what := range []string{"Shutdown", "Remove"} {
		t.Run(what, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				s := &server{name: "srv", serve: failing}
				m.Add(s).Wait()
				time.Sleep(50 * time.Millisecond) // in its first backoff
				if what == "Remove" {
					m.Remove(s).Wait()
				}
				m.Shutdown().Wait()
				n := len(s.callTimes())
				time.Sleep(time.Hour)
				synctest.Wait()
				assert.Len(t, s.callTimes(), n, "no Serve after the stop")
			})
		})
	}
}

// A Serve that fails at once, for ever, costs little: the backoff holds it,
// and the default policy gives up after 5 restarts in 30 s.
func TestFailingServeUnderTheDefaultPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &server{name: "srv", serve: failing}
		m.Add(s).Wait()
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Len(t, s.callTimes(), 1+RestartPolicy{}.withDefaults().MaxRestarts)
		assert.True(t, isClosed(m.down), "gave up: fail fast")
		m.Shutdown().Wait()
	})
}

// A Serve that ran for longer than the window before it failed starts over
// with a clean count and the first backoff.
func TestServeWindowForgetsOldFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetRestartPolicy(m, RestartPolicy{MaxRestarts: 1, Window: time.Second, Jitter: -1}))
		s := &server{name: "srv", serve: func(ctx context.Context, call int) error {
			time.Sleep(2 * time.Second) // longer than the window, then it fails
			return errBroken
		}}
		m.Add(s).Wait()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		assert.Greater(t, len(s.callTimes()), 5, "each failure after a long run starts a clean count: never gave up")
		assert.False(t, isClosed(m.down))
		m.Shutdown().Wait()
	})
}

// RestartPolicy takes the documented defaults (the arithmetic, bounds and
// jitter are tested in internal/supervise); a mesh not made by New is
// refused.
func TestRestartPolicyDefaults(t *testing.T) {
	assert.Equal(t, RestartPolicy{MaxRestarts: 5, Window: 30 * time.Second, Backoff: 100 * time.Millisecond, MaxBackoff: 15 * time.Second, Jitter: 0.1},
		RestartPolicy{}.withDefaults())
	assert.Equal(t, RestartPolicy{MaxRestarts: -1, Window: 30 * time.Second, Backoff: 100 * time.Millisecond, MaxBackoff: 15 * time.Second, KeepRunning: true},
		RestartPolicy{MaxRestarts: -1, Jitter: -1, KeepRunning: true}.withDefaults())
	var foreign Mesh
	assert.False(t, SetRestartPolicy(foreign, RestartPolicy{}))
}
