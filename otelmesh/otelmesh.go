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
	"fmt"
	"time"

	"github.com/gravestench/servicemesh"
	"go.opentelemetry.io/otel"
)

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
