// Command example runs a small mesh and serves, on one HTTP server that is a
// service of the mesh itself, its metrics for Prometheus at /metrics (the
// OpenTelemetry Prometheus exporter, fed by otelmesh) beside its health
// probes at /health/livez, /health/readyz and /health/startupz and its status
// page at /status/.
//
//	go run ./example -addr 127.0.0.1:8080
//	curl -s 127.0.0.1:8080/metrics | grep servicemesh_
//	open http://127.0.0.1:8080/status/
//
// Ctrl+C shuts the mesh down; a failure exits with status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
	"github.com/gravestench/servicemesh/httpserver"
	"github.com/gravestench/servicemesh/otelmesh"
	"github.com/gravestench/servicemesh/statuspage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to serve /metrics, /health/ and /status/ on")
	flag.Parse()
	a, err := newApp(*addr)
	if err != nil {
		log.Fatal(err)
	}
	defer a.close()
	if err := servicemesh.RunContext(context.Background(), a.mesh); err != nil {
		log.Fatal(err)
	}
}

// app is the example's mesh, instrumented, with its HTTP server added.
type app struct {
	mesh  servicemesh.Mesh
	web   *httpserver.Server
	close func() // ends the instrumentation and flushes the meter provider
}

// newApp builds the mesh: a store, a worker, and the HTTP server on addr
// ("127.0.0.1:0" picks a free port: see app.web.Addr).
func newApp(addr string) (*app, error) {
	m := servicemesh.New("example")

	// Metrics go to a registry of the application's own (not Prometheus's
	// global one), which /metrics serves.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	stop, err := otelmesh.Instrument(m, otelmesh.WithMeterProvider(mp))
	if err != nil {
		return nil, err
	}

	web := httpserver.New("web", &http.Server{Addr: addr, Handler: handler(m, reg), ReadHeaderTimeout: 5 * time.Second})
	m.Add(&store{})
	m.Add(servicemesh.Func("worker", func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}))
	m.Add(web)
	return &app{mesh: m, web: web, close: func() {
		stop()
		if err := mp.Shutdown(context.Background()); err != nil {
			log.Print(err)
		}
	}}, nil
}

// handler serves /metrics from reg, the mesh's probes under /health/ and
// its status page under /status/.
func handler(m servicemesh.Mesh, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/health/", http.StripPrefix("/health", health.Handler(m)))
	mux.Handle("/status/", http.StripPrefix("/status", statuspage.Handler(m)))
	return mux
}

// store stands for a service that opens something in its Init.
type store struct{}

func (*store) Name() string          { return "store" }
func (*store) Init(servicemesh.Mesh) {}
