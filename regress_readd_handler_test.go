package servicemesh

// A service added again waits for a call of its previous Serve, not for
// the whole of its previous supervisor.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rhFlaky's first Serve fails; later ones serve until their context ends.
type rhFlaky struct {
	policy RestartPolicy
	calls  atomic.Int32
}

func (s *rhFlaky) Name() string                 { return "rh flaky" }
func (s *rhFlaky) Init(Mesh)                    {}
func (s *rhFlaky) RestartPolicy() RestartPolicy { return s.policy }
func (s *rhFlaky) Serve(ctx context.Context) error {
	if s.calls.Add(1) == 1 {
		return errors.New("boom")
	}
	<-ctx.Done()
	return nil
}

// rhWatchdog restarts the target, once, by removing it and adding it again
// from a handler of EventServiceFailed or EventServiceRestarting, and waits
// for the Add: the usual "restart a failed service" pattern. It is not the
// target, nor a handler of the target's EventServiceRemoved.
type rhWatchdog struct {
	m       Mesh
	target  Service
	taken   atomic.Bool
	readded chan struct{}
}

func (w *rhWatchdog) Name() string { return "rh watchdog" }
func (w *rhWatchdog) Init(Mesh)    {}
func (w *rhWatchdog) restart(s Service) {
	if s != w.target || !w.taken.CompareAndSwap(false, true) {
		return
	}
	w.m.Remove(s).Wait()
	w.m.Add(s).Wait()
	close(w.readded)
}

type rhFailedWatchdog struct{ rhWatchdog }

func (w *rhFailedWatchdog) OnServiceFailed(s Service, _ error) { w.restart(s) }

type rhRestartingWatchdog struct{ rhWatchdog }

func (w *rhRestartingWatchdog) OnServiceRestarting(s Service, _ error) { w.restart(s) }

func rhClosed(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// A handler that removes the service and waits for its Add again must not
// wait for the supervisor, which emits on its own goroutine and waits for
// that handler: EventServiceFailed once the policy gives up (KeepRunning),
// or EventServiceRestarting, whose backoff the Remove ends while the
// supervisor is still inside the emit.
func TestRegressReaddFromSupervisorHandler(t *testing.T) {
	for _, c := range []struct {
		event  string
		policy RestartPolicy
		newDog func(m Mesh, target Service, readded chan struct{}) Service
	}{
		{EventServiceFailed, RestartPolicy{MaxRestarts: -1, KeepRunning: true},
			func(m Mesh, target Service, readded chan struct{}) Service {
				return &rhFailedWatchdog{rhWatchdog{m: m, target: target, readded: readded}}
			}},
		{EventServiceRestarting, RestartPolicy{MaxRestarts: 5, KeepRunning: true},
			func(m Mesh, target Service, readded chan struct{}) Service {
				return &rhRestartingWatchdog{rhWatchdog{m: m, target: target, readded: readded}}
			}},
	} {
		t.Run(c.event, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				s := &rhFlaky{policy: c.policy}
				readded := make(chan struct{})
				require.True(t, waitDone(m.Add(c.newDog(m, s, readded)), time.Second))
				m.Add(s)
				assert.True(t, rhClosed(readded, time.Minute),
					"a handler of %s waits for ever on the Add of the service it restarts", c.event)
				require.True(t, waitDone(m.Shutdown(), time.Minute))
			})
		})
	}
}

// The previous Serve (windDown, regress_readd_serve_test.go) ignores its
// ended context: the re-added service waits, and Shutdown still completes
// within its budget, the Add's WaitGroup done and the service never set up
// again.
func TestRegressReaddHungPreviousServeShutdownWithinBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		SetShutdownTimeout(m, 2*time.Second)
		s := &windDown{serving: make(chan struct{}), release: make(chan struct{})}
		require.True(t, waitDone(m.Add(s), time.Second))
		<-s.serving
		require.True(t, waitDone(m.Remove(s), time.Second))
		again := m.Add(s)
		assert.False(t, waitDone(again, time.Hour), "set up while the previous Serve runs")
		began := time.Now()
		require.True(t, waitDone(m.Shutdown(), time.Minute))
		assert.LessOrEqual(t, time.Since(began), 2*time.Second+maxStopGrace)
		assert.True(t, waitDone(again, time.Second), "the Add again is done after shutdown")
		assert.Equal(t, int32(1), s.inits.Load())
		close(s.release)
		synctest.Wait()
	})
}

// rhEnds serves until end is closed or its context ends.
type rhEnds struct {
	serving chan struct{}
	end     chan struct{}
	inits   atomic.Int32
}

func (s *rhEnds) Name() string { return "rh ends" }
func (s *rhEnds) Init(Mesh)    { s.inits.Add(1) }
func (s *rhEnds) Serve(ctx context.Context) error {
	select {
	case s.serving <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
	case <-s.end:
	}
	return nil
}

// Serve returning on its own at the same moment as the
// Remove (the retirement handshake), many times: the Add again always
// completes once the previous Serve is over.
func TestRegressReaddServeEndRacingRemove(t *testing.T) {
	for i := range 300 {
		m := quietMesh(t)
		s := &rhEnds{serving: make(chan struct{}, 1), end: make(chan struct{})}
		require.True(t, waitDone(m.Add(s), time.Second))
		<-s.serving
		go close(s.end)
		m.Remove(s)
		again := m.Add(s)
		require.True(t, waitDone(again, 5*time.Second), "iteration %d: the Add again never completed", i)
		require.True(t, waitDone(m.Shutdown(), 5*time.Second))
	}
}

// previous Serve over before the Remove, never started
// (removed during Init), or removed twice in a chain.
func TestRegressReaddServeEdges(t *testing.T) {
	t.Run("ended before remove", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := quietMesh(t)
			s := &rhEnds{serving: make(chan struct{}, 1), end: make(chan struct{})}
			require.True(t, waitDone(m.Add(s), time.Second))
			<-s.serving
			close(s.end)
			synctest.Wait()
			require.True(t, waitDone(m.Remove(s), time.Second))
			require.True(t, waitDone(m.Add(s), time.Second))
			assert.Equal(t, int32(2), s.inits.Load())
			require.True(t, waitDone(m.Shutdown(), time.Minute))
		})
	})
	t.Run("chain with serve", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := quietMesh(t)
			s := &windDown{serving: make(chan struct{}), release: make(chan struct{})}
			require.True(t, waitDone(m.Add(s), time.Second))
			<-s.serving
			m.Remove(s)
			m.Add(s)
			m.Remove(s)
			last := m.Add(s)
			synctest.Wait()
			assert.Equal(t, int32(1), s.inits.Load())
			close(s.release)
			require.True(t, waitDone(last, time.Second))
			assert.Equal(t, int32(2), s.inits.Load())
			require.True(t, waitDone(m.Shutdown(), time.Minute))
		})
	})
}
