// Package supervise owns the arithmetic and the bookkeeping of restarting
// a failing Serve: a restart policy with its defaults, the backoff (which
// doubles, is jittered, and saturates: no policy, however large, yields a
// negative or zero wait), the check that a policy can ever give up, and
// Restarts, the count of restarts within the policy's window that decides
// when to give up.
//
// It imports nothing of the mesh but internal/timing. The root package's
// supervisor (supervise.go), one goroutine per Serve, is its caller; the
// root's RestartPolicy converts to Policy, which has the same fields. What
// a restart does to a service (its state, its events, its log lines) is
// the root's.
package supervise

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Policy says when and how often a failing Serve is restarted; its fields
// are the root RestartPolicy's, documented there. A zero field takes its
// default (WithDefaults).
type Policy struct {
	MaxRestarts         int
	Window              time.Duration
	Backoff, MaxBackoff time.Duration
	Jitter              float64
	KeepRunning         bool
}

// Defaults of Policy that are no timing constants.
const (
	defaultMaxRestarts = 5
	defaultJitter      = 0.1
)

// WithDefaults returns p with its zero fields set to the defaults and its
// others made sensible: a Window, Backoff or MaxBackoff of zero or less
// takes its default, MaxBackoff is at least Backoff, and Jitter is 0.1 when
// zero, none when less than zero, and at most 1. MaxRestarts less than zero
// (never restart) stays.
func (p Policy) WithDefaults() Policy {
	if p.MaxRestarts == 0 {
		p.MaxRestarts = defaultMaxRestarts
	}
	if p.Window <= 0 {
		p.Window = timing.RestartWindow
	}
	if p.Backoff <= 0 {
		p.Backoff = timing.RestartBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = timing.RestartMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.Backoff)
	switch {
	case p.Jitter == 0:
		p.Jitter = defaultJitter
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	return p
}

// Unreachable reports whether p, with its defaults, can never give up:
// the backoffs of MaxRestarts restarts (doubling, capped at MaxBackoff,
// without jitter) add up to more than Window, so that restarts never pile
// up within it. A policy that never restarts (MaxRestarts less than zero)
// gives up at once and is not unreachable. The sum saturates, and once
// the backoff has reached MaxBackoff the rest is counted at once: any
// policy is answered in at most about 64 steps.
func (p Policy) Unreachable() bool {
	p = p.WithDefaults()
	if p.MaxRestarts < 0 {
		return false
	}
	var sum time.Duration
	b := p.Backoff
	for n := p.MaxRestarts; n > 0; n-- {
		if b == p.MaxBackoff {
			// The n backoffs left are all MaxBackoff (positive): they add
			// up to more than what the window has left when n*b > left,
			// that is when n > left/b; a sum saturated at the largest
			// Duration never exceeds a Window that is the largest.
			return p.Window < math.MaxInt64 && time.Duration(n) > (p.Window-sum)/b
		}
		sum = addSaturating(sum, b)
		if sum > p.Window {
			return true
		}
		b = doubled(b, p.MaxBackoff)
	}
	return false
}

// doubled returns 2*d, at most limit, without overflowing.
func doubled(d, limit time.Duration) time.Duration {
	if d > limit/2 {
		return limit
	}
	return 2 * d
}

// addSaturating returns a+b for non-negative a and b, at most the largest
// Duration.
func addSaturating(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// jittered spreads d, which is positive, by up to jitter (at most 1) of
// itself either way. The result saturates: it is never zero or negative,
// never less than a tenth of d, and never overflows.
func jittered(d time.Duration, jitter float64) time.Duration {
	if jitter <= 0 {
		return max(d, 1)
	}
	f := float64(d) * (1 + jitter*(2*rand.Float64()-1))
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f < float64(d)/10:
		return max(d/10, 1)
	}
	return max(time.Duration(f), 1)
}
