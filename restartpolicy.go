package servicemesh

// Restart policies: RestartPolicy, the mesh's (SetRestartPolicy, an atomic
// pointer) and a service's own (read once at Add, kept in its entry). Its
// defaults and the backoff arithmetic, which saturates (no policy, however
// large, yields a negative or zero wait), are internal/supervise's; the
// types have the same fields and convert.

import (
	"time"

	"github.com/gravestench/servicemesh/internal/supervise"
)

// RestartPolicy says when and how often a failing Serve is restarted. A
// zero field takes its default.
type RestartPolicy struct {
	// MaxRestarts is how many restarts Window allows; one more failure
	// within it and the mesh gives up. Default 5; less than zero: never
	// restart.
	MaxRestarts int
	// Window is the span over which restarts are counted. Default 30 s. A
	// Serve that ran for longer than Window before it failed starts over
	// with a clean count and the first backoff.
	Window time.Duration
	// Backoff is the wait before the first restart, doubled at each one up
	// to MaxBackoff. Defaults 100 ms and 15 s.
	Backoff, MaxBackoff time.Duration
	// Jitter spreads each wait by up to this fraction either way, so that
	// services failing together do not restart together. Default 0.1;
	// less than zero: none; at most 1.
	Jitter float64
	// KeepRunning keeps the mesh running when the service fails for good,
	// whatever the failure (a give-up, a failed Init, a resolution
	// timeout...), instead of shutting it down (fail fast): the service
	// is StateFailed, the health package's /livez reports it, and
	// RunContext returns the failure once the mesh shuts down. In the
	// mesh's policy it applies to every service without a policy of its
	// own.
	KeepRunning bool
}

// withDefaults returns p with its zero fields set to the defaults and its
// others made sensible (supervise.Policy.WithDefaults).
func (p RestartPolicy) withDefaults() RestartPolicy {
	return RestartPolicy(supervise.Policy(p).WithDefaults())
}

// SetRestartPolicy sets the mesh's restart policy, for services that have
// none of their own (HasRestartPolicy). It applies to Serves that start
// after the call, and its KeepRunning to failures after the call. A policy
// whose MaxRestarts can never be reached within its Window at its backoff
// is reported at level Warn. It reports false, doing nothing, when m was
// not made by New.
func SetRestartPolicy(m Mesh, p RestartPolicy) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.restartPolicy.Store(&p)
	mm.warnUnreachable("the mesh's", p)
	return true
}

// ownPolicy returns svc's own restart policy, with its defaults, read once
// at Add, or nil when it has none. A RestartPolicy method that panics
// counts as none. An unreachable MaxRestarts is reported at Warn.
func (m *mesh) ownPolicy(svc Service, name string) *RestartPolicy {
	h, ok := svc.(HasRestartPolicy)
	if !ok {
		return nil
	}
	var p RestartPolicy
	if m.guard(name, "RestartPolicy", func() { p = h.RestartPolicy() }) != nil {
		return nil
	}
	m.warnUnreachable(name+"'s", p)
	p = p.withDefaults()
	return &p
}

// warnUnreachable logs at Warn when p can never give up: the backoffs of
// MaxRestarts restarts (doubling, capped at MaxBackoff, without jitter) add
// up to more than Window, so that restarts never pile up within it
// (supervise.Policy.Unreachable).
func (m *mesh) warnUnreachable(whose string, p RestartPolicy) {
	if !supervise.Policy(p).Unreachable() {
		return
	}
	p = p.withDefaults()
	m.logger.Warn("restart policy never gives up: its MaxRestarts restarts cannot happen within its Window at its backoff",
		"policy", whose, "max_restarts", p.MaxRestarts, "window", p.Window, "backoff", p.Backoff, "max_backoff", p.MaxBackoff)
}
