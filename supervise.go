package servicemesh

// Supervision: a service's Serve, run by the mesh after its Init on a
// goroutine of its own (counted in busy), restarted with backoff when it
// fails (the count and the backoff are internal/supervise's Restarts),
// stopped in the service's turn (shutdown.go) or when it is removed. A
// service's serveState is guarded by its own mutex; the restart loop's
// state is its goroutine's alone.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gravestench/servicemesh/internal/supervise"
)

// HasServe is implemented by long-running services. After Init returned,
// the mesh runs Serve on a goroutine of its own; ctx ends when the service's
// turn to stop comes (before its OnShutdown) or when it is removed, and the
// shutdown waits for Serve to return, within its budget.
//
// Serve returning nil ends the service (StateStopped), without restart. An
// error, or a panic, while ctx is live restarts it after a backoff (see
// RestartPolicy), the service StateBackingOff meanwhile; an error wrapping
// ErrDoNotRestart, or a Serve that ends with runtime.Goexit, fails it for
// good; one wrapping ErrShutdownMesh stops it and shuts the whole mesh
// down, and RunContext returns it. When the policy gives up, or the
// service fails for good otherwise, it is StateFailed, EventServiceFailed
// tells why, and the mesh shuts down with the error unless the policy
// says KeepRunning. What Serve returns once its context has ended is not a
// failure, nor is anything Serve does once its service was removed.
// RestartPolicy is asked once, at Add.
type HasServe interface {
	Service
	Serve(ctx context.Context) error
}

// HasRestartPolicy is implemented by services that want a restart policy of
// their own instead of the mesh's (SetRestartPolicy). RestartPolicy is
// called once, when the service is added; a policy that can never give up
// is reported at level Warn then.
type HasRestartPolicy interface {
	Service
	RestartPolicy() RestartPolicy
}

// ErrDoNotRestart ends the service without a restart when an error Serve
// returns wraps it: it fails for good (StateFailed, EventServiceFailed),
// and the mesh fails fast unless it is kept running (KeepRunning).
var ErrDoNotRestart = errors.New("do not restart")

// ErrShutdownMesh shuts the whole mesh down when an error Serve returns
// wraps it: the service is StateStopped (it asked, it did not fail: no
// EventServiceFailed), and RunContext returns the error.
var ErrShutdownMesh = errors.New("shut the mesh down")

// serveState is the Serve of one service.
type serveState struct {
	mu      sync.Mutex // guards the fields below
	cancel  context.CancelFunc
	done    chan struct{} // closed when the supervisor has ended
	started bool          // the supervisor was started
	ended   bool          // its stop, or removal, began: no Serve starts
	// serving is set while a call of Serve runs: from the start of the
	// supervisor, or of a restart, to the return of that call. What the
	// supervisor does after (report, emit, back off) is not waited for by
	// a service added again, whose handlers may well be the ones that
	// removed and added it (see serveReturned).
	serving bool
}

// startServe starts e's supervisor, unless its stop or removal, or the
// shutdown, began: no Serve starts once the shutdown began (DESIGN §8).
// Called by e's lifecycle goroutine once its Init returned and it is
// running.
func (m *mesh) startServe(e *entry, s HasServe) {
	st := e.serve
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended || e.gone.Load() || m.stopping.Load() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.cancel, st.done, st.started, st.serving = cancel, make(chan struct{}), true, true
	m.busy.Add(1)
	go m.supervise(ctx, e, s, st.done)
}

// serveRunning reports whether a call of e's Serve runs. Remove calls it
// after setting gone, under registry.mu, for e's retirement; with
// serveReturned's handshake (serving cleared, then gone read), either this
// sees the call over or serveReturned sees the removal, and no call begins
// once gone is set (serveAgain).
func (e *entry) serveRunning() bool {
	st := e.serve
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.serving
}

// serveReturned notes that a call of e's Serve has returned: a service
// added again after e's removal is not set up while that call still runs.
// Called by the supervisor before it reports or emits anything.
func (m *mesh) serveReturned(e *entry) {
	st := e.serve
	st.mu.Lock()
	st.serving = false
	st.mu.Unlock()
	// Remove sets gone and then, under the registry's lock, reads serving
	// (serveRunning); this clears serving and then reads gone. If Remove
	// saw the call running, this sees gone.
	if e.gone.Load() {
		m.reg.ServeOver(&e.node)
	}
}

// serveAgain reports whether e's Serve may be restarted, and notes the
// call as running: not once e was removed or its stop began.
func (e *entry) serveAgain() bool {
	st := e.serve
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended || e.gone.Load() {
		return false
	}
	st.serving = true
	return true
}

// endServe cancels e's Serve and returns a channel closed once it has
// ended (already closed if it never ran). Called for its stop and its
// removal; no Serve starts after.
func (e *entry) endServe() <-chan struct{} {
	st := e.serve
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended = true
	if !st.started {
		c := make(chan struct{})
		close(c)
		return c
	}
	st.cancel()
	return st.done
}

// policyFor returns the restart policy of e: its own, read at Add, or the
// mesh's.
func (m *mesh) policyFor(e *entry) RestartPolicy {
	if e.policy != nil {
		return *e.policy
	}
	if p := m.restartPolicy.Load(); p != nil {
		return p.withDefaults()
	}
	return RestartPolicy{}.withDefaults()
}

// supervise runs s.Serve until ctx ends, it ends the service, or the policy
// gives up.
func (m *mesh) supervise(ctx context.Context, e *entry, s HasServe, done chan struct{}) {
	defer m.busyDone()
	defer close(done)
	returned := true // whether the last call of Serve returned
	defer func() {
		if !returned {
			// Serve ended with runtime.Goexit: this goroutine ends once
			// the deferred calls have run. Its call is over, so that a
			// later Add of the service is not held back, and unless its
			// stop or removal ended it, it failed for good.
			m.serveReturned(e)
			if ctx.Err() == nil {
				m.fail(e, "serve", errGoexit)
			}
		}
	}()
	restarts := supervise.NewRestarts(supervise.Policy(m.policyFor(e)))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		began := time.Now()
		var err error
		returned = false
		if perr := m.guard(e.name, "Serve", func() { err = s.Serve(ctx) }); perr != nil {
			err = perr
		}
		returned = true
		m.serveReturned(e)
		if ctx.Err() != nil {
			return // its stop or removal: whatever it returned is the end
		}
		switch {
		case err == nil:
			m.logger.Info("service ended: Serve returned", "subject", e.name)
			m.stepFrom(e, StateStopped, StateRunning)
			return
		case errors.Is(err, ErrShutdownMesh):
			m.shutdownAsked(e, err)
			return
		case errors.Is(err, ErrDoNotRestart):
			m.fail(e, "serve", err)
			return
		}
		e.setError(err)
		now := time.Now()
		if restarts.Failed(began, now) {
			m.fail(e, "serve", restarts.GiveUpError(err)) // fail fast unless KeepRunning (failures.go)
			return
		}
		if m.stopping.Load() || !m.stepErr(e, StateBackingOff, err) {
			return // removed, or its stop began, meanwhile
		}
		wait := restarts.Restart(now)
		e.restarts.Add(1)
		m.logger.Warn("Serve failed; restarting after a backoff", "subject", e.name, "error", err,
			"restarts", e.restarts.Load(), "backoff", wait)
		m.emit(EventServiceRestarting, e.svc, err)
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		case <-m.down:
			return // no Serve starts once the shutdown began
		}
		if m.stopping.Load() || !m.stepFrom(e, StateRunning, StateBackingOff) || !e.serveAgain() {
			return // removed, or its stop began, meanwhile
		}
	}
}
