package readiness

// Looking at a mesh until it is ready: the wait between two looks, the
// watcher's wake-up, and the service looked at first.

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Backoff is the wait between two looks at a mesh that is not ready yet:
// timing.ReadyPollMin first, then doubling up to timing.ReadyPollMax, so
// that readiness that arrives unannounced is noticed within ReadyPollMax at
// little cost. Its zero value starts at ReadyPollMin. It is not safe for
// concurrent use: each waiter has its own.
type Backoff struct{ wait time.Duration }

// Next returns the wait before the next look: ReadyPollMin the first time
// and after Reset, then twice the last, at most ReadyPollMax.
func (b *Backoff) Next() time.Duration {
	if b.wait == 0 {
		b.wait = timing.ReadyPollMin
	} else {
		b.wait = min(2*b.wait, timing.ReadyPollMax)
	}
	return b.wait
}

// Reset makes Next start again from ReadyPollMin.
func (b *Backoff) Reset() { b.wait = 0 }

// Watcher is the state of a mesh's readiness watcher, the one goroutine
// that looks at the mesh until it is first ready: whether it was started,
// and its wake-up. Its zero value is a watcher not started. It is safe for
// concurrent use; Watch runs on one goroutine.
type Watcher struct {
	started atomic.Bool
	// wake pokes Watch (cap 1, made once by wakeOnce).
	wakeOnce sync.Once
	wake     chan struct{}
}

// Start reports whether the caller is to start the watcher's goroutine:
// true the first time only.
func (w *Watcher) Start() bool { return w.started.CompareAndSwap(false, true) }

// Wake has Watch look again at once, and back off again from ReadyPollMin.
// It never blocks; wake-ups before Watch looks again are one.
func (w *Watcher) Wake() {
	select {
	case w.wakeCh() <- struct{}{}:
	default:
	}
}

func (w *Watcher) wakeCh() chan struct{} {
	w.wakeOnce.Do(func() { w.wake = make(chan struct{}, 1) })
	return w.wake
}

// Watch calls done, waiting between two calls as Backoff says, until done
// reports true or down is closed. A Wake makes it call done again at once,
// and start the backoff over.
func (w *Watcher) Watch(down <-chan struct{}, done func() bool) {
	wake := w.wakeCh()
	t := time.NewTimer(timing.ReadyPollMin)
	defer t.Stop()
	var b Backoff
	for !done() {
		t.Reset(b.Next())
		select {
		case <-down:
			return
		case <-wake:
			b.Reset()
		case <-t.C:
		}
	}
}

// Blocker remembers the service that kept the mesh from being ready when
// it was last looked at, so that the next look begins with it, alone:
// while it still blocks, the answer costs the same with ten services as
// with a hundred thousand, and the watcher and the probes of a mesh that is
// not ready do not scan every service again and again. Its zero value
// remembers none. It is safe for concurrent use.
type Blocker[E any] struct{ e atomic.Pointer[E] }

// Set remembers e as the one that blocked.
func (b *Blocker[E]) Set(e *E) { b.e.Store(e) }

// Blocks reports whether the service remembered still blocks, as blocks
// says of it; if none is remembered, or it no longer blocks, it forgets it
// (unless another was remembered meanwhile) and reports false: the caller
// looks at every service.
func (b *Blocker[E]) Blocks(blocks func(e *E) bool) bool {
	e := b.e.Load()
	if e == nil {
		return false
	}
	if blocks(e) {
		return true
	}
	b.e.CompareAndSwap(e, nil)
	return false
}
