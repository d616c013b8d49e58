package leader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gravestench/servicemesh"
)

// errNilTerm is what a campaign that returned neither a term nor an error
// counts as (an Elector other than Etcd's may do it).
var errNilTerm = errors.New("leader: the elector returned no term and no error")

// Serve campaigns, and runs the wrapped Serve while this replica leads
// (see Singleton). It returns nil when ctx ends (shutdown, Remove) or the
// wrapped Serve returned nil while leading, and the wrapped Serve's error
// otherwise, always after resigning.
func (s *singleton) Serve(ctx context.Context) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("%w: %w", servicemesh.ErrDoNotRestart, err)
	}
	backoff := campaignBackoff
	for ctx.Err() == nil {
		term, err := s.elector.Campaign(ctx)
		if err == nil && term == nil {
			err = errNilTerm
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wait := jitter(backoff)
			s.log().Warn("campaign failed: campaigning again after a backoff", "error", err, "backoff", wait)
			if !sleep(ctx, wait) {
				break
			}
			backoff = min(2*backoff, maxCampaignBackoff)
			continue
		}
		backoff = campaignBackoff
		if ctx.Err() != nil { // elected as the mesh stopped it: never start Serve
			s.resign(ctx, term)
			break
		}
		err, lost := s.lead(ctx, term)
		switch {
		case ctx.Err() != nil:
			return nil // what Serve returns once its context has ended is no failure
		case lost:
			s.log().Warn("leadership lost: campaigning again", "token", term.Token(), "serve_returned", err)
			continue
		}
		return err
	}
	return nil
}

// lead runs the wrapped Serve for term, with a context that ends with the
// term or ctx, and resigns once that Serve returned, panicked or ended
// with runtime.Goexit. It reports what Serve returned and whether the
// term had ended before Serve returned (lost, or ctx ended).
func (s *singleton) lead(ctx context.Context, term Term) (err error, lost bool) {
	token := term.Token()
	tctx, cancel := context.WithCancel(withToken(ctx, token))
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-term.Done():
			cancel()
		case <-tctx.Done():
		}
	}()
	defer func() {
		cancel()
		<-watched
		s.leading.Store(nil)
		s.resign(ctx, term)
	}()
	s.leading.Store(&token)
	s.log().Info("leading: serving", "token", token)
	err = s.serve.Serve(tctx)
	select {
	case <-term.Done():
		lost = true
	default:
	}
	return err, lost
}

// resign gives up term, after the wrapped Serve returned. It is not cut
// short by ctx having ended (that is when it matters most); the term bounds
// its own wait (Etcd's by its TTL).
func (s *singleton) resign(ctx context.Context, term Term) {
	if err := term.Resign(context.WithoutCancel(ctx)); err != nil {
		s.log().Warn("resigning failed: the term ends when its lease expires", "token", term.Token(), "error", err)
		return
	}
	s.log().Info("resigned", "token", term.Token())
}

// jitter spreads d by up to a tenth either way, so that replicas that lost
// etcd together do not campaign again together.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
