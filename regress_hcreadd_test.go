package servicemesh

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type r3Checked struct {
	release        chan struct{}
	inFlight, most atomic.Int32
}

func (s *r3Checked) Name() string { return "checked" }
func (s *r3Checked) Init(Mesh)    {}
func (s *r3Checked) HealthCheck(ctx context.Context) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if n > s.most.Load() {
		s.most.Store(n)
	}
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return nil
}

// "never more than one call in flight per service": the probe is kept per
// entry, so a service removed and added again while its check hangs gets
// a second concurrent HealthCheck.
func TestOneHealthCheckInFlightAcrossReAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &r3Checked{release: make(chan struct{})}
		m.Add(s).Wait()
		_ = Status(m) // starts a check, not waited for
		time.Sleep(10 * time.Millisecond)
		m.Remove(s).Wait()
		m.Add(s).Wait()
		_ = Status(m)
		time.Sleep(10 * time.Millisecond)
		most := s.most.Load()
		close(s.release)
		m.Shutdown().Wait()
		if most > 1 {
			t.Errorf("%d HealthCheck calls of one service in flight at once", most)
		}
	})
}
