package servicemesh

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordedStop notes when its OnShutdown ran.
type recordedStop struct {
	name    string
	stopped time.Time
}

func (r *recordedStop) Name() string { return r.name }
func (r *recordedStop) Init(Mesh)    {}
func (r *recordedStop) OnShutdown()  { r.stopped = time.Now() }

// A hung OnShutdown is named at Error when the budget passes; the service it
// depends on (whose Init began before) is stopped anyway, and the shutdown
// completes, at the deadline.
func TestShutdownDeadline(t *testing.T) {
	tests := []struct {
		name   string
		budget time.Duration // 0: left at the default
		want   time.Duration // how long the shutdown takes
	}{
		{"default 25s", 0, timing.ShutdownTimeout},
		{"set to 2s", 2 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := New("deadline").(*mesh)
				var logs syncBuffer
				m.SetLogDestination(&logs)
				if tc.budget != 0 {
					require.True(t, SetShutdownTimeout(m, tc.budget))
				}
				db := &recordedStop{name: "db"}
				m.Add(db).Wait()
				hung := &stuck{where: "OnShutdown", release: make(chan struct{})}
				m.Add(&holder{stuck: hung, holds: db}).Wait() // stopped before db, which it holds

				start := time.Now()
				m.Shutdown().Wait()
				assert.Equal(t, tc.want, time.Since(start))
				assert.Equal(t, tc.want, db.stopped.Sub(start), "the dependency is stopped once the hung stop is left behind")
				assert.Contains(t, logs.String(), `level=ERROR msg="shutdown deadline passed: leaving behind OnShutdown calls that have not returned`)
				assert.Contains(t, logs.String(), "stuck-OnShutdown")
				close(hung.release)
			})
		})
	}
}

// Without a budget the shutdown waits for a hung OnShutdown for as long as
// it takes; a budget set meanwhile applies to the shutdown under way.
func TestShutdownDeadlineNoneAndChangedMidway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetShutdownTimeout(m, 0))
		hung := &stuck{where: "OnShutdown", release: make(chan struct{})}
		m.Add(hung).Wait()
		start := time.Now()
		done := m.Shutdown()
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.False(t, isClosed(m.finished), "no budget: still waiting after an hour")

		require.True(t, SetShutdownTimeout(m, time.Minute)) // already passed
		done.Wait()
		assert.Equal(t, time.Hour, time.Since(start), "ends at once: nothing is left to stop in the grace")
		close(hung.release)
	})
}

// The remaining services are still stopped after the budget, within the
// grace; one that hangs as well is left behind at the end of the grace.
func TestShutdownGraceAfterTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetShutdownTimeout(m, 5*time.Second))
		first := &stuck{where: "OnShutdown", release: make(chan struct{})}
		m.Add(first).Wait()
		second := &stuck{where: "OnShutdown", release: make(chan struct{})}
		m.Add(&holder{stuck: second, holds: first}).Wait() // first stops after it
		start := time.Now()
		m.Shutdown().Wait()
		assert.Equal(t, 5*time.Second+500*time.Millisecond, time.Since(start), "budget, then a tenth of it as grace")
		close(first.release)
		close(second.release)
	})
}

// holder is a stuck service that holds another, so the mesh stops it first.
type holder struct {
	*stuck
	holds Service
}

// hangingHandler blocks in the handler of the event named by on.
type hangingHandler struct {
	on      string
	release chan struct{}
}

func (h *hangingHandler) Name() string { return "hanging handler" }
func (h *hangingHandler) Init(Mesh)    {}
func (h *hangingHandler) OnServiceMeshShutdownInitiated() {
	if h.on == EventRuntimeShutdownInitiated {
		<-h.release
	}
}
func (h *hangingHandler) OnServiceAdded(s Service) {
	if h.on == EventServiceAdded && s.Name() == "late" {
		<-h.release
	}
}

// Handlers that hang, of the shutdown event or of a lifecycle still on its
// way to Init, are bounded by the budget too.
func TestShutdownDeadlineBoundsHungHandlers(t *testing.T) {
	for _, on := range []string{EventRuntimeShutdownInitiated, EventServiceAdded} {
		t.Run(on, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := New("handlers").(*mesh)
				var logs syncBuffer
				m.SetLogDestination(&logs)
				require.True(t, SetShutdownTimeout(m, 3*time.Second))
				h := &hangingHandler{on: on, release: make(chan struct{})}
				m.Add(h).Wait()
				late := m.Add(&plainSvc{name: "late"})
				synctest.Wait()
				start := time.Now()
				m.Shutdown().Wait()
				assert.Equal(t, 3*time.Second, time.Since(start))
				assert.Contains(t, logs.String(), "level=ERROR")
				close(h.release)
				late.Wait()
			})
		})
	}
}

func TestSetShutdownTimeoutOnAnotherMesh(t *testing.T) {
	var m Mesh
	assert.False(t, SetShutdownTimeout(m, time.Second))
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// chainLeaf is held by chainMid, which chainTop holds; the stops of mid and
// top take as long as they are told.
type chainLeaf struct{ stopped atomic.Bool }

func (s *chainLeaf) Name() string { return "leaf" }
func (s *chainLeaf) Init(Mesh)    {}
func (s *chainLeaf) OnShutdown()  { s.stopped.Store(true) }

type chainMid struct {
	leaf    *chainLeaf
	took    time.Duration
	stopped atomic.Bool
}

func (s *chainMid) Name() string { return "mid" }
func (s *chainMid) Init(m Mesh)  { s.leaf, _ = Find[*chainLeaf](m.Services()) }
func (s *chainMid) OnShutdown()  { time.Sleep(s.took); s.stopped.Store(true) }

type chainTop struct {
	mid  *chainMid
	took time.Duration
}

func (s *chainTop) Name() string { return "top" }
func (s *chainTop) Init(m Mesh)  { s.mid, _ = Find[*chainMid](m.Services()) }
func (s *chainTop) OnShutdown()  { time.Sleep(s.took) }

// Guards: a stop abandoned at the deadline that returns in the grace ends once.
//
// A stop abandoned at the deadline that returned during the grace was
// finished twice: left was lowered twice and the oldest service of the
// chain was never stopped.
func TestAbandonedStopIsFinishedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		SetShutdownTimeout(m, time.Second) // grace: 100 ms
		leaf := &chainLeaf{}
		mid := &chainMid{took: 50 * time.Millisecond}
		top := &chainTop{took: time.Second + 20*time.Millisecond}
		m.Add(leaf).Wait()
		m.Add(mid).Wait()
		m.Add(top).Wait()
		m.Shutdown().Wait()
		if !mid.stopped.Load() {
			t.Fatalf("mid was not stopped")
		}
		if !leaf.stopped.Load() {
			t.Errorf("leaf's OnShutdown was never called: the abandoned stop of top was finished twice")
		}
		synctest.Wait()
	})
}

type slowStarter struct{ release chan struct{} }

func (s *slowStarter) Name() string { return "slowinit" }
func (s *slowStarter) Init(Mesh)    { <-s.release }

// Guards: the start timeout of an Init left behind does nothing after shutdown.
//
// The start-timeout timer of a legacy Init left running was not disarmed
// by the shutdown: it fired after the shutdown completed, ran the mesh's
// code on a new goroutine, recorded a failure and told EventServiceFailed
// after Shutdown's WaitGroup was done.
func TestStartTimeoutDoesNothingAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		SetStartTimeout(m, 300*time.Millisecond)
		var after atomic.Bool
		var finished atomic.Bool
		m.Events().On(EventServiceFailed, func(args ...any) {
			if finished.Load() && len(args) > 1 && errors.Is(args[1].(error), ErrStartTimeout) {
				after.Store(true)
			}
		})
		s := &slowStarter{release: make(chan struct{})}
		m.Add(s)
		time.Sleep(10 * time.Millisecond)
		m.Shutdown().Wait()
		finished.Store(true)
		before := m.failed()
		time.Sleep(time.Second)
		close(s.release)
		synctest.Wait()
		if after.Load() {
			t.Errorf("EventServiceFailed (start timeout) told after the shutdown completed; failures before: %v, after: %v; state %v",
				before, m.failed(), Status(m).Services[0].State)
		}
	})
}
