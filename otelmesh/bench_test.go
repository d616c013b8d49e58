package otelmesh_test

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/otelmesh"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkMeshChange runs a mesh whose one service's Serve fails and is
// restarted b.N times at once (two changes each: running → backing off →
// running) and reports the time per change ("ns/change") until the last
// one was taken in: by the mesh with no subscriber (bare), by a subscriber
// that only counts (subscribed: what any subscriber costs the mesh), and
// by otelmesh's subscriber (otelmesh), which keeps up: no change is lost.
// otelmesh's own cost per change is the difference between the last two;
// BenchmarkHandleChange measures it alone.
func BenchmarkMeshChange(b *testing.B) {
	for _, mode := range []string{"bare", "subscribed", "otelmesh"} {
		b.Run(mode, func(b *testing.B) { benchRestarts(b, mode) })
	}
}

var errBench = errors.New("bench")

func benchRestarts(b *testing.B, mode string) {
	m := servicemesh.New(b.Name())
	m.SetLogDestination(nil)
	defer func() { m.Shutdown().Wait() }()
	servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{
		KeepRunning: true, MaxRestarts: math.MaxInt, Window: time.Nanosecond,
		Backoff: time.Nanosecond, MaxBackoff: time.Nanosecond, Jitter: -1})
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	var told atomic.Int64
	switch mode {
	case "subscribed":
		cancel := servicemesh.Subscribe(m, func(c servicemesh.Change) {
			if c.Service != "" {
				told.Add(1)
			}
		})
		defer cancel()
	case "otelmesh":
		stop, err := otelmesh.Instrument(m, otelmesh.WithMeterProvider(mp), otelmesh.WithTracerProvider(tp))
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
	}
	n := int64(b.N)
	var serves atomic.Int64
	done := make(chan struct{})
	m.Add(servicemesh.Func("looping", func(ctx context.Context) error {
		switch k := serves.Add(1); {
		case k <= n:
			return errBench
		case k == n+1:
			close(done)
		}
		<-ctx.Done()
		return nil
	}))
	b.ResetTimer()
	began := time.Now()
	<-done
	switch mode {
	case "subscribed": // until the subscriber was told every restart
		for told.Load() < 2*n+2 { // and added → starting → running
			time.Sleep(50 * time.Microsecond)
		}
	case "otelmesh": // until otelmesh has counted the last restart
		for restarts(b, reader) < n {
			time.Sleep(50 * time.Microsecond)
		}
	}
	elapsed := time.Since(began)
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(2*n), "ns/change")
}

func restarts(b *testing.B, reader *sdkmetric.ManualReader) int64 {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		b.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name == otelmesh.MetricServiceRestarts {
				var sum int64
				for _, p := range mt.Data.(metricdata.Sum[int64]).DataPoints {
					sum += p.Value
				}
				return sum
			}
		}
	}
	return 0
}
