package servicemesh

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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

// A service added again after its removal is set up only once the Serve
// of its previous lifecycle has returned, not while that Serve still winds
// down after the removal ended its context.
func TestRegressReaddWaitsForPreviousServe(t *testing.T) {
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

// Removed and added again twice during one long Init, then shut down: the
// middle lifecycle ends at the shutdown without waiting for the Init, and
// the last one must not take that for the end of every lifecycle before it
// and set the service up. Go picks between ready channels at random, so
// the scenario runs many times.
func TestRegressReaddChainAtShutdownNeverSetsUp(t *testing.T) {
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
