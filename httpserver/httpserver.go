package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/gravestench/servicemesh"
)

// DefaultName is the name of a Server made by New with an empty name.
const DefaultName = "http server"

// ErrStopped is wrapped by the error of InitContext or Serve called once
// the Server's stop (OnShutdownContext) has begun: an *http.Server that was
// shut down never serves again.
var ErrStopped = errors.New("httpserver: server stopped")

// Server is a service (servicemesh.Service) that binds, serves and stops
// one *http.Server. It implements servicemesh.HasInitContext, HasServe,
// HasShutdownContext, HasReadiness and HasLogger. Make it with New; every
// method is safe for concurrent use, and none panics, also on a nil
// *Server.
//
// Its lifecycle, as the mesh drives it:
//
//   - InitContext binds srv.Addr ("" means ":http", as in net/http); the
//     Server is ready from then on, and Addr gives the bound address.
//   - Serve runs srv.Serve on that listener, on a goroutine the Server owns,
//     and returns nil when its context ends, leaving the server running:
//     the mesh ends Serve's context before it calls OnShutdownContext, and
//     requests in flight must go on until then.
//   - OnShutdownContext stops being ready, drains with srv.Shutdown until
//     the stop deadline, closes with srv.Close and waits for srv.Serve to
//     return.
//
// A Server, like the *http.Server it holds, serves one run: once its stop
// began it cannot start again (InitContext and Serve return errors wrapping
// ErrStopped). Removing it from the mesh (Mesh.Remove) ends Serve's context
// but calls no OnShutdownContext, so the server goes on serving: call
// OnShutdownContext yourself to stop it, or Add it again, which hands the
// running server back to the mesh without binding again.
type Server struct {
	name  string
	srv   *http.Server
	owner string // the Server that srv already belonged to at New, or ""

	ready  atomic.Bool
	logger atomic.Pointer[slog.Logger]

	mu       sync.Mutex    // guards the fields below
	ln       net.Listener  // bound and not yet handed to srv.Serve
	addr     net.Addr      // the bound address; nil before the bind
	run      *serving      // the srv.Serve under way, or nil
	stopping chan struct{} // made when the stop begins, closed when it ends
}

// serving is one call of srv.Serve, on a goroutine of the Server.
type serving struct {
	done chan struct{} // closed once srv.Serve has returned
	err  error         // what it returned; read after done
}

// claims maps every *http.Server given to New, for as long as it lives, to
// the name of the Server made for it first.
var claims = struct {
	sync.Mutex
	owner map[weak.Pointer[http.Server]]string
}{owner: map[weak.Pointer[http.Server]]string{}}

// New returns a service named name (DefaultName if empty) that serves srv.
// New itself does no I/O and never fails: a problem with its arguments
// fails the service's start (InitContext), where the mesh reports it, with
// an error naming the service:
//
//   - a nil srv;
//   - an srv already given to New before (one *http.Server belongs to the
//     first Server made for it, for as long as it exists: two Servers
//     sharing it would stop each other).
//
// The mesh needs nothing else from srv: its Handler, timeouts and ErrorLog
// are used as set, and srv.Addr is read at the start.
func New(name string, srv *http.Server) *Server {
	if name == "" {
		name = DefaultName
	}
	s := &Server{name: name, srv: srv}
	if srv == nil {
		return s
	}
	key := weak.Make(srv)
	claims.Lock()
	defer claims.Unlock()
	if owner, taken := claims.owner[key]; taken {
		s.owner = owner
		return s
	}
	claims.owner[key] = name
	runtime.AddCleanup(srv, func(key weak.Pointer[http.Server]) {
		claims.Lock()
		delete(claims.owner, key)
		claims.Unlock()
	}, key)
	return s
}

// Name returns the name given to New, or DefaultName.
func (s *Server) Name() string {
	if s == nil {
		return DefaultName
	}
	return s.name
}

// SetLogger is called by the mesh with the service's logger
// (servicemesh.HasLogger). The Server logs the address it is bound to at
// level Info, and nothing else: failures reach the mesh as errors.
func (s *Server) SetLogger(logger *slog.Logger) {
	if s != nil {
		s.logger.Store(logger)
	}
}

// Logger returns the logger given to SetLogger, or nil.
func (s *Server) Logger() *slog.Logger {
	if s == nil {
		return nil
	}
	return s.logger.Load()
}

// Init is there for servicemesh.Service: the mesh calls InitContext
// instead. Called directly, it binds as InitContext does, without a
// context; a failure is logged (SetLogger) and leaves the Server not ready,
// with Addr nil.
func (s *Server) Init(mesh servicemesh.Mesh) {
	if err := s.InitContext(context.Background(), mesh); err != nil {
		if l := s.Logger(); l != nil {
			l.Error("start failed", "error", err)
		}
	}
}

// InitContext binds srv.Addr with net.Listen("tcp", addr), "" meaning
// ":http" as in net/http, and makes the Server ready. Binding is the whole
// start: a port in use, an address that does not resolve or a permission
// refused fails it, with an error that names the address and wraps the
// listen error (a *net.OpError). So do a nil srv, an srv that belongs to
// another Server (see New), and a Server whose stop has begun (ErrStopped).
// A start that ctx cut short (the mesh's start timeout, or its shutdown)
// closes what it bound and returns the cause.
//
// Called again on a Server that is bound and not stopped (the Server was
// removed from the mesh and added again), it binds nothing and returns nil:
// the server it runs is handed back to the mesh as it is.
func (s *Server) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping != nil {
		return fmt.Errorf("httpserver %q: start after the stop: %w", s.name, ErrStopped)
	}
	if s.addr != nil {
		return nil
	}
	addr := s.srv.Addr
	if addr == "" {
		addr = ":http"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("httpserver %q: listen on %s: %w", s.name, addr, err)
	}
	if ctx.Err() != nil {
		// The mesh stops no service whose start failed: keep nothing bound.
		_ = ln.Close()
		return fmt.Errorf("httpserver %q: start on %s cut short: %w", s.name, addr, context.Cause(ctx))
	}
	s.ln, s.addr = ln, ln.Addr()
	s.ready.Store(true)
	if l := s.Logger(); l != nil {
		l.Info("listening", "addr", s.addr.String())
	}
	return nil
}

// Ready reports whether the Server is bound and serves or is about to
// (servicemesh.HasReadiness): true from the bind in InitContext until its
// stop begins, except while srv.Serve, having failed by itself, waits for
// its restart. Connections that arrive between the bind and the start of
// Serve wait in the listener's backlog; none is refused.
func (s *Server) Ready() bool {
	return s != nil && s.ready.Load()
}

// Addr returns the address InitContext bound, such as 127.0.0.1:41234 for
// an srv.Addr of "127.0.0.1:0", or nil before the bind (and for a Server
// whose start failed). It stays the same after the stop.
func (s *Server) Addr() net.Addr {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// usable reports why s cannot start or serve: a nil Server, a nil
// *http.Server, or one that belongs to another Server.
func (s *Server) usable() error {
	switch {
	case s == nil:
		return errors.New("httpserver: nil *Server (make it with New)")
	case s.srv == nil:
		return fmt.Errorf("httpserver %q: nil *http.Server given to New", s.name)
	case s.owner != "":
		return fmt.Errorf("httpserver %q: its *http.Server was already given to New for %q: one Server per *http.Server", s.name, s.owner)
	}
	return nil
}

// Interfaces the mesh looks for.
var (
	_ servicemesh.HasInitContext     = (*Server)(nil)
	_ servicemesh.HasServe           = (*Server)(nil)
	_ servicemesh.HasShutdownContext = (*Server)(nil)
	_ servicemesh.HasReadiness       = (*Server)(nil)
	_ servicemesh.HasLogger          = (*Server)(nil)
)
