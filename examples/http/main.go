// Command http is a template for a production web service built as a mesh:
// three services in a chain, health probes for Kubernetes, a bounded
// graceful shutdown, and a non-zero exit status when something failed.
//
//   - config holds the settings, read from flags and the environment.
//   - store holds the config. Opening it (InitContext) takes a moment and can
//     fail; its context ends at the start timeout or when the shutdown
//     begins. Its HealthCheck keeps /readyz honest while it runs.
//   - http server holds the store (and the config). It waits until the store
//     is open, listens in its InitContext, serves the application's routes
//     and the probes of package health on the same listener, and stops with
//     http.Server.Shutdown under the shutdown's deadline
//     (OnShutdownContext), so requests in flight complete.
//
// Because the server holds the store and the store holds the config, the
// mesh's dependency graph stops them in that order: server, store, config.
//
// Routes: GET /hello (optionally ?name=you; the store counts the visits),
// and the probes GET /livez, /readyz and /startupz.
//
// On SIGTERM (what Kubernetes sends) or SIGINT the mesh stops being ready at
// once, so /readyz answers 503, keeps serving for the drain delay while the
// load balancer takes the pod out, then stops everything within the
// shutdown budget. If a service fails to start, the mesh shuts down at once
// and the process exits with status 1, printing why.
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
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
)

// Deadlines, chosen for Kubernetes, whose default grace period between
// SIGTERM and SIGKILL is 30 s (terminationGracePeriodSeconds). The drain
// delay counts against the shutdown budget, so with these values the
// process has exited about 20 s after SIGTERM at the latest.
const (
	shutdownBudget = 20 * time.Second // the whole shutdown, drain included
	startTimeout   = 10 * time.Second // one service's start
)

// config holds the settings. It is a service so that the services that
// need it can hold it, and so stop before it.
type config struct {
	Addr       string
	DrainDelay time.Duration
	FailStore  bool
}

func (c *config) Name() string          { return "config" }
func (c *config) Init(servicemesh.Mesh) {}

// loadConfig reads the settings from args, with getenv giving the
// defaults.
func loadConfig(args []string, getenv func(string) string) (*config, error) {
	c := &config{Addr: "127.0.0.1:8080", DrainDelay: 5 * time.Second}
	if v := getenv("HTTP_ADDR"); v != "" {
		c.Addr = v
	}
	if v := getenv("DRAIN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("DRAIN_DELAY: %w", err)
		}
		c.DrainDelay = d
	}
	if v := getenv("STORE_FAIL"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("STORE_FAIL: %w", err)
		}
		c.FailStore = b
	}
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on (host:port; port 0 picks a free one) [$HTTP_ADDR]")
	fs.DurationVar(&c.DrainDelay, "drain", c.DrainDelay, "how long to keep serving, not ready, after SIGTERM [$DRAIN_DELAY]")
	fs.BoolVar(&c.FailStore, "fail-store", c.FailStore, "make opening the store fail, to see a failed start [$STORE_FAIL]")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, nil
}

// store counts visits in memory. It stands in for a database client.
type store struct {
	cfg    *config
	logger *slog.Logger

	open   atomic.Bool
	mu     sync.Mutex
	visits map[string]int
}

func (s *store) Name() string                  { return "store" }
func (s *store) SetLogger(logger *slog.Logger) { s.logger = logger }
func (s *store) Logger() *slog.Logger          { return s.logger }

func (s *store) DependenciesResolved() bool { return s.cfg != nil }
func (s *store) ResolveDependencies(services []servicemesh.Service) {
	s.cfg, _ = servicemesh.Find[*config](services)
}

// Init is required by servicemesh.Service; InitContext is called instead.
func (s *store) Init(servicemesh.Mesh) {}

// InitContext opens the store. Its error makes the service failed, and
// reaches main through RunContext.
func (s *store) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	s.logger.Info("opening")
	select { // a connection being set up
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return fmt.Errorf("open: %w", context.Cause(ctx))
	}
	if s.cfg.FailStore {
		return errors.New("open: connection refused (simulated: -fail-store or STORE_FAIL)")
	}
	s.visits = make(map[string]int)
	s.open.Store(true)
	return nil
}

// Ready reports whether the store is open; the server waits for it.
func (s *store) Ready() bool { return s.open.Load() }

// HealthCheck is what /readyz asks, at most once a second: a real client
// would ping its server here, bounded by ctx.
func (s *store) HealthCheck(context.Context) error {
	if !s.open.Load() {
		return errors.New("store is closed")
	}
	return nil
}

// Visit counts a visit of name and returns how many there were.
func (s *store) Visit(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visits[name]++
	return s.visits[name]
}

// OnShutdown closes the store. The server, which holds it, has stopped.
func (s *store) OnShutdown() {
	s.open.Store(false)
	fmt.Println("store: closed")
}

// server serves HTTP: the application's routes and the health probes.
type server struct {
	cfg    *config
	store  *store
	logger *slog.Logger

	srv    *http.Server
	url    string        // http://host:port actually listened on
	served chan struct{} // closed when Serve has returned
}

func (s *server) Name() string                  { return "http server" }
func (s *server) SetLogger(logger *slog.Logger) { s.logger = logger }
func (s *server) Logger() *slog.Logger          { return s.logger }

// The server starts once the store is open.
func (s *server) DependenciesResolved() bool {
	return s.cfg != nil && s.store != nil && s.store.Ready()
}

func (s *server) ResolveDependencies(services []servicemesh.Service) {
	s.cfg, _ = servicemesh.Find[*config](services)
	s.store, _ = servicemesh.Find[*store](services)
}

// Init is required by servicemesh.Service; InitContext is called instead.
func (s *server) Init(servicemesh.Mesh) {}

// InitContext listens and starts serving. The mesh is only passed to the
// probes' handler, not kept in a field: a service that holds the Mesh
// counts as depending on every service started before it.
func (s *server) InitContext(ctx context.Context, mesh servicemesh.Mesh) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.url = "http://" + ln.Addr().String()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", s.hello)
	probes := health.Handler(mesh)
	mux.Handle("/livez", probes)
	mux.Handle("/readyz", probes)
	mux.Handle("/startupz", probes)

	s.srv = &http.Server{
		Handler:           s.logRequests(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("serve", "error", err)
		}
	}()
	fmt.Printf("listening on %s\n", s.url)
	return nil
}

func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "hello, %s (visit %d)\n", name, s.store.Visit(name))
}

// OnMeshReady is told once every service runs and passes its checks.
func (s *server) OnMeshReady() {
	fmt.Printf("ready: try curl %s/hello or %s/readyz; Ctrl+C to stop\n", s.url, s.url)
}

// OnShutdownContext stops accepting connections and waits for the requests
// in flight until ctx, the shutdown's deadline, ends.
func (s *server) OnShutdownContext(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close() // out of time: cut the remaining connections
	}
	<-s.served
	fmt.Println("http server: stopped")
	return err
}

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

	// Fail fast: a service that cannot start stops the whole program, so
	// that the orchestrator restarts it. Before the first readiness no
	// traffic was routed here, so there is nothing to drain.
	app.Events().On(servicemesh.EventServiceFailed, func(...any) {
		if !servicemesh.Status(app).Started {
			servicemesh.SetDrainDelay(app, 0)
		}
		app.Shutdown()
	})

	app.Add(cfg)
	app.Add(&store{})
	app.Add(&server{})

	// RunContext returns when the shutdown has completed, with every
	// failure of the run joined, each a *servicemesh.ServiceError.
	if err := servicemesh.RunContext(context.Background(), app); err != nil {
		fmt.Fprintf(os.Stderr, "main: the run failed:\n%v\n", err)
		os.Exit(1)
	}
	fmt.Println("main: stopped cleanly")
}
