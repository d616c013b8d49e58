package sched

// A mesh of the tests' own around a Scheduler: probes stand for services
// with dependencies, each waited for on a goroutine of its own, as a
// service's lifecycle does.

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	errTimeout  = errors.New("timed out")
	errCanceled = errors.New("canceled")
	errGoexit   = errors.New("ended with runtime.Goexit")
)

// probe is a service that waits until ready says so. Every attempt is
// recorded; block, when set, runs inside the attempt.
type probe struct {
	name  string
	ready func() bool
	block func(polled bool)
	gone  atomic.Bool
	// holds is the Watchers of the services its resolver holds, reported
	// on every attempt that is not a poll.
	holds []*Watchers[*probe]
	// in counts the attempts under way: never more than one.
	in, overlaps atomic.Int32

	mu       sync.Mutex
	attempts []time.Time // when each attempt began
	ended    time.Time   // when its Await returned
	fail     *Failure
}

func (p *probe) attemptsSince(t time.Time) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var after []time.Time
	for _, at := range p.attempts {
		if !at.Before(t) {
			after = append(after, at)
		}
	}
	return after
}

// harness is the tests' mesh.
type harness struct {
	s         Scheduler[*probe]
	stopping  atomic.Bool
	busy      atomic.Int64
	warnDelay atomic.Int64
	stalls    atomic.Int64
	slow      atomic.Int64
	seq       uint64
	wg        sync.WaitGroup // the waits under way
}

// newHarness returns a harness without a resolution timeout nor warnings.
func newHarness() *harness {
	h := &harness{}
	h.s.Init(Config[*probe]{
		Attempt:  h.attempt,
		Begin:    func(w *Waiter[*probe]) string { return h.canceled(w) },
		Canceled: h.canceled,
		Slow:     func(*Waiter[*probe], time.Duration, time.Duration) { h.slow.Add(1) },
		Stalled:  func() { h.stalls.Add(1) },
		BusyAdd:  func() { h.busy.Add(1) },
		BusyDone: func() { h.busy.Add(-1) },
		Resume:   func(w *Waiter[*probe], _ bool) { h.ended(w, w.Failure()) },

		WarnDelay:   &h.warnDelay,
		Epoch:       time.Now(),
		Named:       10,
		ErrTimeout:  errTimeout,
		ErrCanceled: errCanceled,
		ErrGoexit:   errGoexit,
	})
	h.s.SetTimeout(0)
	return h
}

func (h *harness) attempt(w *Waiter[*probe], polled bool) (bool, error) {
	p := w.Data
	if p.in.Add(1) > 1 {
		p.overlaps.Add(1)
	}
	defer p.in.Add(-1)
	p.mu.Lock()
	p.attempts = append(p.attempts, time.Now())
	p.mu.Unlock()
	if p.block != nil {
		p.block(polled)
	}
	if p.ready() {
		return true, nil
	}
	if !polled && p.holds != nil {
		h.s.Watch(w, p.holds)
	}
	return false, nil
}

func (h *harness) canceled(w *Waiter[*probe]) string {
	switch {
	case w.Data.gone.Load():
		return "removed"
	case h.stopping.Load():
		return "shutting down"
	}
	return ""
}

// add begins the wait of p on a goroutine of its own, which ends after the
// first attempt, and returns its record.
func (h *harness) add(p *probe) *Waiter[*probe] {
	h.seq++
	w := NewWaiter(p.name, p)
	seq := h.seq
	h.wg.Add(1)
	go func() {
		if f, ended := h.s.Await(w, seq); ended {
			h.ended(w, f)
		}
	}()
	return w
}

// ended records the end of w's resolution.
func (h *harness) ended(w *Waiter[*probe], f *Failure) {
	p := w.Data
	p.mu.Lock()
	p.ended, p.fail = time.Now(), f
	p.mu.Unlock()
	h.wg.Done()
}

// shutdown cancels every wait and waits, at most d, until they have ended
// and the scheduler's goroutine is gone; it reports whether they did.
func (h *harness) shutdown(t *testing.T, d time.Duration) bool {
	t.Helper()
	h.stopping.Store(true)
	h.s.QueueAll()
	ended := make(chan struct{})
	go func() { h.wg.Wait(); close(ended) }()
	deadline := time.After(d)
	select {
	case <-ended:
	case <-deadline:
		return false
	}
	for h.busy.Load() != 0 {
		select {
		case <-deadline:
			return false
		case <-time.After(100 * time.Microsecond):
		}
	}
	return true
}

func never() bool { return false }
