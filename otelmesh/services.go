package otelmesh

import (
	"context"
	"time"

	"github.com/gravestench/servicemesh"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The services the recorder knows, and catching up with Status after
// changes were lost.

// newService starts tracking a service in state, since then.
func (r *recorder) newService(name string, state servicemesh.State, since time.Time, restarts int) *service {
	s := &service{
		name: name, state: state, since: since, restarts: restarts,
		attrs: metric.WithAttributeSet(attribute.NewSet(AttrService.String(name))),
	}
	if !settled(state) {
		r.unsettled++
	}
	r.services[name] = s
	return s
}

// adopt starts tracking a service as a snapshot reports it, opening the
// span of the phase it is in.
func (r *recorder) adopt(ss servicemesh.ServiceStatus) *service {
	if ss.State == servicemesh.StateRemoved {
		return nil
	}
	s := r.newService(ss.Name, ss.State, ss.Since, ss.Restarts)
	switch ss.State {
	case servicemesh.StateResolving:
		r.beginPhase(s, "resolve ", &r.start, ss.Since)
	case servicemesh.StateStarting:
		r.beginPhase(s, "init ", &r.start, ss.Since)
	case servicemesh.StateStopping:
		r.beginPhase(s, "stop ", &r.shutdown, ss.Since)
	}
	return s
}

// catchUp brings what is known in line with servicemesh.Status after
// changes were lost.
func (r *recorder) catchUp() {
	rep := servicemesh.Status(r.mesh)
	now := time.Now()
	listed := make(map[string]bool, len(rep.Services))
	for _, ss := range rep.Services {
		if ss.State == servicemesh.StateRemoved {
			continue
		}
		listed[ss.Name] = true
		s := r.services[ss.Name]
		if s == nil { // added in the gap: all it did is news
			s = r.adopt(ss)
			s.restarts = 0
			if ss.State == servicemesh.StateFailed {
				r.failures.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(AttrService.String(s.name), AttrOp.String("unknown"))))
			}
		}
		if n := ss.Restarts - s.restarts; n > 0 {
			r.restarts.Add(context.Background(), int64(n), s.attrs)
			s.restarts = ss.Restarts
		}
		if s.state == ss.State {
			continue
		}
		if ss.State == servicemesh.StateFailed {
			r.failures.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(AttrService.String(s.name), AttrOp.String("unknown"))))
		}
		r.endPhase(s, ss.Since, ss.State, nil)
		r.setState(s, ss.State, ss.Since)
		switch ss.State {
		case servicemesh.StateResolving:
			r.beginPhase(s, "resolve ", &r.start, ss.Since)
		case servicemesh.StateStarting:
			r.beginPhase(s, "init ", &r.start, ss.Since)
		case servicemesh.StateStopping:
			r.beginPhase(s, "stop ", &r.shutdown, ss.Since)
		}
	}
	for name, s := range r.services {
		if !listed[name] {
			r.endPhase(s, now, servicemesh.StateRemoved, nil)
			r.forget(s)
		}
	}
	if rep.Ready && r.meshState == servicemesh.MeshNotReady {
		r.meshChanged(servicemesh.Change{Time: now, Mesh: servicemesh.MeshReady})
	} else if !rep.Ready && r.meshState == servicemesh.MeshReady {
		r.meshState = servicemesh.MeshNotReady
	}
}
