package httpserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/httpserver"
)

// A web server as a service: bound in its start (port 0 picks a free port,
// which Addr then gives), served until the mesh stops it, and drained by the
// stop so that requests in flight finish.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "hello from the mesh")
	})
	web := httpserver.New("web", &http.Server{Addr: "127.0.0.1:0", Handler: mux})

	app := servicemesh.New("example")
	app.SetLogDestination(io.Discard)
	app.Add(web)

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- servicemesh.RunContext(ctx, app) }()

	if err := servicemesh.WaitReady(ctx, app); err != nil {
		fmt.Println("not ready:", err)
	}
	resp, err := http.Get("http://" + web.Addr().String() + "/hello")
	if err != nil {
		fmt.Println("request:", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Print(resp.Status, ": ", string(body))
	}

	stop() // as a signal would: the mesh shuts down, draining the server
	fmt.Println("run:", <-done)
	fmt.Println("web:", servicemesh.Status(app).Services[0].State, "ready:", web.Ready())
	// Output:
	// 200 OK: hello from the mesh
	// run: <nil>
	// web: stopped ready: false
}
