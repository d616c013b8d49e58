// Command http is a template for a production web service built as a mesh:
// three services in a chain, health probes for Kubernetes, a bounded
// graceful shutdown, and a non-zero exit status when something failed.
//
//   - config holds the settings, read from flags and the environment.
//   - store holds the config. Opening it (InitContext) takes a moment and can
//     fail; its context ends at the start timeout or when the shutdown
//     begins. Its HealthCheck keeps /readyz honest while it runs.
//   - http server holds the store (and the config). It waits until the store
//     is open and listens in its InitContext, so that a bad address fails
//     the start. It is a long-running service (HasServe): its Serve serves
//     the application's routes and the probes of package health on that
//     listener, is restarted by the mesh after a backoff if it fails, and
//     when its context ends drains with http.Server.Shutdown, so requests
//     in flight complete; OnShutdownContext holds that to the shutdown's
//     deadline.
//
// The server requires the store and the config, and the store requires
// the config (Require): each starts once what it requires runs, and the
// mesh's dependency graph stops them the other way round: server, store,
// config. (examples/dependencies shows the original's resolver loop.)
//
// Routes: GET /hello (optionally ?name=you; the store counts the visits),
// the probes GET /livez, /readyz and /startupz, and the live status page
// of package statuspage at GET /debug/mesh/ (open it in a browser).
//
// On SIGTERM (what Kubernetes sends) or SIGINT the mesh stops being ready at
// once, so /readyz answers 503, keeps serving for the drain delay while the
// load balancer takes the pod out, then stops everything within the
// shutdown budget. If a service fails for good (its start fails or times
// out, the mesh gives up on its Serve, its stop fails or outlasts the
// budget), the mesh shuts down by itself and the process exits with status
// 1, printing why.
//
// Run it from the repository root, then try the printed curl commands and
// press Ctrl+C to stop:
//
//	go run ./examples/http
//	go run ./examples/http -addr 127.0.0.1:9090 -drain 0
//	go run ./examples/http -fail-store   # a start that fails: exit status 1
//
// Settings (a flag wins over its environment variable):
//
//	-addr        HTTP_ADDR     address to listen on (default 127.0.0.1:8080;
//	                           port 0 picks a free port, printed at start)
//	-drain       DRAIN_DELAY   how long to keep serving after the signal
//	                           while not ready (default 5s)
//	-fail-store  STORE_FAIL    make opening the store fail (default false)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gravestench/servicemesh"
)

// Deadlines, chosen for Kubernetes, whose default grace period between
// SIGTERM and SIGKILL is 30 s (terminationGracePeriodSeconds). The drain
// delay counts against the shutdown budget, so with these values the
// process has exited about 20 s after SIGTERM at the latest.
const (
	shutdownBudget = 20 * time.Second // the whole shutdown, drain included
	startTimeout   = 10 * time.Second // one service's start
)

// logRequests logs the application's requests at Info, the probes (which
// Kubernetes sends every few seconds) at Debug.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		level := slog.LevelInfo
		switch r.URL.Path {
		case "/livez", "/readyz", "/startupz":
			level = slog.LevelDebug
		}
		s.logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	})
}

func main() {
	cfg, err := loadConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(2)
	}

	// The mesh handles SIGINT and SIGTERM from here on.
	app := servicemesh.New("http example")
	servicemesh.SetShutdownTimeout(app, shutdownBudget)
	servicemesh.SetDrainDelay(app, cfg.DrainDelay)
	servicemesh.SetStartTimeout(app, startTimeout)

	// A service that fails for good (a start that fails or times out, a
	// Serve the mesh gives up on, a stop that fails) shuts the mesh down by
	// itself: fail fast, so that the orchestrator restarts the process. A
	// mesh that was not ready when that shutdown began skips the drain
	// delay: no traffic was routed here.

	app.Add(cfg)
	app.Add(&store{})
	app.Add(&server{})

	// RunContext returns when the shutdown has completed, with every
	// failure of the run joined, each a *servicemesh.ServiceError. Run
	// would log them too, but return nothing: the exit status is main's.
	if err := servicemesh.RunContext(context.Background(), app); err != nil {
		fmt.Fprintf(os.Stderr, "main: the run failed:\n%v\n", err)
		os.Exit(1)
	}
	fmt.Println("main: stopped cleanly")
}
