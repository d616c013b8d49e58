package otelmesh

import (
	"errors"
	"sync"

	"github.com/gravestench/servicemesh"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The names Instrument reports under, and its options.

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
