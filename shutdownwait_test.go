package servicemesh_test

// What a shutdown waits for, and until when (DESIGN §3, Shutdown; §5,
// Deadlines), through the public API: the tails of lifecycles whose Inits
// it settled, and the deadline of the budget in force. Both run in a
// testing/synctest bubble, so the waits cost no real time. The shutdown
// tests that need the package's internals are in shutdown_test.go and
// deadline_test.go.

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tailLooper runs its loop inside Init until OnShutdown ends it; Init then
// takes tailCleanup to clean up before it returns, so that it returns while
// shutdown waits for it to settle.
type tailLooper struct {
	running chan struct{} // closed when Init begins
	quit    chan struct{} // closed by OnShutdown
}

const tailCleanup = 30 * time.Millisecond

func (s *tailLooper) Name() string { return "looper" }
func (s *tailLooper) Init(servicemesh.Mesh) {
	close(s.running)
	<-s.quit
	time.Sleep(tailCleanup) // fake time: the cleanup after the loop
}
func (s *tailLooper) OnShutdown() { close(s.quit) }

// tailWatcher's handler of EventServiceInitialized takes tailHandler for the
// looper: the tail of the looper's lifecycle, after its Init returned.
type tailWatcher struct {
	began, ended atomic.Bool
}

const tailHandler = 200 * time.Millisecond

func (w *tailWatcher) Name() string          { return "watcher" }
func (w *tailWatcher) Init(servicemesh.Mesh) {}
func (w *tailWatcher) OnServiceInitialized(s servicemesh.Service) {
	if s.Name() != "looper" {
		return
	}
	w.began.Store(true)
	time.Sleep(tailHandler) // fake time
	w.ended.Store(true)
}

// Guards: shutdown waits for the rest of the lifecycle of an Init it settled.
//
// Design §3, Shutdown: once shutdown's WaitGroup is done no goroutine the
// mesh started runs service code, except an Init left behind. The looper's
// Init returns while shutdown settles the Inits its stops ended, so its
// lifecycle goes on to EventServiceInitialized, whose handlers shutdown
// must wait for. Shutdown once completed while they ran: settleInits ended
// as soon as the Init returned, and nothing waited for the rest of that
// lifecycle.
func TestShutdownWaitsForLifecycleTailsOfSettledInits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMesh(t)
		w := &tailWatcher{}
		require.True(t, waitTimeout(t, m.Add(w), bound, "the watcher's Add"))
		l := &tailLooper{running: make(chan struct{}), quit: make(chan struct{})}
		added := m.Add(l)
		require.True(t, waitChan(t, l.running, bound, "the looper's Init began"))

		start := time.Now()
		require.True(t, waitTimeout(t, m.Shutdown(), time.Minute, "shutdown"))
		took := time.Since(start)

		assert.True(t, w.began.Load(), "the looper's EventServiceInitialized was delivered before shutdown completed")
		assert.True(t, w.ended.Load(),
			"shutdown completed after %v while the looper's lifecycle still ran its EventServiceInitialized handlers", took)
		assert.Equal(t, tailCleanup+tailHandler, took, "shutdown ends once the handlers have returned")
		require.True(t, waitTimeout(t, added, bound, "the looper's Add"))
	})
}

// tailHung's OnShutdown hangs until release is closed.
type tailHung struct{ release chan struct{} }

func (s *tailHung) Name() string          { return "hung" }
func (s *tailHung) Init(servicemesh.Mesh) {}
func (s *tailHung) OnShutdown()           { <-s.release }

// Guards: a shutdown budget set to none and back midway still ends it in time.
//
// Design §5, Deadlines: a budget set during a shutdown applies to it at
// once; so does a budget of none (the shutdown waits for as long as it
// takes) and then the first budget again. That budget was once lost: the
// stop clock stopped its timer but kept its due time, so the timer was
// never armed again.
func TestShutdownDeadlineSurvivesBudgetNoneAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 300 * time.Millisecond
		m := newTestMesh(t)
		require.True(t, servicemesh.SetShutdownTimeout(m, budget))
		h := &tailHung{release: make(chan struct{})}
		defer close(h.release)
		require.True(t, waitTimeout(t, m.Add(h), bound, "Add"))

		start := time.Now()
		done := doneChan(m.Shutdown())
		time.Sleep(budget / 6) // fake time: shutdown waits on the hung OnShutdown
		synctest.Wait()
		require.True(t, servicemesh.SetShutdownTimeout(m, 0))
		time.Sleep(budget / 6) // shutdown has seen that there is no budget
		synctest.Wait()
		require.False(t, isDone(done), "no shutdown deadline has passed yet")
		require.True(t, servicemesh.SetShutdownTimeout(m, budget))

		if waitChan(t, done, time.Hour, "shutdown with the budget set again") {
			assert.Equal(t, budget, time.Since(start), "the shutdown ends at the deadline of the budget set again")
		}
	})
}
