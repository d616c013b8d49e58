package servicemesh

// Health checks (Status): a service's HealthCheck is called at most once at
// a time. The other health-check tests are in status_test.go.

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// hangingCheck's HealthCheck hangs until release is closed or its context
// ends, and notes the most calls it had in flight at once.
type hangingCheck struct {
	release        chan struct{}
	inFlight, most atomic.Int32
}

func (s *hangingCheck) Name() string { return "checked" }
func (s *hangingCheck) Init(Mesh)    {}
func (s *hangingCheck) HealthCheck(ctx context.Context) error {
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

// Guards: one HealthCheck in flight per service, even across its re-add.
//
// "never more than one call in flight per service": the probe was kept per
// entry, so a service removed and added again while its check hung got a
// second concurrent HealthCheck.
func TestOneHealthCheckInFlightAcrossReAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		s := &hangingCheck{release: make(chan struct{})}
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
