package otelmesh

import (
	"context"
	"time"

	"github.com/gravestench/servicemesh"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Spans: the start and shutdown spans and a child per service's phase.

// rootSpan begins servicemesh.start or servicemesh.shutdown at at.
func (r *recorder) rootSpan(name string, at time.Time) root {
	ctx, span := r.tracer.Start(context.Background(), name, trace.WithTimestamp(at),
		trace.WithNewRoot(), trace.WithAttributes(AttrMesh.String(r.name)))
	return root{span: span, ctx: ctx, at: at}
}

// endRoot ends rt, if open, at at, with outcome.
func (r *recorder) endRoot(rt *root, at time.Time, outcome string) {
	if rt.span == nil {
		return
	}
	rt.span.SetAttributes(AttrOutcome.String(outcome))
	rt.span.End(trace.WithTimestamp(later(at, rt.at)))
	rt.span, rt.ctx = nil, nil
}

// failRoot sets the open root span's status to Error, and records err on it
// if record.
func (r *recorder) failRoot(err error, record bool) {
	for _, rt := range []*root{&r.start, &r.shutdown} {
		if rt.span == nil {
			continue
		}
		if record {
			rt.span.RecordError(err)
		}
		rt.span.SetStatus(codes.Error, err.Error())
	}
}

// beginPhase opens s's span named verb+name at at, a child of parent while
// it is open (and then not before it), else a root span of its own.
func (r *recorder) beginPhase(s *service, verb string, parent *root, at time.Time) {
	ctx, opts := context.Background(), []trace.SpanStartOption{trace.WithNewRoot()}
	s.inRoot = nil
	if parent.span != nil {
		ctx, opts = parent.ctx, nil
		at = later(at, parent.at)
		s.inRoot = parent
	}
	opts = append(opts, trace.WithTimestamp(at), trace.WithAttributes(AttrService.String(s.name)))
	_, s.span = r.tracer.Start(ctx, verb+s.name, opts...)
	s.spanAt = at
}

// endPhase ends s's open span at at (not before it began), as s goes to
// the state to; err, if not nil, is why it failed, which its root span
// hears of too while open.
func (r *recorder) endPhase(s *service, at time.Time, to servicemesh.State, err error) {
	if s.span == nil {
		return
	}
	at = later(at, s.spanAt)
	if err != nil {
		s.span.RecordError(err, trace.WithTimestamp(at))
		s.span.SetStatus(codes.Error, err.Error())
		if s.inRoot != nil && s.inRoot.span != nil {
			s.inRoot.span.SetStatus(codes.Error, s.name+": "+err.Error())
		}
	}
	s.span.SetAttributes(AttrState.String(to.String()))
	s.span.End(trace.WithTimestamp(at))
	s.span, s.inRoot = nil, nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}
