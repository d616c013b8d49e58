package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/gravestench/servicemesh"
)

// Serving: the goroutine that runs srv.Serve on the bound listener, owned
// by the Server, and what Serve returns when it ends.

// Serve serves srv on the listener bound by InitContext, with srv.Serve on
// a goroutine the Server owns, and returns nil when ctx ends, leaving that
// goroutine serving until OnShutdownContext stops it.
//
// If srv.Serve returns by itself while ctx is live, Serve returns its
// error, and the Server is not ready until it serves again:
//
//   - an accept that failed for good (the listener is then closed) is
//     returned as it is, so the mesh's restart policy restarts Serve, which
//     binds the same address again (the same port, also when srv.Addr asked
//     for port 0), not ready while it cannot;
//   - http.ErrServerClosed (srv.Shutdown or srv.Close called outside the
//     Server's stop) is wrapped with servicemesh.ErrDoNotRestart: a shut
//     down *http.Server never serves again, so the service fails for good
//     (and the mesh fails fast unless kept running). If the Server's own
//     OnShutdownContext did it, Serve returns nil.
//
// Serve before InitContext bound an address, or once the stop has begun
// (ErrStopped), returns an error wrapping servicemesh.ErrDoNotRestart, and
// serves nothing. A second Serve while one is under way serves nothing more:
// it waits as the first does.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return fmt.Errorf("%w (%w)", err, servicemesh.ErrDoNotRestart)
	}
	r, err := s.startServing()
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return nil
	case <-r.done:
	}
	if ctx.Err() != nil {
		return nil
	}
	s.mu.Lock()
	stopping, addr := s.stopping != nil, s.addr
	s.mu.Unlock()
	switch {
	case stopping:
		return nil
	case errors.Is(r.err, http.ErrServerClosed):
		return fmt.Errorf("httpserver %q: closed outside its stop, it cannot serve again: %w (%w)",
			s.name, r.err, servicemesh.ErrDoNotRestart)
	default:
		return fmt.Errorf("httpserver %q: serving on %s: %w", s.name, addr, r.err)
	}
}

// startServing starts srv.Serve on the bound listener, binding the bound
// address again if srv.Serve lost it, unless a call is under way: it
// returns that one.
func (s *Server) startServing() (*serving, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping != nil:
		return nil, fmt.Errorf("httpserver %q: Serve after the stop: %w (%w)", s.name, ErrStopped, servicemesh.ErrDoNotRestart)
	case s.addr == nil:
		return nil, fmt.Errorf("httpserver %q: Serve before InitContext bound an address (%w)", s.name, servicemesh.ErrDoNotRestart)
	case s.run != nil:
		return s.run, nil
	}
	ln := s.ln
	if ln == nil { // srv.Serve failed and closed it: bind the same address again
		var err error
		if ln, err = net.Listen("tcp", s.addr.String()); err != nil {
			return nil, fmt.Errorf("httpserver %q: listen again on %s: %w", s.name, s.addr, err)
		}
		s.ready.Store(true)
		if l := s.Logger(); l != nil {
			l.Info("listening again", "addr", s.addr.String())
		}
	}
	s.ln = nil
	r := &serving{done: make(chan struct{})}
	s.run = r
	go s.serve(r, ln)
	return r, nil
}

// serve runs srv.Serve on ln until it returns, which closes ln.
func (s *Server) serve(r *serving, ln net.Listener) {
	err := s.srv.Serve(ln)
	s.mu.Lock()
	r.err = err
	s.run = nil
	s.ready.Store(false)
	s.mu.Unlock()
	close(r.done)
}
