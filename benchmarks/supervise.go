package benchmarks

// Supervision (servicemesh only): what a Serve that keeps failing costs,
// while the mesh waits out its backoff and for each restart. fx, do and
// the others compared in the README have no equivalent to measure here:
// fx and do do not restart anything, and suture, which does, is not a
// dependency of this module.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// errServeFailed is what a meshFailing's Serve returns.
var errServeFailed = errors.New("serve failed (on purpose)")

// meshFailing is a service whose Serve fails at once, every time, until
// its call number stop: that call records the time, closes reached and
// serves until its context ends. With stop 0 it fails every time, and
// closes reached at call number notify.
type meshFailing struct {
	calls   atomic.Int64
	notify  int64         // the call that closes reached, when stop is 0
	stop    int64         // the call that serves instead of failing; 0: none
	reached chan struct{} // closed by call notify or stop
	first   atomic.Int64  // when the first call began, in ns since epoch
	last    atomic.Int64  // when call stop began, in ns since epoch
	epoch   time.Time
}

func newFailing(notify, stop int64) *meshFailing {
	return &meshFailing{notify: notify, stop: stop, reached: make(chan struct{}), epoch: time.Now()}
}

func (s *meshFailing) Name() string          { return "failing" }
func (s *meshFailing) Init(servicemesh.Mesh) {}

func (s *meshFailing) Serve(ctx context.Context) error {
	n := s.calls.Add(1)
	if n == 1 {
		s.first.Store(int64(time.Since(s.epoch)))
	}
	switch {
	case s.stop > 0 && n == s.stop:
		s.last.Store(int64(time.Since(s.epoch)))
		close(s.reached)
		<-ctx.Done()
		return nil
	case s.stop == 0 && n == s.notify:
		close(s.reached)
	}
	return errServeFailed
}

// backoffLimit bounds BackoffCPU's wait for the first restart.
const backoffLimit = 10 * time.Second

// BackoffResult is what BackoffCPU measures.
type BackoffResult struct {
	// CPU is the CPU time of the whole process (user+system, getrusage)
	// over the window, divided by the window's wall time.
	CPU float64
	// Calls is how many times Serve was called within the window.
	Calls int64
}

// BackoffCPU adds one service whose Serve fails at once, every time, to a
// new mesh with policy, and from the start of its first restart (its
// second Serve) measures the CPU time of the whole process over window,
// during which the mesh only waits out the backoffs and restarts Serve
// between them. It checks that the service was restarted and not given up
// on, and shuts the mesh down.
func BackoffCPU(policy servicemesh.RestartPolicy, window time.Duration) (BackoffResult, error) {
	var res BackoffResult
	s := newFailing(2, 0)
	m := newMesh("backoff")
	servicemesh.SetRestartPolicy(m, policy)
	defer func() { m.Shutdown().Wait() }()
	m.Add(s)
	select {
	case <-s.reached:
	case <-time.After(backoffLimit):
		return res, fmt.Errorf("Serve was not restarted within %v", backoffLimit)
	}
	calls0 := s.calls.Load()
	cpu0, err := processCPU()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	time.Sleep(window)
	cpu1, err := processCPU()
	wall := time.Since(t0)
	if err != nil {
		return res, err
	}
	res.CPU = float64(cpu1-cpu0) / float64(wall)
	res.Calls = s.calls.Load() - calls0 + 1 // the second call began the window
	st := servicemesh.Status(m).Services[0]
	// Between a failure and its restart the service is backing off;
	// while a call of Serve runs, running. Never failed: not given up.
	if st.State != servicemesh.StateRunning && st.State != servicemesh.StateBackingOff {
		return res, fmt.Errorf("the service is %v after %d restarts: %s", st.State, st.Restarts, st.Error)
	}
	if st.Error != errServeFailed.Error() {
		return res, fmt.Errorf("servicemesh.Status says its last error was %q", st.Error)
	}
	return res, nil
}

// restartLimit bounds RestartCost's wait for its restarts.
const restartLimit = 5 * time.Minute

// RestartCost adds one service whose Serve fails at once n times, then
// serves, to a new mesh whose policy restarts it after 1 ns every time
// (MaxRestarts large, Window 1 ns, so the count never reaches it; the
// default jitter still applies), and returns the wall time from the first
// Serve call to the last, divided by n: the time one restart takes, that
// is Serve returning, the mesh recording and logging the failure (into
// io.Discard), telling EventServiceRestarting (no handler listens), the
// 1 ns timer, and Serve being called again. It checks that Status counts
// n restarts, and shuts the mesh down.
func RestartCost(n int) (float64, error) {
	if n <= 0 {
		return 0, errors.New("no restarts")
	}
	s := newFailing(0, int64(n)+1)
	m := newMesh("restarts")
	servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{
		MaxRestarts: 1 << 30,
		Window:      time.Nanosecond,
		Backoff:     time.Nanosecond,
		MaxBackoff:  time.Nanosecond,
	})
	defer func() { m.Shutdown().Wait() }()
	m.Add(s)
	select {
	case <-s.reached:
	case <-time.After(restartLimit):
		return 0, fmt.Errorf("%d of %d restarts within %v", s.calls.Load()-1, n, restartLimit)
	}
	if got := servicemesh.Status(m).Services[0].Restarts; got != n {
		return 0, fmt.Errorf("servicemesh.Status counts %d restarts, want %d", got, n)
	}
	return float64(s.last.Load()-s.first.Load()) / float64(n), nil
}
