package leader

import (
	"context"
	"log/slog"

	"github.com/gravestench/servicemesh"
)

// Go cannot make a type implement an interface only when the value it
// wraps does, so the singleton implements every optional interface whose
// trivial answer means the same to the mesh as not implementing it (no
// requirements, no stop, a health check that passes, ready), and comes in
// one of four types for the two whose mere presence changes what the mesh
// does: HasDependencies (the mesh resolves, and tells resolution events,
// for a service that has it) and HasRestartPolicy (a service's own policy
// replaces the mesh's).

// withDeps is a singleton whose service has dependencies.
type withDeps struct{ *singleton }

// withPolicy is a singleton whose service has a restart policy.
type withPolicy struct{ *singleton }

// withDepsPolicy is a singleton whose service has both.
type withDepsPolicy struct{ *singleton }

// wrap returns s as the type that forwards what its service has.
func (s *singleton) wrap() servicemesh.Service {
	_, deps := s.svc.(servicemesh.HasDependencies)
	_, policy := s.svc.(servicemesh.HasRestartPolicy)
	switch {
	case deps && policy:
		s.outer = &withDepsPolicy{s}
	case deps:
		s.outer = &withDeps{s}
	case policy:
		s.outer = &withPolicy{s}
	default:
		s.outer = s
	}
	return s.outer
}

// DependenciesResolved forwards to the wrapped service.
func (w *withDeps) DependenciesResolved() bool { return w.deps().DependenciesResolved() }

// ResolveDependencies forwards to the wrapped service.
func (w *withDeps) ResolveDependencies(services []servicemesh.Service) {
	w.deps().ResolveDependencies(services)
}

// RestartPolicy forwards to the wrapped service.
func (w *withPolicy) RestartPolicy() servicemesh.RestartPolicy { return w.policy().RestartPolicy() }

// DependenciesResolved forwards to the wrapped service.
func (w *withDepsPolicy) DependenciesResolved() bool { return w.deps().DependenciesResolved() }

// ResolveDependencies forwards to the wrapped service.
func (w *withDepsPolicy) ResolveDependencies(services []servicemesh.Service) {
	w.deps().ResolveDependencies(services)
}

// RestartPolicy forwards to the wrapped service.
func (w *withDepsPolicy) RestartPolicy() servicemesh.RestartPolicy { return w.policy().RestartPolicy() }

func (s *singleton) deps() servicemesh.HasDependencies {
	return s.svc.(servicemesh.HasDependencies) // wrap chose the type for it
}

func (s *singleton) policy() servicemesh.HasRestartPolicy {
	return s.svc.(servicemesh.HasRestartPolicy) // wrap chose the type for it
}

// SetLogger keeps logger for the singleton's own lines and passes it on to
// the wrapped service if it has a logger.
func (s *singleton) SetLogger(logger *slog.Logger) {
	s.logger.Store(logger)
	if l, ok := s.svc.(servicemesh.HasLogger); ok {
		l.SetLogger(logger)
	}
}

// Logger returns the wrapped service's logger, or the singleton's own.
func (s *singleton) Logger() *slog.Logger {
	if l, ok := s.svc.(servicemesh.HasLogger); ok {
		return l.Logger()
	}
	return s.logger.Load()
}

// Requirements forwards to the wrapped service; none if it has none.
func (s *singleton) Requirements() []servicemesh.Requirement {
	if r, ok := s.svc.(servicemesh.HasRequirements); ok {
		return r.Requirements()
	}
	return nil
}

// OnShutdownContext forwards to the wrapped service's OnShutdownContext,
// or its OnShutdown; nothing to do if it has neither.
func (s *singleton) OnShutdownContext(ctx context.Context) error {
	switch sh := s.svc.(type) {
	case servicemesh.HasShutdownContext:
		return sh.OnShutdownContext(ctx)
	case servicemesh.HasGracefulShutdown:
		sh.OnShutdown()
	}
	return nil
}

// HealthCheck forwards to the wrapped service, on every replica (its Init
// ran everywhere); it passes if it has none.
func (s *singleton) HealthCheck(ctx context.Context) error {
	if h, ok := s.svc.(servicemesh.HasHealthCheck); ok {
		return h.HealthCheck(ctx)
	}
	return nil
}

// Ready is true on a standby replica; on the leader it is the wrapped
// service's Ready, or true if it has none.
func (s *singleton) Ready() bool {
	if s.leading.Load() == nil {
		return true
	}
	if r, ok := s.svc.(servicemesh.HasReadiness); ok {
		return r.Ready()
	}
	return true
}
