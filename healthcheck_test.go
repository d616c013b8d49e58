package servicemesh

// Health checks (Status): a service's HealthCheck is called at most once at
// a time. The other health-check tests are in status_test.go.

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
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
//
// Nor when readiness is asked for between the Remove and the Add: that
// pruned the probes of removed services, the one in flight included.
func TestOneHealthCheckInFlightAcrossReAdd(t *testing.T) {
	for _, between := range []bool{false, true} {
		t.Run(map[bool]string{false: "at once", true: "asked between"}[between], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				other := &stReady{name: "other"} // probed: readiness prunes the probes
				other.ready.Store(true)
				m.Add(other).Wait()
				s := &hangingCheck{release: make(chan struct{})}
				m.Add(s).Wait()
				_ = Status(m) // starts a check, not waited for
				time.Sleep(10 * time.Millisecond)
				m.Remove(s).Wait()
				if between {
					_ = Status(m)
					_ = Ready(m)
				}
				m.Add(s).Wait()
				_ = Status(m)
				time.Sleep(10 * time.Millisecond)
				most := s.most.Load()
				close(s.release)
				m.Shutdown().Wait()
				assert.LessOrEqual(t, most, int32(1), "HealthCheck calls of one service in flight at once")
			})
		})
	}
}
