package servicemesh

// A service removed and added again (DESIGN §3, Remove): the new lifecycle
// sets the service up only once the previous one is over, its Serve
// included, and a re-add at shutdown never hangs it nor sets it up. The
// black-box re-add tests are in readdorder_test.go; a re-add from a
// handler of the supervisor's events, in supervisehandler_test.go.

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// windDown serves until its context ends, then takes until release is
// closed to return. It counts its Inits and notes whether one began while
// a Serve ran.
type windDown struct {
	release  chan struct{}
	serving  chan struct{} // closed when the first Serve began
	once     sync.Once
	inits    atomic.Int32
	running  atomic.Int32 // Serves running
	overlaps atomic.Int32 // Inits begun while a Serve ran
}

func (s *windDown) Name() string { return "wind-down" }
func (s *windDown) Init(Mesh) {
	if s.running.Load() > 0 {
		s.overlaps.Add(1)
	}
	s.inits.Add(1)
}
func (s *windDown) Serve(ctx context.Context) error {
	s.running.Add(1)
	defer s.running.Add(-1)
	s.once.Do(func() { close(s.serving) })
	<-ctx.Done()
	<-s.release
	return nil
}

// Guards: a service added again is set up only once its previous Serve returned.
//
// A service added again after its removal is set up only once the Serve
// of its previous lifecycle has returned, not while that Serve still winds
// down after the removal ended its context.
func TestReAddWaitsForPreviousServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &windDown{release: make(chan struct{}), serving: make(chan struct{})}
		require.True(t, waitDone(m.Add(s), time.Second))
		<-s.serving
		require.True(t, waitDone(m.Remove(s), time.Second), "Remove does not wait for Serve")

		again := m.Add(s)
		synctest.Wait() // everything that can run without the old Serve has run
		assert.Equal(t, int32(1), s.inits.Load(), "set up again while the previous Serve still runs")

		close(s.release)
		require.True(t, waitDone(again, time.Second))
		assert.Equal(t, int32(2), s.inits.Load())
		assert.Zero(t, s.overlaps.Load(), "an Init began while a Serve ran")
		require.True(t, waitDone(m.Shutdown(), time.Second))
	})
}

// longInit's first Init runs until release is closed. It counts its set-ups
// (SetLogger) and Inits.
type longInit struct {
	release chan struct{}
	setups  atomic.Int32
	inits   atomic.Int32
}

func (s *longInit) Name() string           { return "long init" }
func (s *longInit) SetLogger(*slog.Logger) { s.setups.Add(1) }
func (s *longInit) Logger() *slog.Logger   { return nil }
func (s *longInit) Init(Mesh) {
	if s.inits.Add(1) == 1 {
		<-s.release
	}
}

// Guards: re-adds chained behind a long Init never set the service up at shutdown.
//
// Removed and added again twice during one long Init, then shut down: the
// middle lifecycle ends at the shutdown without waiting for the Init, and
// the last one must not take that for the end of every lifecycle before it
// and set the service up. Go picks between ready channels at random, so
// the scenario runs many times.
func TestReAddChainAtShutdownNeverSetsUp(t *testing.T) {
	for range 30 {
		synctest.Test(t, func(t *testing.T) {
			m := quietMesh(t)
			s := &longInit{release: make(chan struct{})}
			m.Add(s)
			synctest.Wait() // in its first Init
			m.Remove(s)
			m.Add(s)
			m.Remove(s)
			last := m.Add(s)
			done := m.Shutdown()
			require.True(t, waitDone(last, time.Second), "the last Add is done at shutdown")
			synctest.Wait()
			assert.Equal(t, int32(1), s.setups.Load(), "set up again after shutdown began, while the first Init ran")
			assert.Equal(t, int32(1), s.inits.Load())
			close(s.release)
			require.True(t, waitDone(done, time.Second))
			synctest.Wait()
			assert.Zero(t, m.pending.Load(), "lifecycles cut short by the shutdown left pending counted")
		})
	}
}

// Guards: a re-add waiting on a hung previous Serve lets Shutdown end in budget.
//
// The previous Serve (windDown) ignores its ended context: the re-added
// service waits, and Shutdown still completes within its budget, the Add's
// WaitGroup done and the service never set up again.
func TestReAddBehindAHungServeShutsDownWithinBudget(t *testing.T) {
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
		assert.LessOrEqual(t, time.Since(began), 2*time.Second+timing.MaxStopGrace)
		assert.True(t, waitDone(again, time.Second), "the Add again is done after shutdown")
		assert.Equal(t, int32(1), s.inits.Load())
		close(s.release)
		synctest.Wait()
	})
}

// servesUntilEnd serves until end is closed or its context ends.
type servesUntilEnd struct {
	serving chan struct{}
	end     chan struct{}
	inits   atomic.Int32
}

func (s *servesUntilEnd) Name() string { return "rh ends" }
func (s *servesUntilEnd) Init(Mesh)    { s.inits.Add(1) }
func (s *servesUntilEnd) Serve(ctx context.Context) error {
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

// Guards: a re-add completes when the previous Serve ends as it is removed.
//
// Serve returning on its own at the same moment as the
// Remove (the retirement handshake), many times: the Add again always
// completes once the previous Serve is over.
func TestReAddWhenServeEndsRacingRemove(t *testing.T) {
	for i := range 300 {
		m := quietMesh(t)
		s := &servesUntilEnd{serving: make(chan struct{}, 1), end: make(chan struct{})}
		require.True(t, waitDone(m.Add(s), time.Second))
		<-s.serving
		go close(s.end)
		m.Remove(s)
		again := m.Add(s)
		require.True(t, waitDone(again, 5*time.Second), "iteration %d: the Add again never completed", i)
		require.True(t, waitDone(m.Shutdown(), 5*time.Second))
	}
}

// Guards: a re-add after a Serve that ended first, or in a chain, sets up once.
//
// The previous Serve over before the Remove, or removed twice in a chain.
func TestReAddServeEdgeCases(t *testing.T) {
	t.Run("ended before remove", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := quietMesh(t)
			s := &servesUntilEnd{serving: make(chan struct{}, 1), end: make(chan struct{})}
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
