// Package otelmesh reports a servicemesh mesh to OpenTelemetry: the state of
// every service and of the mesh as metrics, and the mesh's start and
// shutdown as traces.
//
//	stop, err := otelmesh.Instrument(app) // the global providers
//	if err != nil {
//		return err
//	}
//	defer stop()
//
// It is built on servicemesh.Subscribe and servicemesh.Status only: it adds
// one subscriber to the mesh, with what any subscriber costs (the mesh looks
// at its readiness after each change and once a second, see
// servicemesh.Subscribe), and about half a microsecond per change on the
// subscriber's goroutine (BenchmarkHandleChange). Call stop once done with
// the mesh: until then the meter provider holds the gauges' callback, and
// with it the mesh.
//
// # Metrics
//
// All of them carry the attribute servicemesh.service (the service's name)
// but servicemesh.mesh.ready:
//
//   - servicemesh.service.state, an observable gauge, one series per service
//     and state (attribute servicemesh.state, the state's name as
//     servicemesh.State's String gives it: "added", "resolving", "starting",
//     "running", "backing off", "stopping", "stopped", "failed"): 1 for the
//     state the service is in, 0 for the seven others. Every state is
//     reported, not only the current one, as kube-state-metrics does for
//     phases and OpenMetrics does for state sets, so that a query such as
//     servicemesh_service_state{servicemesh_state="failed"} == 1 has a value
//     for every service at every scrape, and a state left does not read as a
//     series gone stale. A removed service is no longer reported.
//   - servicemesh.mesh.ready, an observable gauge: 1 while the mesh is ready
//     (servicemesh.Ready) as servicemesh.Subscribe last told it
//     (servicemesh.MeshReady), else 0.
//   - servicemesh.service.restarts, a counter: the restarts of a service's
//     Serve, counted when the restart is decided (the service enters
//     servicemesh.StateBackingOff), as Status's Restarts and
//     servicemesh.EventServiceRestarting count them.
//   - servicemesh.service.failures, a counter: the failures for good (a step
//     to servicemesh.StateFailed), with the attribute servicemesh.op, the Op
//     of the *servicemesh.ServiceError the change carries ("resolve", "init",
//     "serve" or "stop"; "unknown" if it carries none, which happens only
//     after changes were lost, see below).
//   - servicemesh.service.resolve.duration, servicemesh.service.init.duration
//     and servicemesh.service.stop.duration, histograms in seconds: how long
//     the service was resolving its dependencies, starting (its Init) and
//     stopping, recorded when it leaves that state, whatever it goes to
//     (a failure and a start cut short by the shutdown included). The time is
//     the difference of the times of the two changes.
//
// Counters count from Instrument on: restarts and failures before it are not
// counted (the state gauge shows a service already failed).
//
// # Traces
//
//   - servicemesh.start: from Instrument until the mesh is first found ready
//     (servicemesh.MeshReady) with a service in it, or until its shutdown
//     begins, whichever comes first. Its attribute servicemesh.outcome says
//     which: "ready", "shutdown", or "stopped" when stop ended it. A mesh
//     with no service is ready, vacuously: instrumenting a mesh right after
//     servicemesh.New, before its services are added, is the usual way, and
//     that readiness does not end the span.
//   - a child of it per service for each resolution and Init that is under way
//     while it is open: "resolve <name>" and "init <name>", with the attribute
//     servicemesh.service. Those of services added before Instrument are its
//     children too. A resolution or Init that begins after the start span
//     ended (a service added to a running mesh) is a root span of its own.
//   - servicemesh.shutdown: from the beginning of the shutdown
//     (servicemesh.MeshShuttingDown) until its completion
//     (servicemesh.MeshStopped), with a child "stop <name>" per service
//     stopped.
//
// Each child ends when its service leaves the state, with the attribute
// servicemesh.state naming the state it went to. A failure (a step to
// servicemesh.StateFailed) sets the status of the span of the phase that
// failed to Error, with the error's text, and records the error on it; it
// also sets servicemesh.start's, or servicemesh.shutdown's, status to Error
// while that span is open. A failure outside any phase (a Serve given up on)
// is recorded on the open servicemesh.start or servicemesh.shutdown span,
// if any. Spans take their times from the changes, not from when
// otelmesh heard of them.
//
// A phase already over when Instrument is called has no span and no
// histogram entry. A phase under way then gets its span from Instrument on
// (the start span's beginning: a child never begins before its parent), and
// its histogram entry counts its whole duration, from servicemesh.Status's
// Since. A service stopping when Instrument is called means the shutdown is
// under way: servicemesh.start ends at once and servicemesh.shutdown begins.
//
// # Identity, lost changes, stop
//
// Services are told apart by name, as in servicemesh.Status: two services
// of the same name share their series and confuse each other's spans.
//
// A subscriber that falls more than 10,000 changes behind loses changes
// (see servicemesh.Subscribe); otelmesh then reads servicemesh.Status again:
// states and restarts are caught up with, failures missed are counted with
// servicemesh.op "unknown", phases missed have no histogram entry, and
// spans of phases that ended in the gap end then.
//
// stop unregisters the gauges' callback, cancels the subscription and ends
// every open span (with servicemesh.outcome "stopped" on the start and
// shutdown spans); nothing is recorded after it returns. Counters and
// histograms the SDK had already aggregated are the SDK's: a cumulative
// reader goes on exporting their last values.
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
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/gravestench/servicemesh/otelmesh"

// Names of the instruments.
const (
	MetricServiceState    = "servicemesh.service.state"
	MetricMeshReady       = "servicemesh.mesh.ready"
	MetricServiceRestarts = "servicemesh.service.restarts"
	MetricServiceFailures = "servicemesh.service.failures"
	MetricResolveDuration = "servicemesh.service.resolve.duration"
	MetricInitDuration    = "servicemesh.service.init.duration"
	MetricStopDuration    = "servicemesh.service.stop.duration"
)

// Names of the spans that are not per service; those per service are
// "resolve <name>", "init <name>" and "stop <name>".
const (
	SpanStart    = "servicemesh.start"
	SpanShutdown = "servicemesh.shutdown"
)

// Attribute keys.
const (
	AttrService = attribute.Key("servicemesh.service") // a service's name
	AttrState   = attribute.Key("servicemesh.state")   // a state's name, such as "running"
	AttrOp      = attribute.Key("servicemesh.op")      // a ServiceError's Op
	AttrOutcome = attribute.Key("servicemesh.outcome") // how servicemesh.start or servicemesh.shutdown ended
	AttrMesh    = attribute.Key("servicemesh.mesh")    // the mesh's name, on servicemesh.start and servicemesh.shutdown
)

// Errors Instrument returns, wrapped with what it found.
var (
	// ErrNotAMesh: the Mesh is nil or was not made by servicemesh.New.
	ErrNotAMesh = errors.New("otelmesh: not a mesh made by servicemesh.New")
	// ErrAlreadyInstrumented: the mesh is instrumented already, and that
	// instrumentation has not been stopped.
	ErrAlreadyInstrumented = errors.New("otelmesh: mesh already instrumented")
	// ErrMeshStopped: the mesh's shutdown has completed; nothing will change
	// any more.
	ErrMeshStopped = errors.New("otelmesh: mesh has stopped")
)

// Option configures Instrument.
type Option func(*config)

type config struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// WithMeterProvider makes Instrument record metrics through mp instead of
// the global meter provider (otel.GetMeterProvider). nil keeps the global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider makes Instrument record spans through tp instead of the
// global tracer provider (otel.GetTracerProvider). nil keeps the global one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// instrumented holds the meshes instrumented and not stopped, for
// ErrAlreadyInstrumented.
var instrumented sync.Map // servicemesh.Mesh → *recorder

// reported are the states servicemesh.service.state reports, in order: all
// but StateRemoved, for a removed service is no longer reported.
var reported = [...]servicemesh.State{
	servicemesh.StateAdded, servicemesh.StateResolving, servicemesh.StateStarting,
	servicemesh.StateRunning, servicemesh.StateBackingOff, servicemesh.StateStopping,
	servicemesh.StateStopped, servicemesh.StateFailed,
}

// durationBounds are the histograms' buckets, in seconds: from 100 µs (an
// Init that does nothing) to a minute (a slow migration, a stop deadline).
var durationBounds = []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Instrument reports m to OpenTelemetry (see the package's documentation)
// until stop is called. stop may be called more than once, and from any
// goroutine; once it has returned nothing more is recorded.
//
// Instrument returns an error, wrapping ErrNotAMesh, for a nil Mesh or one
// not made by servicemesh.New: it tells them by servicemesh.Status, which
// reports the zero Report, with no name, for such a Mesh, while a mesh made
// by New always has a name ("Service Mesh" when given none). It returns one
// wrapping ErrAlreadyInstrumented when m is instrumented already (stop that
// first), one wrapping ErrMeshStopped when m's shutdown has completed, and
// any error of the meter provider in creating the instruments.
func Instrument(m servicemesh.Mesh, opts ...Option) (stop func(), err error) {
	if m == nil {
		return nil, fmt.Errorf("%w: the Mesh is nil", ErrNotAMesh)
	}
	if servicemesh.Status(m).Name == "" {
		return nil, fmt.Errorf("%w: servicemesh.Status reports no name for this %T, so it is not one servicemesh.New made", ErrNotAMesh, m)
	}
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	r := &recorder{mesh: m, services: make(map[string]*service)}
	if _, loaded := instrumented.LoadOrStore(m, r); loaded {
		return nil, fmt.Errorf("%w: %q: call the stop function of its instrumentation first", ErrAlreadyInstrumented, servicemesh.Status(m).Name)
	}
	if err := r.instruments(cfg.mp.Meter(ScopeName)); err != nil {
		instrumented.CompareAndDelete(m, r)
		return nil, fmt.Errorf("otelmesh: creating the instruments: %w", err)
	}
	r.tracer = cfg.tp.Tracer(ScopeName)

	r.mu.Lock()
	r.began = time.Now()
	r.cancel = servicemesh.Subscribe(m, r.handle) // waits for mu until the snapshot is in
	rep := servicemesh.Status(m)                  // after Subscribe: every later change reaches handle
	if rep.Stopped {
		r.mu.Unlock()
		r.stop()
		return nil, fmt.Errorf("%w: %q", ErrMeshStopped, rep.Name)
	}
	r.name = rep.Name
	r.start = r.rootSpan(SpanStart, r.began)
	r.meshState = servicemesh.MeshNotReady
	if rep.Ready {
		r.meshState = servicemesh.MeshReady
	}
	for _, ss := range rep.Services {
		if ss.State == servicemesh.StateStopping && r.shutdown.span == nil {
			// Only a shutdown stops services: it is under way.
			r.endRoot(&r.start, r.began, "shutdown")
			r.shutdown = r.rootSpan(SpanShutdown, r.began)
		}
	}
	for _, ss := range rep.Services {
		r.adopt(ss)
	}
	r.mu.Unlock()

	reg, err := r.meter.RegisterCallback(r.observe, r.stateGauge, r.readyGauge)
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("otelmesh: registering the gauges' callback: %w", err)
	}
	r.mu.Lock()
	r.reg = reg
	r.mu.Unlock()
	return r.stop, nil
}

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
