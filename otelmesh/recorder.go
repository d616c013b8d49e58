package otelmesh

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gravestench/servicemesh"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The recorder of one instrumented mesh: its instruments, the gauges' callback and its stop.

// recorder is one instrumentation of one mesh.
type recorder struct {
	mesh   servicemesh.Mesh
	meter  metric.Meter
	tracer trace.Tracer

	stateGauge, readyGauge       metric.Int64ObservableGauge
	restarts, failures           metric.Int64Counter
	resolveDur, initDur, stopDur metric.Float64Histogram
	stopOnce                     sync.Once
	cancel                       func() // the subscription's
	began                        time.Time

	// mu guards what follows. Nothing waits under it but servicemesh.Status
	// (in Instrument and a catch-up), and no service code runs under it
	// but what Status runs (HasReadiness's Ready).
	mu sync.Mutex
	// stopped is set by stop: nothing is recorded from then on.
	stopped   bool
	reg       metric.Registration
	name      string
	services  map[string]*service
	unsettled int // how many of services are neither running nor stopped
	meshState servicemesh.MeshState
	// vacuous is set while the mesh is ready as told when it had no
	// service (see checkVacuous).
	vacuous     bool
	recheck     *time.Timer // checkVacuous's, once needed
	recheckWait time.Duration
	// start and shutdown are the root spans, each while open.
	start, shutdown root
}

// root is servicemesh.start or servicemesh.shutdown while open.
type root struct {
	span trace.Span      // nil once ended, or before begun
	ctx  context.Context // carries span, for its children
	at   time.Time       // when it began
}

// service is what is known of one service.
type service struct {
	name  string
	state servicemesh.State
	since time.Time // when it entered state; zero if unknown
	// span is the span of the phase (resolve, init, stop) it is in, or nil.
	span   trace.Span
	spanAt time.Time // when span began
	// inRoot is the root span that is span's parent, if any.
	inRoot *root
	// restarts counts the restarts known of it, for a catch-up after
	// changes were lost.
	restarts int
	attrs    metric.MeasurementOption // servicemesh.service
	// stateAttrs are servicemesh.service and servicemesh.state for each of
	// reported, made on the first collection.
	stateAttrs []metric.ObserveOption
}

func (r *recorder) instruments(meter metric.Meter) error {
	r.meter = meter
	var errs [7]error
	r.stateGauge, errs[0] = meter.Int64ObservableGauge(MetricServiceState,
		metric.WithDescription("1 for the state the service is in, 0 for every other state (attributes servicemesh.service, servicemesh.state)"))
	r.readyGauge, errs[1] = meter.Int64ObservableGauge(MetricMeshReady,
		metric.WithDescription("1 while the mesh is ready, else 0"))
	r.restarts, errs[2] = meter.Int64Counter(MetricServiceRestarts, metric.WithUnit("{restart}"),
		metric.WithDescription("Restarts of the service's Serve after it failed"))
	r.failures, errs[3] = meter.Int64Counter(MetricServiceFailures, metric.WithUnit("{failure}"),
		metric.WithDescription("Failures for good of the service, by operation (servicemesh.op)"))
	hist := func(name, what string) (metric.Float64Histogram, error) {
		return meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(what),
			metric.WithExplicitBucketBoundaries(durationBounds...))
	}
	r.resolveDur, errs[4] = hist(MetricResolveDuration, "How long the service's dependency resolution took")
	r.initDur, errs[5] = hist(MetricInitDuration, "How long the service's Init took")
	r.stopDur, errs[6] = hist(MetricStopDuration, "How long the service's stop took")
	return errors.Join(errs[:]...)
}

// stop ends the instrumentation, once.
func (r *recorder) stop() {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopped = true
		reg := r.reg
		now := time.Now()
		for _, s := range r.services {
			r.endPhase(s, now, s.state, nil)
		}
		r.endRoot(&r.start, now, "stopped")
		r.endRoot(&r.shutdown, now, "stopped")
		if r.recheck != nil {
			r.recheck.Stop() // one running finds stopped set
		}
		r.mu.Unlock()
		r.cancel() // a call of handle under way finds stopped set
		if reg != nil {
			if err := reg.Unregister(); err != nil {
				otel.Handle(fmt.Errorf("otelmesh: unregistering the gauges' callback: %w", err))
			}
		}
		instrumented.CompareAndDelete(r.mesh, r)
	})
}

// observe is the gauges' callback.
func (r *recorder) observe(_ context.Context, o metric.Observer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil
	}
	for _, s := range r.services {
		if s.stateAttrs == nil {
			s.stateAttrs = make([]metric.ObserveOption, len(reported))
			for i, st := range reported {
				s.stateAttrs[i] = metric.WithAttributeSet(attribute.NewSet(AttrService.String(s.name), AttrState.String(st.String())))
			}
		}
		for i, st := range reported {
			var v int64
			if st == s.state {
				v = 1
			}
			o.ObserveInt64(r.stateGauge, v, s.stateAttrs[i])
		}
	}
	var ready int64
	if r.meshState == servicemesh.MeshReady {
		ready = 1
	}
	o.ObserveInt64(r.readyGauge, ready)
	return nil
}
