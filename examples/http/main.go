// Command http is a small web application built as a mesh of services with
// the standard library's net/http.
//
//   - server owns the listener and the http.Server. It implements
//     RouteRegistrar, logs every request with the logger the mesh gives it
//     (HasLogger), and stops with http.Server.Shutdown in its OnShutdown, so
//     requests in flight complete.
//   - hello and health register their routes on whatever service in the mesh
//     is a RouteRegistrar: they find the server by that interface through
//     HasDependencies. They may do so before the server's Init has run: the
//     server's mux exists from the start and accepts routes at any time.
//
// Routes: GET /hello (optionally ?name=you) and GET /health.
//
// Run it from the repository root, then try the printed curl command and
// press Ctrl+C to stop:
//
//	go run ./examples/http
//	go run ./examples/http -addr 127.0.0.1:9090
//
// The address defaults to $HTTP_ADDR, or 127.0.0.1:8080 when that is unset.
// With port 0 the system picks a free port; the one in use is printed.
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
	"time"

	"github.com/gravestench/servicemesh"
)

// RouteRegistrar is what route services need from a web server.
type RouteRegistrar interface {
	// Handle registers handler for pattern, as http.ServeMux.Handle does.
	Handle(pattern string, handler http.Handler)
}

// server serves HTTP on addr.
type server struct {
	addr   string
	mux    *http.ServeMux
	logger *slog.Logger

	srv    *http.Server
	url    string        // http://host:port actually listened on
	served chan struct{} // closed when Serve has returned
	err    error         // why the server could not start
}

func newServer(addr string) *server {
	// The mux exists from the start: route services may register before
	// the server's own Init has run.
	return &server{addr: addr, mux: http.NewServeMux()}
}

func (s *server) Name() string                  { return "http server" }
func (s *server) SetLogger(logger *slog.Logger) { s.logger = logger }
func (s *server) Logger() *slog.Logger          { return s.logger }

// Handle is safe to call at any time, also while serving.
func (s *server) Handle(pattern string, handler http.Handler) {
	s.mux.Handle(pattern, handler)
	s.logger.Info("route registered", "pattern", pattern)
}

func (s *server) Init(mesh servicemesh.Mesh) {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.err = err
		s.logger.Error("cannot listen", "addr", s.addr, "error", err)
		mesh.Shutdown()
		return
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.logRequests(s.mux),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("server stopped", "error", err)
		}
	}()
}

// OnServiceMeshRunLoopInitiated runs once Run is listening for signals, and
// every service has started (main waits for them before calling Run).
func (s *server) OnServiceMeshRunLoopInitiated() {
	if s.err == nil {
		fmt.Printf("listening on %s — try curl %s/hello; Ctrl+C to stop\n", s.url, s.url)
	}
}

// OnShutdown stops accepting connections and waits, up to a bound, for the
// requests in flight.
func (s *server) OnShutdown() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.logger.Warn("graceful shutdown cut short", "error", err)
		_ = s.srv.Close()
	}
	<-s.served
	fmt.Println("http server: stopped")
}

func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		s.logger.Info("request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	})
}

// routes is the part every route service shares: finding the registrar.
type routes struct {
	registrar RouteRegistrar
}

func (r *routes) ResolveDependencies(services []servicemesh.Service) {
	for _, s := range services {
		if reg, ok := s.(RouteRegistrar); ok {
			r.registrar = reg
			return
		}
	}
}

func (r *routes) DependenciesResolved() bool { return r.registrar != nil }

// hello answers GET /hello.
type hello struct{ routes }

func (h *hello) Name() string { return "hello routes" }

func (h *hello) Init(servicemesh.Mesh) {
	h.registrar.Handle("GET /hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		fmt.Fprintf(w, "hello, %s\n", name)
	}))
}

// health answers GET /health.
type health struct{ routes }

func (h *health) Name() string { return "health routes" }

func (h *health) Init(servicemesh.Mesh) {
	h.registrar.Handle("GET /health", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
}

func main() {
	defaultAddr := os.Getenv("HTTP_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:8080"
	}
	addr := flag.String("addr", defaultAddr, "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()

	mesh := servicemesh.New("http example")
	srv := newServer(*addr)
	wgs := []interface{ Wait() }{
		mesh.Add(srv),
		mesh.Add(&hello{}),
		mesh.Add(&health{}),
	}
	for _, wg := range wgs {
		wg.Wait()
	}

	mesh.Run()
	if srv.err != nil {
		os.Exit(1)
	}
	fmt.Println("main: stopped cleanly")
}
