package otelmesh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gravestench/servicemesh"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// What each Change from Subscribe does to the recorder: states, counters,
// histograms and spans.

// handle is the subscriber: it is called with each change, in order, on one
// goroutine.
func (r *recorder) handle(c servicemesh.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	switch {
	case c.Service == "" && c.Err != nil && errors.Is(c.Err, servicemesh.ErrChangesLost):
		r.catchUp()
	case c.Service == "":
		r.meshChanged(c)
	default:
		r.serviceChanged(c)
	}
}

func (r *recorder) meshChanged(c servicemesh.Change) {
	r.meshState = c.Mesh
	switch c.Mesh {
	case servicemesh.MeshReady:
		if len(r.services) > 0 {
			r.endRoot(&r.start, c.Time, "ready")
		} else {
			r.vacuous = true // an empty mesh is ready, vacuously
		}
	case servicemesh.MeshNotReady:
		r.vacuous = false
	case servicemesh.MeshShuttingDown:
		r.endRoot(&r.start, c.Time, "shutdown")
		if r.shutdown.span == nil {
			r.shutdown = r.rootSpan(SpanShutdown, c.Time)
		}
	case servicemesh.MeshStopped:
		// Nothing changes any more: what is open ends now.
		r.endRoot(&r.start, c.Time, "shutdown")
		for _, s := range r.services {
			r.endPhase(s, c.Time, s.state, nil)
		}
		r.endRoot(&r.shutdown, c.Time, "stopped")
	}
}

func (r *recorder) serviceChanged(c servicemesh.Change) {
	s := r.services[c.Service]
	switch {
	case s == nil:
		if c.To == servicemesh.StateRemoved {
			return
		}
		s = r.newService(c.Service, c.From, time.Time{}, 0)
	case c.From != s.state || c.Time.Before(s.since):
		// Told by the snapshot Instrument (or a catch-up) took already.
		return
	}
	r.leave(s, c)
	r.setState(s, c.To, c.Time)
	r.enter(s, c)
	if c.To == servicemesh.StateRemoved {
		r.forget(s)
	}
	r.checkVacuous(c.Time)
}

// checkVacuous ends the start span, at at, when the mesh was told ready
// while it had no service and its services have all come to run since
// without its being told not ready in between: it is ready now, and no
// change will say so, for the same state is not told twice. While it is
// not quite (an EventServiceInitialized handler still running, a Ready
// still false) it looks again after 1 ms, backing off to every 50 ms: the
// mesh tells it not ready within a second if it stays so, which ends the
// looking.
func (r *recorder) checkVacuous(at time.Time) {
	if !r.vacuous || r.unsettled > 0 || len(r.services) == 0 || r.start.span == nil {
		r.recheckWait = 0
		return
	}
	if servicemesh.Status(r.mesh).Ready {
		r.endRoot(&r.start, at, "ready")
		r.recheckWait = 0
		return
	}
	r.recheckWait = min(max(2*r.recheckWait, time.Millisecond), 50*time.Millisecond)
	if r.recheck == nil {
		r.recheck = time.AfterFunc(r.recheckWait, r.recheckNow)
	} else {
		r.recheck.Reset(r.recheckWait)
	}
}

// recheckNow is checkVacuous on its timer.
func (r *recorder) recheckNow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped {
		r.checkVacuous(time.Now())
	}
}

// settled reports whether a service in state st lets the mesh be ready.
func settled(st servicemesh.State) bool {
	return st == servicemesh.StateRunning || st == servicemesh.StateStopped
}

// setState moves s to st, since at, keeping unsettled.
func (r *recorder) setState(s *service, st servicemesh.State, at time.Time) {
	if settled(s.state) && !settled(st) {
		r.unsettled++
	} else if !settled(s.state) && settled(st) {
		r.unsettled--
	}
	s.state, s.since = st, at
}

// forget stops tracking s.
func (r *recorder) forget(s *service) {
	if !settled(s.state) {
		r.unsettled--
	}
	delete(r.services, s.name)
}

// leave records the end of the phase s is in, as c takes it out.
func (r *recorder) leave(s *service, c servicemesh.Change) {
	var h metric.Float64Histogram
	switch s.state {
	case servicemesh.StateResolving:
		h = r.resolveDur
	case servicemesh.StateStarting:
		h = r.initDur
	case servicemesh.StateStopping:
		h = r.stopDur
	default:
		return
	}
	if !s.since.IsZero() {
		h.Record(context.Background(), max(c.Time.Sub(s.since), 0).Seconds(), s.attrs)
	}
	var err error
	if c.To == servicemesh.StateFailed {
		err = c.Err
		if err == nil {
			err = errors.New("failed")
		}
	}
	r.endPhase(s, c.Time, c.To, err)
}

// enter begins what c, just taken by s, begins.
func (r *recorder) enter(s *service, c servicemesh.Change) {
	switch c.To {
	case servicemesh.StateResolving:
		r.beginPhase(s, "resolve ", &r.start, c.Time)
	case servicemesh.StateStarting:
		r.beginPhase(s, "init ", &r.start, c.Time)
	case servicemesh.StateStopping:
		r.beginPhase(s, "stop ", &r.shutdown, c.Time)
	case servicemesh.StateBackingOff:
		s.restarts++
		r.restarts.Add(context.Background(), 1, s.attrs)
	case servicemesh.StateFailed:
		op := "unknown"
		var se *servicemesh.ServiceError
		if errors.As(c.Err, &se) && se.Op != "" {
			op = se.Op
		}
		r.failures.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(AttrService.String(s.name), AttrOp.String(op))))
		if c.From != servicemesh.StateResolving && c.From != servicemesh.StateStarting && c.From != servicemesh.StateStopping {
			// No phase failed: a Serve given up on, or one that failed at
			// once. The open root span hears of it.
			err := c.Err
			if err == nil {
				err = errors.New("failed")
			}
			r.failRoot(fmt.Errorf("%s: %w", s.name, err), true)
		}
	}
}
