package supervise

import (
	"fmt"
	"time"
)

// Restarts is the bookkeeping of one supervisor: the restarts within the
// policy's Window and the backoff before the next. It belongs to the
// supervisor's goroutine; it reads no clock of its own, the caller says
// when things happened. Its zero value is not ready: use NewRestarts.
type Restarts struct {
	p       Policy
	at      []time.Time   // the restarts within the window, oldest first
	backoff time.Duration // the wait before the next restart, unjittered
}

// NewRestarts returns the bookkeeping of a supervisor under p, which has
// its defaults (Policy.WithDefaults): no restart yet, the first backoff.
func NewRestarts(p Policy) Restarts {
	return Restarts{p: p, backoff: p.Backoff}
}

// Failed notes that a Serve that began at began failed at now, and
// reports whether to give up. A Serve that ran for longer than Window
// starts over with a clean count and the first backoff; restarts older
// than Window no longer count. It gives up when the policy allows no
// restart or the restarts within Window have reached MaxRestarts.
func (r *Restarts) Failed(began, now time.Time) (giveUp bool) {
	if now.Sub(began) > r.p.Window { // it had been fine for a while
		r.at, r.backoff = r.at[:0], r.p.Backoff
	}
	for len(r.at) > 0 && now.Sub(r.at[0]) > r.p.Window {
		r.at = r.at[1:]
	}
	return r.p.MaxRestarts < 0 || len(r.at) >= r.p.MaxRestarts
}

// Restart notes a restart decided at now (after Failed said not to give
// up) and returns the wait before it: the backoff, jittered, never zero or
// negative. The next backoff is doubled, at most MaxBackoff.
func (r *Restarts) Restart(now time.Time) (wait time.Duration) {
	r.at = append(r.at, now)
	wait = jittered(r.backoff, r.p.Jitter)
	r.backoff = doubled(r.backoff, r.p.MaxBackoff)
	return wait
}

// GiveUpError is the error of a give-up after Failed said so, wrapping
// last, the error of the Serve that failed last.
func (r *Restarts) GiveUpError(last error) error {
	if r.p.MaxRestarts < 0 {
		return fmt.Errorf("gave up: its policy allows no restart: %w", last)
	}
	return fmt.Errorf("gave up after %d restarts within %v: %w", len(r.at), r.p.Window, last)
}
