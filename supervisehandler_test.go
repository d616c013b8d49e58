package servicemesh

// Handlers of the supervisor's events (EventServiceFailed once the policy
// gives up, EventServiceRestarting) may remove the service and add it
// again, waiting for both: the usual watchdog that restarts a failed
// service. The service added again waits for a call of its previous Serve,
// not for the whole of its previous supervisor.

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

// Guards: a supervisor event's handler may re-add its service and wait.
//
// A handler that removes the service and waits for its Add again must not
// wait for the supervisor, which emits on its own goroutine and waits for
// that handler: EventServiceFailed once the policy gives up (KeepRunning),
// or EventServiceRestarting, whose backoff the Remove ends while the
// supervisor is still inside the emit.
func TestReAddFromASupervisorHandler(t *testing.T) {
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
