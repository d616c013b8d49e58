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
// Because the server holds the store and the store holds the config, the
// mesh's dependency graph stops them in that order: server, store, config.
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
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
	"github.com/gravestench/servicemesh/statuspage"
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

// server serves HTTP: the application's routes and the health probes. It
// is a long-running service (servicemesh.HasServe): it listens in
// InitContext, so that an address it cannot listen on fails the start;
// it serves in Serve, which the mesh restarts after a backoff if it fails;
// and it stops gracefully when Serve's context ends.
type server struct {
	cfg    *config
	store  *store
	logger *slog.Logger

	srv  *http.Server
	addr string // host:port actually listened on
	url  string // http://addr

	mu sync.Mutex
	ln net.Listener // opened by InitContext, until Serve takes it
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

// InitContext listens and sets the server up; Serve serves. The mesh is
// only passed to the probes' handler, not kept in a field: a service that
// holds the Mesh counts as depending on every service started before it.
func (s *server) InitContext(ctx context.Context, mesh servicemesh.Mesh) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.url = "http://" + s.addr

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", s.hello)
	probes := health.Handler(mesh)
	mux.Handle("/livez", probes)
	mux.Handle("/readyz", probes)
	mux.Handle("/startupz", probes)
	// The status page, under a prefix: its links are relative. It shows
	// names and states only; statuspage.ShowErrors() would add the error
	// texts, for a page only operators can reach.
	mux.Handle("/debug/mesh/", http.StripPrefix("/debug/mesh", statuspage.Handler(mesh)))

	// The page's live stream is a request that never ends by itself, and
	// http.Server.Shutdown waits for requests in flight: the requests'
	// context ends when the shutdown begins, which ends the streams.
	base, endStreams := context.WithCancel(context.Background())

	s.srv = &http.Server{
		BaseContext:       func(net.Listener) context.Context { return base },
		Handler:           s.logRequests(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.srv.RegisterOnShutdown(endStreams)
	fmt.Printf("listening on %s\n", s.url)
	return nil
}

// takeListener returns the listener InitContext opened, the first time;
// nil after.
func (s *server) takeListener() net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	ln := s.ln
	s.ln = nil
	return ln
}

// Serve serves until ctx ends, then drains. Run by the mesh after
// InitContext, and again after a backoff if it returns an error.
//
// When the server stops by itself, Serve returns what http.Server.Serve
// returned: nil for http.ErrServerClosed (someone closed it: the service
// ends, without restart), the error otherwise (the listener failed: the
// mesh restarts Serve, which listens again on the same address).
//
// When ctx ends (this service's turn to stop, once the drain delay is over,
// or its removal), Serve stops the server gracefully itself, with
// http.Server.Shutdown: no new connections, and the requests in flight
// complete. It returns once they have, so that "Serve returned" means the
// server has stopped, and it also drains when the service is removed,
// which calls no OnShutdown. Serve's context carries no deadline; the
// shutdown's budget is enforced by OnShutdownContext, which the mesh calls
// once Serve has returned or, if the budget runs out first, with its
// context ended, and which then cuts the connections left so that this
// Shutdown returns. The timeout below only bounds a drain that nothing
// else bounds (a removal).
func (s *server) Serve(ctx context.Context) error {
	ln := s.takeListener()
	if ln == nil { // a restart: the failed run's listener is closed
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", s.addr); err != nil {
			return err // restarted again, after a longer backoff
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()

	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	drain, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := s.srv.Shutdown(drain); err != nil {
		s.logger.Warn("drain cut short", "error", err)
	}
	<-served // http.ErrServerClosed
	fmt.Println("http server: drained")
	return nil
}

func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "hello, %s (visit %d)\n", name, s.store.Visit(name))
}

// OnMeshReady is told once every service runs and passes its checks, the
// first time the mesh is ready once RunContext has been called.
func (s *server) OnMeshReady() {
	fmt.Printf("ready: try curl %s/hello or %s/readyz, or open %s/debug/mesh/ in a browser; Ctrl+C to stop\n", s.url, s.url, s.url)
}

// OnShutdownContext is called once Serve has returned, or once the
// shutdown's budget has run out, whichever comes first; ctx ends with the
// budget. Normally the server has drained by then and Shutdown returns at
// once. It still has work in two cases: the budget ran out while Serve was
// draining (Shutdown fails at once, and Close cuts the connections left,
// which ends Serve's Shutdown too), or the stop came while Serve was
// waiting to be restarted (connections of the failed run are drained here,
// within the budget).
func (s *server) OnShutdownContext(ctx context.Context) error {
	if ln := s.takeListener(); ln != nil {
		_ = ln.Close() // Serve never ran: the shutdown began right after InitContext
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close() // out of time: cut the remaining connections
	}
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
