package leader

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"

	"github.com/gravestench/servicemesh"
)

// singleton is what Singleton returns (through one of the types of
// forward.go). Its configuration fields are set by Singleton and only read
// afterwards; the others are atomics, written by its own Serve and
// SetLogger and read from any goroutine.
type singleton struct {
	svc     servicemesh.Service  // the wrapped service; nil is bad input
	serve   servicemesh.HasServe // svc's Serve, nil when it has none
	elector Elector
	outer   servicemesh.Service // the value added to the mesh (see forward.go)

	logger  atomic.Pointer[slog.Logger]
	leading atomic.Pointer[int64] // the token of the term under way, nil on standby
}

// Singleton returns svc as a service that runs its Serve only in the
// replica that leads the election e. Add it to the mesh of every replica:
//
//	app.Add(leader.Singleton(&Cron{}, leader.Etcd(client, "/myapp/cron/")))
//
// It is named as svc is; its Init (or InitContext) runs on every replica,
// and it forwards the optional interfaces of svc (servicemesh's HasLogger,
// HasDependencies, HasRequirements, HasInitContext, HasGracefulShutdown,
// HasShutdownContext, HasHealthCheck, HasReadiness, HasRestartPolicy and
// the EventHandler* interfaces; HealthCheck is asked on every replica,
// standbys too, Ready only on the leader). Its Serve campaigns; once
// elected it runs svc's Serve with a context that ends when the term does,
// carrying the term's token (TokenFrom). When that Serve returns, or the
// mesh ends the singleton's Serve (shutdown, Remove), it ends the term's
// context, waits for svc's Serve to return, and only then resigns, so that
// another replica takes over at once and no two terms overlap.
//
// svc's Serve returning nil while leading resigns and ends the service; an
// error resigns and is returned to the mesh, which restarts the singleton
// by its restart policy: it then campaigns again. A term lost (this replica
// cut off from etcd) ends svc's Serve's context, whatever it then returns,
// and the singleton campaigns again; a campaign that fails is retried with
// backoff, logged at Warn, and is not a failure. A replica whose mesh is
// shutting down stops campaigning and never starts svc's Serve. A Serve of
// svc that ignores its context cannot be stopped: the singleton keeps
// leading until it returns, unless the term is lost (then another replica
// can be elected while it runs: see TokenFrom). On a standby replica the
// singleton is ready (HasReadiness) and its StatusDetail reads "standby";
// on the leader "leader (token N)" (followed by svc's own StatusDetail, if
// it has one).
//
// Bad input is never a panic: a nil svc, an svc without Serve, a nil e
// (either also when it is a nil pointer of some type), or an elector made
// with bad input (a nil client, an empty prefix) fails the singleton's
// InitContext with an error that names it.
func Singleton(svc servicemesh.Service, e Elector) servicemesh.Service {
	if isNil(svc) { // a nil pointer in svc is nil too: its methods cannot be called
		svc = nil
	}
	if isNil(e) {
		e = nil
	}
	s := &singleton{svc: svc, elector: e}
	s.serve, _ = svc.(servicemesh.HasServe)
	return s.wrap()
}

// isNil reports whether v is nil, or a nil pointer, map, slice, func,
// channel or interface held in an interface (the mesh treats a service
// the same way).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// Name is the wrapped service's name.
func (s *singleton) Name() string {
	if s.svc == nil {
		return "leader.Singleton(nil)"
	}
	return s.svc.Name()
}

// check reports the bad input the singleton was made with, if any.
func (s *singleton) check() error {
	switch {
	case s.svc == nil:
		return fmt.Errorf("%w: leader.Singleton needs a service", ErrNilService)
	case s.serve == nil:
		return fmt.Errorf("%w: %q (%T) has no Serve(ctx) error method; only a Serve runs in the leader alone", ErrNoServe, s.svc.Name(), s.svc)
	case s.elector == nil:
		return fmt.Errorf("%w: for %q", ErrNilElector, s.svc.Name())
	}
	if c, ok := s.elector.(checker); ok {
		if err := c.check(); err != nil {
			return fmt.Errorf("leader.Singleton %q: %w", s.svc.Name(), err)
		}
	}
	return nil
}

// InitContext checks the singleton's input, then runs the wrapped
// service's InitContext, or its Init.
func (s *singleton) InitContext(ctx context.Context, mesh servicemesh.Mesh) error {
	if err := s.check(); err != nil {
		return err
	}
	if ic, ok := s.svc.(servicemesh.HasInitContext); ok {
		return ic.InitContext(ctx, mesh)
	}
	s.svc.Init(mesh)
	return nil
}

// Init is InitContext without a context, for callers outside a mesh (the
// mesh calls InitContext); bad input is logged at Error.
func (s *singleton) Init(mesh servicemesh.Mesh) {
	if err := s.InitContext(context.Background(), mesh); err != nil {
		s.log().Error("singleton not started", "error", err)
	}
}

// StatusDetail says whether this replica leads: "leader (token N)" or
// "standby" (servicemesh.HasStatusDetail), followed by ": " and the
// wrapped service's own StatusDetail if it has one that is not empty.
func (s *singleton) StatusDetail() string {
	detail := "standby"
	if t := s.leading.Load(); t != nil {
		detail = fmt.Sprintf("leader (token %d)", *t)
	}
	if d, ok := s.svc.(servicemesh.HasStatusDetail); ok {
		if own := d.StatusDetail(); own != "" {
			detail += ": " + own
		}
	}
	return detail
}

// Leading reports whether this replica leads now, and the term's token.
func (s *singleton) Leading() (token int64, ok bool) {
	if t := s.leading.Load(); t != nil {
		return *t, true
	}
	return 0, false
}

// log returns the logger the mesh gave, or the default one.
func (s *singleton) log() *slog.Logger {
	if l := s.logger.Load(); l != nil {
		return l
	}
	return slog.Default().With("service", s.Name())
}
