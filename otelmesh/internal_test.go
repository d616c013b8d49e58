package otelmesh

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type svc struct {
	name  string
	init  func(context.Context) error
	serve func(context.Context) error
}

func (s *svc) Name() string          { return s.name }
func (s *svc) Init(servicemesh.Mesh) {}
func (s *svc) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	if s.init == nil {
		return nil
	}
	return s.init(ctx)
}

type serving struct{ svc }

func (s *serving) Serve(ctx context.Context) error { return s.serve(ctx) }

// A subscriber that lost changes catches up with servicemesh.Status: the
// states, the restarts, the failures (op "unknown"), the services removed
// meanwhile, and the spans of phases that ended in the gap. The changes
// are kept from it by canceling its subscription, and the loss is told as
// the mesh tells it.
func TestLostChangesAreCaughtUpWith(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := servicemesh.New(t.Name())
		m.SetLogDestination(nil)
		t.Cleanup(func() { m.Shutdown().Wait() })
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{
			KeepRunning: true, MaxRestarts: 2, Backoff: 10 * time.Millisecond, Jitter: -1}))
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

		release := make(chan struct{})
		gone := &svc{name: "gone"}
		m.Add(gone).Wait()
		m.Add(&svc{name: "waiting", init: func(context.Context) error { <-release; return nil }})
		synctest.Wait()
		stop, err := Instrument(m, WithMeterProvider(mp), WithTracerProvider(tp))
		require.NoError(t, err)
		defer stop()
		synctest.Wait()
		v, ok := instrumented.Load(m)
		require.True(t, ok)
		r := v.(*recorder)
		r.cancel() // deaf from now on

		close(release)                  // waiting's Init ends: its span must end
		m.Remove(gone).Wait()           // gone is no longer reported
		m.Add(&svc{name: "new"}).Wait() // a service never heard of
		m.Add(&serving{svc{name: "dying", serve: func(context.Context) error { return errors.New("no") }}})
		time.Sleep(time.Second) // dying restarts twice, then fails for good
		synctest.Wait()

		r.handle(servicemesh.Change{Time: time.Now(), Err: fmt.Errorf("servicemesh: a subscriber fell behind: %w: %d", servicemesh.ErrChangesLost, 9)})

		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		got := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, mt := range sm.Metrics {
				switch d := mt.Data.(type) {
				case metricdata.Gauge[int64]:
					for _, p := range d.DataPoints {
						if p.Value == 1 {
							got[mt.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] = 1
						}
					}
				case metricdata.Sum[int64]:
					for _, p := range d.DataPoints {
						got[mt.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
					}
				}
			}
		}
		assert.Equal(t, map[string]int64{
			"servicemesh.service.state servicemesh.service=waiting,servicemesh.state=running": 1,
			"servicemesh.service.state servicemesh.service=new,servicemesh.state=running":     1,
			"servicemesh.service.state servicemesh.service=dying,servicemesh.state=failed":    1,
			"servicemesh.service.restarts servicemesh.service=dying":                          2,
			"servicemesh.service.failures servicemesh.op=unknown,servicemesh.service=dying":   1,
		}, got, "not ready (dying failed): no mesh.ready of 1")

		var names []string
		for _, sp := range spans.Ended() {
			names = append(names, sp.Name())
		}
		assert.Equal(t, []string{"init waiting"}, names, "the phase that ended in the gap; the start span is still open")
		stop()
	})
}

// BenchmarkHandleChange is the cost of one change to otelmesh's subscriber,
// on its goroutine, with the real SDK (a manual reader, a tracer provider
// that samples every span and exports none): a service's whole life, nine
// changes, over and over: added → starting (a span begins) → running (the
// span ends, a histogram records) → backing off (a counter) → running →
// backing off → running → stopping (a span begins) → stopped (it ends, a
// histogram records) → removed.
func BenchmarkHandleChange(b *testing.B) {
	m := servicemesh.New(b.Name())
	m.SetLogDestination(nil)
	defer func() { m.Shutdown().Wait() }()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	r := &recorder{mesh: m, services: map[string]*service{}, tracer: tp.Tracer(ScopeName), cancel: func() {}}
	require.NoError(b, r.instruments(mp.Meter(ScopeName)))
	r.meshState = servicemesh.MeshReady
	life := []struct{ from, to servicemesh.State }{
		{servicemesh.StateAdded, servicemesh.StateStarting},
		{servicemesh.StateStarting, servicemesh.StateRunning},
		{servicemesh.StateRunning, servicemesh.StateBackingOff},
		{servicemesh.StateBackingOff, servicemesh.StateRunning},
		{servicemesh.StateRunning, servicemesh.StateBackingOff},
		{servicemesh.StateBackingOff, servicemesh.StateRunning},
		{servicemesh.StateRunning, servicemesh.StateStopping},
		{servicemesh.StateStopping, servicemesh.StateStopped},
		{servicemesh.StateStopped, servicemesh.StateRemoved},
	}
	errServe := errors.New("no")
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		step := life[i%len(life)]
		c := servicemesh.Change{Time: at.Add(time.Duration(i)), Service: "svc", From: step.from, To: step.to}
		if step.to == servicemesh.StateBackingOff {
			c.Err = errServe
		}
		r.handle(c)
	}
	b.StopTimer()
	r.stop()
}
