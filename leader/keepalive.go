package leader

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// keeper keeps one lease alive, one keep-alive at a time, and knows until
// when the lease is surely alive: the send time of the last keep-alive that
// etcd answered plus the TTL it granted minus a quarter of it (etcd counts
// the TTL from when it received the keep-alive, which is after it was
// sent). At that deadline, or when etcd says the lease is gone, lost is
// closed. The deadline is guarded by mu; the loop (run) is the only writer
// of renewals, the deadline timer and lose the only closers of lost.
type keeper struct {
	lease clientv3.Lease
	id    clientv3.LeaseID
	ttl   time.Duration // granted when the lease was

	mu       sync.Mutex
	deadline time.Time   // guarded by mu
	timer    *time.Timer // guarded by mu: fires at deadline
	lost     chan struct{}
	lostOnce sync.Once
	started  sync.Once
}

// newKeeper returns the keeper of lease id, granted ttl for a request sent
// at sent.
func newKeeper(lease clientv3.Lease, id clientv3.LeaseID, sent time.Time, ttl time.Duration) *keeper {
	k := &keeper{lease: lease, id: id, ttl: ttl, lost: make(chan struct{})}
	k.mu.Lock()
	k.deadline = termEnd(sent, ttl)
	k.timer = time.AfterFunc(time.Until(k.deadline), k.expire)
	k.mu.Unlock()
	return k
}

// termEnd is when a lease granted or renewed for ttl by a request sent at
// sent may no longer be counted on: a quarter of the TTL before etcd could
// expire it.
func termEnd(sent time.Time, ttl time.Duration) time.Time {
	return sent.Add(ttl - ttl/4)
}

// until returns the deadline: when the lease stops being counted on,
// unless a renewal moves it.
func (k *keeper) until() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.deadline
}

// expire closes lost if the deadline has passed (the timer may fire just
// as a renewal moved it).
func (k *keeper) expire() {
	k.mu.Lock()
	passed := !time.Now().Before(k.deadline)
	if !passed {
		k.timer.Reset(time.Until(k.deadline))
	}
	k.mu.Unlock()
	if passed {
		k.lose()
	}
}

// renewed records a keep-alive sent at sent and answered with ttl. It
// reports false when the lease is lost: a renewal that comes too late does
// not bring it back.
func (k *keeper) renewed(sent time.Time, ttl time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.isLost() {
		return false
	}
	if d := termEnd(sent, ttl); d.After(k.deadline) {
		k.deadline = d
		k.timer.Reset(time.Until(d))
	}
	return true
}

// lose ends the lease's use, once: lost is closed and the timer stopped.
func (k *keeper) lose() {
	k.lostOnce.Do(func() {
		close(k.lost)
		k.mu.Lock()
		k.timer.Stop()
		k.mu.Unlock()
	})
}

// isLost reports whether lost is closed.
func (k *keeper) isLost() bool {
	select {
	case <-k.lost:
		return true
	default:
		return false
	}
}

// interval is the pause between two keep-alives for a TTL of ttl.
func interval(ttl time.Duration) time.Duration {
	return ttl / renewalsPerTTL
}

// run sends a keep-alive every interval until ctx ends or the lease is
// lost, and passes each answer on to ch (dropping it if nobody reads:
// the session only drains it); ch is closed when run returns, which ends
// the session.
func (k *keeper) run(ctx context.Context, ttl time.Duration, ch chan<- *clientv3.LeaseKeepAliveResponse) {
	defer close(ch)
	wait := time.NewTimer(interval(ttl))
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.lost:
			return
		case <-wait.C:
		}
		resp, ok := k.renew(ctx)
		if !ok {
			return
		}
		select {
		case ch <- resp:
		default:
		}
		wait.Reset(interval(time.Duration(resp.TTL) * time.Second))
	}
}

// renew sends keep-alives until one is answered, the deadline passes, etcd
// says the lease is gone, or ctx ends (false for all but the first).
func (k *keeper) renew(ctx context.Context) (*clientv3.LeaseKeepAliveResponse, bool) {
	for {
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, k.until())
		resp, err := k.lease.KeepAliveOnce(rctx, k.id)
		cancel()
		switch {
		case err == nil && resp.TTL > 0:
			return resp, k.renewed(sent, time.Duration(resp.TTL)*time.Second)
		case ctx.Err() != nil:
			return nil, false
		case errors.Is(err, rpctypes.ErrLeaseNotFound), err == nil:
			k.lose()
			return nil, false
		}
		retry := time.NewTimer(retryDelay)
		select {
		case <-ctx.Done():
		case <-k.lost:
		case <-retry.C:
		}
		retry.Stop()
		if ctx.Err() != nil || k.isLost() {
			return nil, false
		}
	}
}

// keeperLease is the etcd client's Lease, except that the keep-alives of
// the keeper's lease are the keeper's: the session then ends when the
// keeper's loop does.
type keeperLease struct {
	clientv3.Lease
	k *keeper
}

// KeepAlive starts the keeper's loop for its lease (once), or passes any
// other lease on to the client.
func (l keeperLease) KeepAlive(ctx context.Context, id clientv3.LeaseID) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	if id != l.k.id {
		return l.Lease.KeepAlive(ctx, id)
	}
	ch := make(chan *clientv3.LeaseKeepAliveResponse, 1)
	started := false
	l.k.started.Do(func() {
		started = true
		go l.k.run(ctx, l.k.ttl, ch)
	})
	if !started {
		return nil, errors.New("leader: the lease is kept alive already")
	}
	return ch, nil
}
