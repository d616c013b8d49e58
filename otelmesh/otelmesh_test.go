package otelmesh_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/otelmesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Services whose hooks the test chooses.

type plain struct {
	name    string
	initCtx func(ctx context.Context) error // nil: nothing
}

func (s *plain) Name() string          { return s.name }
func (s *plain) Init(servicemesh.Mesh) {}
func (s *plain) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	if s.initCtx == nil {
		return nil
	}
	return s.initCtx(ctx)
}

// server is a service with a Serve, told how many times it was called.
type server struct {
	plain
	serve func(ctx context.Context, n int) error
	n     int // guarded by the mesh: Serve never runs concurrently with itself
}

func (s *server) Serve(ctx context.Context) error {
	s.n++
	return s.serve(ctx, s.n)
}

// stopper is a service whose stop returns err.
type stopper struct {
	plain
	err error
}

func (s *stopper) OnShutdownContext(context.Context) error { return s.err }

// resolver waits for a service named want.
type resolver struct {
	plain
	want  string
	found bool // guarded by the mesh: its methods are called one at a time
}

func (r *resolver) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		r.found = r.found || s.Name() == r.want
	}
}
func (r *resolver) DependenciesResolved() bool { return r.found }

var (
	errFlaky  = errors.New("flaky: connection refused")
	errBroken = errors.New("broken: no config")
	errDoomed = errors.New("doomed: disk full")
	errStop   = errors.New("stopfail: flush failed")
)

// sdk is the real OpenTelemetry SDK, in process.
type sdk struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newSDK(t *testing.T) *sdk {
	s := &sdk{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() {
		assert.NoError(t, s.mp.Shutdown(context.Background()))
		assert.NoError(t, s.tp.Shutdown(context.Background()))
	})
	return s
}

func (s *sdk) opts() []otelmesh.Option {
	return []otelmesh.Option{otelmesh.WithMeterProvider(s.mp), otelmesh.WithTracerProvider(s.tp)}
}

// metrics collects the metrics of otelmesh's scope, by name.
func (s *sdk) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, s.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmesh.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// ended returns the ended spans by name; each name must be unique.
func (s *sdk) ended(t *testing.T) map[string]sdktrace.ReadOnlySpan {
	t.Helper()
	out := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range s.spans.Ended() {
		require.NotContains(t, out, sp.Name(), "one span of each name")
		out[sp.Name()] = sp
	}
	return out
}

func (s *sdk) spanNames() []string {
	var names []string
	for _, sp := range s.spans.Ended() {
		names = append(names, sp.Name())
	}
	sort.Strings(names)
	return names
}

// states returns, per service, the state servicemesh.service.state reports
// 1 for; it checks that every service has exactly one such state and a 0
// for each of the seven others.
func states(t *testing.T, ms map[string]metricdata.Metrics) map[string]string {
	t.Helper()
	m, ok := ms[otelmesh.MetricServiceState]
	require.True(t, ok, "servicemesh.service.state is reported")
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "an int64 gauge, not %T", m.Data)
	points := map[string]int{}
	ones := map[string]string{}
	for _, p := range g.DataPoints {
		require.Equal(t, 2, p.Attributes.Len(), "servicemesh.service and servicemesh.state only: %v", p.Attributes.ToSlice())
		svc, ok1 := p.Attributes.Value(otelmesh.AttrService)
		st, ok2 := p.Attributes.Value(otelmesh.AttrState)
		require.True(t, ok1 && ok2)
		points[svc.AsString()]++
		switch p.Value {
		case 1:
			require.NotContains(t, ones, svc.AsString(), "one state at a time")
			ones[svc.AsString()] = st.AsString()
		case 0:
		default:
			t.Fatalf("%s %s = %d", svc.AsString(), st.AsString(), p.Value)
		}
	}
	for svc, n := range points {
		assert.Equal(t, 8, n, "%s: a point for every state but removed", svc)
		assert.Contains(t, ones, svc)
	}
	return ones
}

func ready(t *testing.T, ms map[string]metricdata.Metrics) int64 {
	t.Helper()
	m, ok := ms[otelmesh.MetricMeshReady]
	require.True(t, ok, "servicemesh.mesh.ready is reported")
	g := m.Data.(metricdata.Gauge[int64])
	require.Len(t, g.DataPoints, 1)
	assert.Equal(t, 0, g.DataPoints[0].Attributes.Len())
	return g.DataPoints[0].Value
}

// count returns the value of the counter name for exactly attrs.
func count(t *testing.T, ms map[string]metricdata.Metrics, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s: an int64 sum, not %T", name, m.Data)
	assert.True(t, sum.IsMonotonic, "a counter")
	want := attribute.NewSet(attrs...)
	for _, p := range sum.DataPoints {
		if p.Attributes.Equals(&want) {
			return p.Value
		}
	}
	return 0
}

// counted returns every (attributes → value) of the counter name.
func counted(ms map[string]metricdata.Metrics, name string) map[string]int64 {
	out := map[string]int64{}
	if m, ok := ms[name]; ok {
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			out[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
		}
	}
	return out
}

// durations returns, per service, the count and sum of the histogram name.
func durations(t *testing.T, ms map[string]metricdata.Metrics, name string) (counts map[string]uint64, sums map[string]float64) {
	t.Helper()
	counts, sums = map[string]uint64{}, map[string]float64{}
	m, ok := ms[name]
	if !ok {
		return counts, sums
	}
	assert.Equal(t, "s", m.Unit)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s: a float64 histogram, not %T", name, m.Data)
	for _, p := range h.DataPoints {
		require.Equal(t, 1, p.Attributes.Len(), "servicemesh.service only")
		svc, _ := p.Attributes.Value(otelmesh.AttrService)
		counts[svc.AsString()] += p.Count
		sums[svc.AsString()] += p.Sum
	}
	return counts, sums
}

func attr(sp sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, kv := range sp.Attributes() {
		if kv.Key == k {
			return kv.Value.String()
		}
	}
	return "<none>"
}

// requireChild checks that sp is a child of parent, about service svc,
// ended in state to.
func requireChild(t *testing.T, parent, sp sdktrace.ReadOnlySpan, svc, to string) {
	t.Helper()
	require.NotNil(t, sp)
	assert.Equal(t, parent.SpanContext().TraceID(), sp.SpanContext().TraceID(), sp.Name())
	assert.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), "%s is a child of %s", sp.Name(), parent.Name())
	assert.Equal(t, svc, attr(sp, otelmesh.AttrService), sp.Name())
	assert.Equal(t, to, attr(sp, otelmesh.AttrState), sp.Name())
	assert.False(t, sp.StartTime().Before(parent.StartTime()), "%s begins within its parent", sp.Name())
	assert.False(t, sp.EndTime().Before(sp.StartTime()), sp.Name())
}

// requireFailed checks that sp's status is Error with err's text, and that
// it recorded err.
func requireFailed(t *testing.T, sp sdktrace.ReadOnlySpan, err error) {
	t.Helper()
	require.NotNil(t, sp)
	assert.Equal(t, codes.Error, sp.Status().Code, sp.Name())
	assert.Contains(t, sp.Status().Description, err.Error(), sp.Name())
	recorded := false
	for _, ev := range sp.Events() {
		for _, kv := range ev.Attributes {
			if ev.Name == "exception" && kv.Key == "exception.message" && strings.Contains(kv.Value.AsString(), err.Error()) {
				recorded = true
			}
		}
	}
	assert.True(t, recorded, "%s records the error: %v", sp.Name(), sp.Events())
}

func newMesh(t *testing.T, keepRunning bool) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New(t.Name())
	m.SetLogDestination(nil)
	require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{
		KeepRunning: keepRunning, MaxRestarts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Jitter: -1,
	}))
	m.SetDependencyResolutionTimeout(time.Second)
	t.Cleanup(func() { m.Shutdown().Wait() }) // in the bubble, before it ends
	return m
}

func stateIn(t *testing.T, m servicemesh.Mesh, name string) servicemesh.State {
	t.Helper()
	for _, s := range servicemesh.Status(m).Services {
		if s.Name == name {
			return s.State
		}
	}
	t.Fatalf("no service %q", name)
	return 0
}

// A mesh through its whole life: services that resolve, initialize, fail
// (init, resolve, serve, stop), back off and restart, kept running, then
// shut down. Every instrument, attribute and span is checked, at each
// stage.
func TestInstrumentRecordsAMeshsLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newSDK(t)
		m := newMesh(t, true)

		// Before Instrument: one service past all its phases, one
		// resolving (it waits for "store"), one whose Init runs 50 ms.
		m.Add(&plain{name: "early"}).Wait()
		m.Add(&resolver{plain: plain{name: "api"}, want: "store"})
		m.Add(&plain{name: "slow", initCtx: func(context.Context) error {
			time.Sleep(50 * time.Millisecond)
			return nil
		}})
		synctest.Wait()
		require.Equal(t, servicemesh.StateResolving, stateIn(t, m, "api"))
		require.Equal(t, servicemesh.StateStarting, stateIn(t, m, "slow"))
		time.Sleep(10 * time.Millisecond)

		instrumented := time.Now()
		stop, err := otelmesh.Instrument(m, o.opts()...)
		require.NoError(t, err)
		_, err = otelmesh.Instrument(m, o.opts()...)
		require.ErrorIs(t, err, otelmesh.ErrAlreadyInstrumented)
		assert.Contains(t, err.Error(), t.Name(), "names the mesh")

		m.Add(&plain{name: "store"})
		m.Add(&server{plain: plain{name: "flaky"}, serve: func(ctx context.Context, n int) error {
			if n <= 2 {
				return errFlaky
			}
			<-ctx.Done()
			return nil
		}})
		m.Add(&stopper{plain: plain{name: "stopfail"}, err: errStop})
		ran := make(chan error, 1)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		time.Sleep(time.Second)
		synctest.Wait()

		// Ready: everything runs; flaky restarted twice.
		require.True(t, servicemesh.Status(m).Ready)
		ms := o.metrics(t)
		assert.Equal(t, map[string]string{"early": "running", "api": "running", "slow": "running", "store": "running",
			"flaky": "running", "stopfail": "running"}, states(t, ms))
		assert.Equal(t, int64(1), ready(t, ms))
		assert.Equal(t, map[string]int64{"servicemesh.service=flaky": 2}, counted(ms, otelmesh.MetricServiceRestarts))
		assert.Empty(t, counted(ms, otelmesh.MetricServiceFailures))
		inits, initSums := durations(t, ms, otelmesh.MetricInitDuration)
		assert.Equal(t, map[string]uint64{"api": 1, "slow": 1, "store": 1, "flaky": 1, "stopfail": 1}, inits,
			"early's Init was over before Instrument")
		assert.InDelta(t, 0.05, initSums["slow"], 1e-9, "the whole Init, begun before Instrument")
		resolves, resolveSums := durations(t, ms, otelmesh.MetricResolveDuration)
		assert.Equal(t, map[string]uint64{"api": 1}, resolves)
		assert.GreaterOrEqual(t, resolveSums["api"], 0.01, "from before Instrument until store came")
		stops, _ := durations(t, ms, otelmesh.MetricStopDuration)
		assert.Empty(t, stops)

		spans := o.ended(t)
		assert.Equal(t, []string{"init api", "init flaky", "init slow", "init stopfail", "init store", "resolve api", "servicemesh.start"},
			o.spanNames())
		start := spans[otelmesh.SpanStart]
		require.NotNil(t, start)
		assert.False(t, start.Parent().IsValid(), "a root span")
		assert.Equal(t, instrumented, start.StartTime(), "begins at Instrument")
		assert.Equal(t, "ready", attr(start, otelmesh.AttrOutcome))
		assert.Equal(t, t.Name(), attr(start, otelmesh.AttrMesh))
		assert.Equal(t, codes.Unset, start.Status().Code)
		requireChild(t, start, spans["resolve api"], "api", "starting")
		assert.Equal(t, instrumented, spans["resolve api"].StartTime(), "under way at Instrument: from Instrument on")
		requireChild(t, start, spans["init slow"], "slow", "running")
		assert.Equal(t, instrumented, spans["init slow"].StartTime())
		assert.Equal(t, instrumented.Add(40*time.Millisecond), spans["init slow"].EndTime())
		for _, name := range []string{"api", "store", "flaky", "stopfail"} {
			requireChild(t, start, spans["init "+name], name, "running")
			assert.Equal(t, codes.Unset, spans["init "+name].Status().Code)
		}
		for _, sp := range spans {
			if sp.Name() != otelmesh.SpanStart {
				assert.Equal(t, trace.SpanKindInternal, sp.SpanKind())
				assert.False(t, sp.EndTime().After(start.EndTime()), "%s ends before the mesh is ready", sp.Name())
			}
		}

		// Failures for good, kept running: an Init, a resolution and a
		// Serve given up on after its 3 restarts.
		m.Add(&plain{name: "broken", initCtx: func(context.Context) error { return errBroken }})
		m.Add(&resolver{plain: plain{name: "orphan"}, want: "nobody"})
		m.Add(&server{plain: plain{name: "doomed"}, serve: func(context.Context, int) error { return errDoomed }})
		time.Sleep(5 * time.Second)
		synctest.Wait()

		ms = o.metrics(t)
		assert.Equal(t, map[string]string{"early": "running", "api": "running", "slow": "running", "store": "running",
			"flaky": "running", "stopfail": "running", "broken": "failed", "orphan": "failed", "doomed": "failed"}, states(t, ms))
		assert.Equal(t, int64(0), ready(t, ms), "a failed service: not ready")
		assert.Equal(t, map[string]int64{"servicemesh.service=flaky": 2, "servicemesh.service=doomed": 3},
			counted(ms, otelmesh.MetricServiceRestarts))
		assert.Equal(t, map[string]int64{
			"servicemesh.op=init,servicemesh.service=broken":    1,
			"servicemesh.op=resolve,servicemesh.service=orphan": 1,
			"servicemesh.op=serve,servicemesh.service=doomed":   1,
		}, counted(ms, otelmesh.MetricServiceFailures))
		assert.Equal(t, int64(1), count(t, ms, otelmesh.MetricServiceFailures,
			otelmesh.AttrService.String("broken"), otelmesh.AttrOp.String("init")))
		resolves, resolveSums = durations(t, ms, otelmesh.MetricResolveDuration)
		assert.Equal(t, map[string]uint64{"api": 1, "orphan": 1}, resolves)
		assert.InDelta(t, 1.0, resolveSums["orphan"], 0.1, "until the resolution timeout")
		inits, _ = durations(t, ms, otelmesh.MetricInitDuration)
		assert.Equal(t, uint64(1), inits["broken"], "a failed Init is timed too")

		spans = o.ended(t)
		broken := spans["init broken"]
		require.NotNil(t, broken)
		assert.False(t, broken.Parent().IsValid(), "begun after the start span ended: a root span")
		assert.Equal(t, "failed", attr(broken, otelmesh.AttrState))
		requireFailed(t, broken, errBroken)
		orphan := spans["resolve orphan"]
		requireFailed(t, orphan, servicemesh.ErrDependencyResolutionTimeout)
		assert.Equal(t, codes.Unset, spans["init doomed"].Status().Code, "its Init went well")
		assert.Equal(t, "ready", attr(spans[otelmesh.SpanStart], otelmesh.AttrOutcome), "not ended again")

		// Shutdown: every service that ran is stopped; stopfail's stop fails.
		m.Shutdown().Wait()
		err = <-ran
		assert.ErrorIs(t, err, errStop)
		synctest.Wait()

		ms = o.metrics(t)
		assert.Equal(t, map[string]string{"early": "stopped", "api": "stopped", "slow": "stopped", "store": "stopped",
			"flaky": "stopped", "stopfail": "failed", "broken": "failed", "orphan": "failed", "doomed": "failed"}, states(t, ms))
		assert.Equal(t, int64(0), ready(t, ms))
		assert.Equal(t, int64(1), count(t, ms, otelmesh.MetricServiceFailures,
			otelmesh.AttrService.String("stopfail"), otelmesh.AttrOp.String("stop")))
		stops, _ = durations(t, ms, otelmesh.MetricStopDuration)
		assert.Equal(t, map[string]uint64{"early": 1, "api": 1, "slow": 1, "store": 1, "flaky": 1, "stopfail": 1}, stops,
			"failed services are not stopped")

		spans = o.ended(t)
		shutdown := spans[otelmesh.SpanShutdown]
		require.NotNil(t, shutdown)
		assert.False(t, shutdown.Parent().IsValid(), "a root span")
		assert.NotEqual(t, start.SpanContext().TraceID(), shutdown.SpanContext().TraceID(), "a trace of its own")
		assert.Equal(t, "stopped", attr(shutdown, otelmesh.AttrOutcome))
		assert.Equal(t, codes.Error, shutdown.Status().Code, "a stop failed")
		assert.Contains(t, shutdown.Status().Description, "stopfail")
		for _, name := range []string{"early", "api", "slow", "store", "flaky"} {
			requireChild(t, shutdown, spans["stop "+name], name, "stopped")
			assert.Equal(t, codes.Unset, spans["stop "+name].Status().Code)
			assert.False(t, spans["stop "+name].EndTime().After(shutdown.EndTime()))
		}
		requireChild(t, shutdown, spans["stop stopfail"], "stopfail", "failed")
		requireFailed(t, spans["stop stopfail"], errStop)
		for _, name := range []string{"broken", "orphan", "doomed"} {
			assert.NotContains(t, spans, "stop "+name)
		}

		before := len(o.spans.Ended())
		stop()
		stop() // idempotent
		ms = o.metrics(t)
		assert.NotContains(t, ms, otelmesh.MetricServiceState, "the callback is unregistered")
		assert.NotContains(t, ms, otelmesh.MetricMeshReady)
		assert.Len(t, o.spans.Ended(), before, "nothing was open")
		assert.Empty(t, o.spans.Started()[before:], "nothing begun")
	})
}

// A failure while the mesh starts marks servicemesh.start as failed, on the
// failed phase's span as well; a Serve given up on, in no phase, is
// recorded on servicemesh.start itself. The start span ends when the
// shutdown begins.
func TestFailuresDuringTheStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newSDK(t)
		m := newMesh(t, true)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true, MaxRestarts: -1}))
		stop, err := otelmesh.Instrument(m, o.opts()...)
		require.NoError(t, err)
		defer stop()
		m.Add(&plain{name: "good"})
		m.Add(&plain{name: "broken", initCtx: func(context.Context) error { return errBroken }})
		m.Add(&server{plain: plain{name: "doomed"}, serve: func(context.Context, int) error { return errDoomed }})
		time.Sleep(time.Second)
		synctest.Wait()
		assert.NotContains(t, o.ended(t), otelmesh.SpanStart, "never ready: still open")

		m.Shutdown().Wait()
		synctest.Wait()
		spans := o.ended(t)
		start := spans[otelmesh.SpanStart]
		require.NotNil(t, start)
		assert.Equal(t, "shutdown", attr(start, otelmesh.AttrOutcome))
		assert.Equal(t, codes.Error, start.Status().Code)
		requireChild(t, start, spans["init broken"], "broken", "failed")
		requireFailed(t, spans["init broken"], errBroken)
		requireChild(t, start, spans["init doomed"], "doomed", "running")
		requireChild(t, start, spans["init good"], "good", "running")
		requireFailed(t, start, errDoomed) // the Serve given up on
		shutdown := spans[otelmesh.SpanShutdown]
		require.NotNil(t, shutdown)
		assert.Equal(t, codes.Unset, shutdown.Status().Code)
		assert.Equal(t, start.EndTime(), shutdown.StartTime(), "the start ends as the shutdown begins")
		requireChild(t, shutdown, spans["stop good"], "good", "stopped")

		ms := o.metrics(t)
		assert.Equal(t, map[string]int64{
			"servicemesh.op=init,servicemesh.service=broken":  1,
			"servicemesh.op=serve,servicemesh.service=doomed": 1,
		}, counted(ms, otelmesh.MetricServiceFailures))
		assert.Empty(t, counted(ms, otelmesh.MetricServiceRestarts), "its policy allows none")
	})
}

// An empty mesh is ready, vacuously: Instrument right after New does not
// see the start over before the first service is added.
func TestAnEmptyMeshHasNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newSDK(t)
		m := newMesh(t, false)
		stop, err := otelmesh.Instrument(m, o.opts()...)
		require.NoError(t, err)
		defer stop()
		synctest.Wait()
		assert.Equal(t, int64(1), ready(t, o.metrics(t)), "an empty mesh is ready")
		assert.Empty(t, o.spans.Ended())

		time.Sleep(time.Millisecond)
		added := time.Now()
		m.Add(&plain{name: "db"}).Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		spans := o.ended(t)
		require.Contains(t, spans, otelmesh.SpanStart)
		assert.Equal(t, "ready", attr(spans[otelmesh.SpanStart], otelmesh.AttrOutcome))
		assert.WithinDuration(t, added, spans[otelmesh.SpanStart].EndTime(), 60*time.Millisecond, "soon after db runs")
		requireChild(t, spans[otelmesh.SpanStart], spans["init db"], "db", "running")
		m.Shutdown().Wait()
	})
}

// stop ends every open span at once, unregisters the callback and cancels
// the subscription: nothing is recorded after it, whatever the mesh does.
// The mesh may be instrumented again then.
func TestNothingIsRecordedAfterStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newSDK(t)
		m := newMesh(t, true)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{
			KeepRunning: true, MaxRestarts: 1000, Window: time.Millisecond, Backoff: 10 * time.Millisecond, Jitter: -1}))
		release := make(chan struct{})
		stop, err := otelmesh.Instrument(m, o.opts()...)
		require.NoError(t, err)
		m.Add(&plain{name: "stuck", initCtx: func(context.Context) error { <-release; return nil }})
		m.Add(&server{plain: plain{name: "looping"}, serve: func(context.Context, int) error { return errFlaky }})
		time.Sleep(35 * time.Millisecond)
		synctest.Wait()
		restarts := count(t, o.metrics(t), otelmesh.MetricServiceRestarts, otelmesh.AttrService.String("looping"))
		require.Positive(t, restarts)

		stopped := time.Now()
		stop()
		spans := o.ended(t)
		assert.Equal(t, []string{"init looping", "init stuck", "servicemesh.start"}, o.spanNames())
		assert.Equal(t, "stopped", attr(spans[otelmesh.SpanStart], otelmesh.AttrOutcome))
		assert.Equal(t, stopped, spans[otelmesh.SpanStart].EndTime())
		assert.Equal(t, "starting", attr(spans["init stuck"], otelmesh.AttrState), "ended open")
		assert.Equal(t, stopped, spans["init stuck"].EndTime())
		n := len(o.spans.Started())

		time.Sleep(time.Second) // the mesh goes on: restarts, an Init ends, a shutdown
		close(release)
		m.Add(&plain{name: "late"})
		synctest.Wait()
		m.Shutdown().Wait()
		synctest.Wait()
		ms := o.metrics(t)
		assert.Equal(t, restarts, count(t, ms, otelmesh.MetricServiceRestarts, otelmesh.AttrService.String("looping")), "no restart counted")
		assert.NotContains(t, ms, otelmesh.MetricServiceState)
		assert.NotContains(t, ms, otelmesh.MetricMeshReady)
		assert.Len(t, o.spans.Started(), n, "no span begun")
		stop() // still nothing

		// Stopped: the mesh can be instrumented again, until it has stopped.
		_, err = otelmesh.Instrument(m, o.opts()...)
		require.ErrorIs(t, err, otelmesh.ErrMeshStopped)
	})
}

// Instrument refuses what it cannot instrument, naming why; after stop, a
// mesh may be instrumented again.
func TestInstrumentRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newSDK(t)
		_, err := otelmesh.Instrument(nil, o.opts()...)
		require.ErrorIs(t, err, otelmesh.ErrNotAMesh)
		assert.Contains(t, err.Error(), "nil")

		_, err = otelmesh.Instrument(notAMesh{}, o.opts()...)
		require.ErrorIs(t, err, otelmesh.ErrNotAMesh)
		assert.Contains(t, err.Error(), "otelmesh_test.notAMesh")

		m := newMesh(t, false)
		stop, err := otelmesh.Instrument(m, o.opts()...)
		require.NoError(t, err)
		_, err = otelmesh.Instrument(m)
		require.ErrorIs(t, err, otelmesh.ErrAlreadyInstrumented, "with other providers too")
		stop()
		stop2, err := otelmesh.Instrument(m, o.opts()...)
		require.NoError(t, err, "again once stopped")

		other := newMesh(t, false)
		stop3, err := otelmesh.Instrument(other, nil, otelmesh.WithMeterProvider(nil), otelmesh.WithTracerProvider(nil))
		require.NoError(t, err, "another mesh; nil options and providers mean the defaults")
		stop3()

		m.Shutdown().Wait()
		other.Shutdown().Wait()
		stop2()
		_, err = otelmesh.Instrument(m, o.opts()...)
		require.ErrorIs(t, err, otelmesh.ErrMeshStopped)
		assert.Contains(t, err.Error(), t.Name())
	})
}

// notAMesh is a Mesh that servicemesh.New did not make.
type notAMesh struct{ servicemesh.Mesh }

// In real time, with the SDK collecting concurrently: stop, while changes
// keep coming and collections run, leaves nothing recorded after it.
func TestStopWhileBusy(t *testing.T) {
	o := newSDK(t)
	m := servicemesh.New(t.Name())
	m.SetLogDestination(nil)
	defer func() { m.Shutdown().Wait() }()
	require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{
		KeepRunning: true, MaxRestarts: 1 << 30, Window: time.Nanosecond, Backoff: 100 * time.Microsecond, Jitter: -1}))
	stop, err := otelmesh.Instrument(m, o.opts()...)
	require.NoError(t, err)
	m.Add(&server{plain: plain{name: "looping"}, serve: func(context.Context, int) error { return errFlaky }})

	looping := func() int64 {
		return count(t, o.metrics(t), otelmesh.MetricServiceRestarts, otelmesh.AttrService.String("looping"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for looping() < 20 {
		require.True(t, time.Now().Before(deadline), "20 restarts within 10 s")
	}
	collected := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case <-quit:
				return
			default:
				var rm metricdata.ResourceMetrics
				assert.NoError(t, o.reader.Collect(context.Background(), &rm))
			}
		}
	}()
	stop()
	restarts := looping()
	spans := len(o.spans.Started())
	restartsNow := func() int {
		for _, s := range servicemesh.Status(m).Services {
			if s.Name == "looping" {
				return s.Restarts
			}
		}
		return 0
	}
	for target := restartsNow() + 20; restartsNow() < target; {
		require.True(t, time.Now().Before(deadline), "20 more restarts within 10 s")
	}
	close(quit)
	<-collected
	ms := o.metrics(t)
	assert.Equal(t, restarts, count(t, ms, otelmesh.MetricServiceRestarts, otelmesh.AttrService.String("looping")))
	assert.NotContains(t, ms, otelmesh.MetricServiceState)
	assert.Len(t, o.spans.Started(), spans)
}
