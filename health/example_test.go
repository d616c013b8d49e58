package health_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
)

type store struct{}

func (store) Name() string          { return "store" }
func (store) Init(servicemesh.Mesh) {}

// The application mounts the probes on its own mux, here under /health/.
// A real program serves mux with an http.Server it owns (and stops it in
// a service's OnShutdown); the recorder stands in for a client.
func ExampleHandler() {
	app := servicemesh.New("shop")
	app.SetLogDestination(io.Discard)
	app.Add(store{})

	mux := http.NewServeMux()
	mux.Handle("/health/", http.StripPrefix("/health", health.Handler(app)))

	if err := servicemesh.WaitReady(context.Background(), app); err != nil {
		fmt.Println(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())

	app.Shutdown().Wait()
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/livez", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 {"status":"pass","mesh":"shop","services":[{"name":"store","state":"running"}]}
	// 503 {"status":"fail","mesh":"shop","services":[{"name":"store","state":"stopped"}]}
}
