package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/health"
	"github.com/gravestench/servicemesh/statuspage"
)

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

// Requirements declares what the server needs: the mesh fills both before
// InitContext, once each is running — for the store, once it is open.
func (s *server) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&s.cfg), servicemesh.Require(&s.store)}
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
