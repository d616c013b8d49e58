package httpserver

import (
	"context"
	"fmt"
)

// The stop: srv.Shutdown within the stop deadline, then srv.Close.

// OnShutdownContext stops the Server (servicemesh.HasShutdownContext):
// it stops being ready, closes a listener not yet served, calls
// srv.Shutdown(ctx), which stops accepting and waits for the requests in
// flight until they finish or ctx ends (the mesh's stop deadline, see
// servicemesh.SetShutdownTimeout), then srv.Close, which closes the
// connections still open, and waits for srv.Serve to return. It returns
// srv.Shutdown's error, naming the service: when ctx ended first it wraps
// ctx's error, which the mesh reports as servicemesh.ErrStopTimeout. Like
// srv.Shutdown, it neither waits for nor closes hijacked connections
// (WebSockets): see http.Server.RegisterOnShutdown.
//
// The stop happens once. Called without a start (nothing bound), it
// returns nil, and the Server can no longer start. Called again, it waits
// for the first call to end, or for ctx, and returns nil, or ctx's error.
func (s *Server) OnShutdownContext(ctx context.Context) error {
	if s == nil || s.srv == nil || s.owner != "" {
		return nil // nothing of its own to stop
	}
	s.mu.Lock()
	if s.stopping != nil {
		done := s.stopping
		s.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	defer close(done)
	s.stopping = done
	s.ready.Store(false)
	ln, run, bound := s.ln, s.run, s.addr != nil
	s.ln = nil
	s.mu.Unlock()
	if !bound {
		return nil
	}
	if ln != nil {
		_ = ln.Close()
	}
	err := s.srv.Shutdown(ctx)
	if cerr := s.srv.Close(); err == nil {
		err = cerr
	}
	if run != nil {
		<-run.done // srv.Serve returns at once once srv is shut down
	}
	if err != nil {
		return fmt.Errorf("httpserver %q: shutdown: %w", s.name, err)
	}
	return nil
}
