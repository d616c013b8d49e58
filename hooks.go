package servicemesh

// Context-aware hooks, the database/sql/driver way: a service keeps the
// legacy Init and OnShutdown the Service contract requires, and may also
// implement a context variant, which the mesh then calls instead. The start
// timeout is kept here too.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// HasInitContext is implemented by services whose start can fail or take
// long. InitContext is called instead of Init. Its context ends when the
// start timeout passes (SetStartTimeout) or when shutdown begins. A non-nil
// error, a panic, or a start timeout makes the service StateFailed: it is
// not stopped, resolvers no longer see it, EventServiceFailed tells why,
// and RunContext returns it.
type HasInitContext interface {
	Service
	InitContext(ctx context.Context, mesh Mesh) error
}

// HasShutdownContext is implemented by services whose stop can fail or take
// long. OnShutdownContext is called instead of OnShutdown; its context ends
// when the shutdown's budget runs out (SetShutdownTimeout). A non-nil error
// or a panic is reported and returned by RunContext.
type HasShutdownContext interface {
	Service
	OnShutdownContext(ctx context.Context) error
}

// SetStartTimeout sets how long one service's Init, or InitContext, may run
// (default: no limit, as in the original). Past it the service is
// StateFailed with an error wrapping ErrStartTimeout and its Add WaitGroup is
// done; an InitContext sees its context end, a legacy Init is left running
// (and named when the shutdown completes). It applies to Inits that begin
// after the call. It reports false, doing nothing, when m was not made by
// New.
func SetStartTimeout(m Mesh, d time.Duration) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.startTimeout.Store(int64(d))
	return true
}

// callInit calls e's InitContext or Init, bounded by the start timeout. It
// reports whether the service started (it returned normally, without an
// error, within the timeout) and, if not, the failure to record, which the
// caller records once it is counted in busy again: nil for a start that
// timed out (already recorded) or that shutdown canceled (routine).
func (m *mesh) callInit(e *entry) (started bool, failure error) {
	ic, withCtx := e.svc.(HasInitContext)
	d := time.Duration(m.startTimeout.Load())
	// A context only for those that use it: a legacy Init without a start
	// timeout, the common case, costs none.
	ctx, cancel := m.ctx, context.CancelFunc(func() {})
	if withCtx || d > 0 {
		ctx, cancel = context.WithCancel(m.ctx)
	}
	defer cancel()
	if d > 0 {
		t := time.AfterFunc(d, func() {
			if !e.startOver.CompareAndSwap(false, true) {
				return
			}
			m.busy.Add(1) // before looking at stopping: see waitBusy
			defer m.busyDone()
			// Failed before its context ends: an InitContext that returns
			// at once must not find its start merely cut short.
			var se *ServiceError
			if !m.stopping.Load() {
				e.startFailed.Store(true)
				se = m.record(e, "init", fmt.Errorf("%w after %v", ErrStartTimeout, d))
			}
			cancel()
			if se != nil {
				m.announce(e, se)
			}
			e.addDone() // its start is over: its Add's wait is over
		})
		e.startTimer.Store(t) // the shutdown stops it if this Init is left behind
		defer t.Stop()
	}
	var err error
	if withCtx {
		if perr := m.guard(e.name, "InitContext", func() { err = ic.InitContext(ctx, m) }); perr != nil {
			err = perr
		}
	} else {
		err = m.guard(e.name, "Init", func() { e.svc.Init(m) })
	}
	if !e.startOver.CompareAndSwap(false, true) {
		return false, nil // timed out: already recorded
	}
	switch {
	case err == nil:
		return true, nil
	case withCtx && m.stopping.Load() && ctx.Err() != nil && !errors.Is(err, ErrServicePanicked):
		// The shutdown ended its context: a start cut short, whatever
		// InitContext returned, is no failure (DESIGN §8).
		m.debug("start cut short by the shutdown", "subject", e.name, "error", err.Error())
		return false, nil
	}
	return false, err
}

// callStop calls e's OnShutdownContext or OnShutdown with ctx, which carries
// the stop's deadline, and records a failure.
func (m *mesh) callStop(ctx context.Context, e *entry) {
	var err error
	if sc, ok := e.svc.(HasShutdownContext); ok {
		if perr := m.guard(e.name, "OnShutdownContext", func() { err = sc.OnShutdownContext(ctx) }); perr != nil {
			err = perr
		}
	} else {
		err = m.guard(e.name, "OnShutdown", e.svc.(HasGracefulShutdown).OnShutdown)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		m.stopTimedOut(e) // the budget did run out: the failure the deadline reports
	default:
		m.fail(e, "stop", err) // its own error, even one that says "context canceled"
	}
}

// stopTimedOut records, once, that e's stop did not end within the
// shutdown's budget: e fails for good. The handlers of EventServiceFailed
// are told on a goroutine counted in tells, so that the stop of the
// others goes on meanwhile; the shutdown waits for them (waitTells) before
// it completes.
func (m *mesh) stopTimedOut(e *entry) {
	if !e.stopOver.CompareAndSwap(false, true) {
		return
	}
	se := m.record(e, "stop", ErrStopTimeout)
	if se == nil {
		return
	}
	m.tells.Add(1)
	go func() {
		defer func() {
			if m.tells.Add(-1) == 0 {
				poke(m.idleWake)
			}
		}()
		m.emit(EventServiceFailed, e.svc, se)
	}()
}

// waitTells waits, at most timing.TellBound, until the handlers of the
// EventServiceFailed told by stopTimedOut have run, so that Shutdown's
// WaitGroup is done after they were told. A handler still running then is
// named at Error and left behind.
func (m *mesh) waitTells() {
	if m.tells.Load() == 0 {
		return
	}
	t := time.NewTimer(timing.TellBound)
	defer t.Stop()
	for m.tells.Load() > 0 {
		select {
		case <-m.idleWake:
		case <-t.C:
			m.abandoned.Store(m.emitting.Load())
			m.abandonedBusy.Store(m.busy.Load())
			m.logger.Error("shutdown leaves behind handlers of EventServiceFailed that have not returned", "waited", timing.TellBound)
			return
		}
	}
}
