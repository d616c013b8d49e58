package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// etcdTerm is one term won through etcd (see Etcd). Its fields are set
// before Campaign returns it, and then only read, except what resignOnce
// guards.
type etcdTerm struct {
	election   *concurrency.Election
	sess       *concurrency.Session
	keeper     *keeper
	viewCancel context.CancelFunc // ends the view of the client the term talks through
	ttl        time.Duration      // granted
	token      int64

	watching   sync.WaitGroup // the key watcher (watchKey)
	resignOnce sync.Once
	resignErr  error // written once, under resignOnce
}

// Done is closed when the term ended (Term).
func (t *etcdTerm) Done() <-chan struct{} { return t.keeper.lost }

// Token is the create revision of the term's election key (Term).
func (t *etcdTerm) Token() int64 { return t.token }

// Resign ends the term: Done is closed first, then the election key is
// deleted (unless the term was lost already: then another may lead) and
// the lease revoked, within ctx and at most the TTL (after which the lease
// has expired anyway; for a lost term, at most cleanupTimeout). Later calls
// return the first call's result.
func (t *etcdTerm) Resign(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	t.resignOnce.Do(func() {
		wasLost := t.keeper.isLost()
		bound := t.ttl
		if wasLost { // another may lead: only the revoke is left, and it is no must
			bound = min(bound, cleanupTimeout)
		}
		rctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		stop := context.AfterFunc(rctx, t.viewCancel) // cuts the session's revoke short too
		defer stop()
		t.keeper.lose()
		var err error
		if !wasLost {
			err = t.election.Resign(rctx)
		}
		err = errors.Join(err, t.sess.Close())
		t.viewCancel()
		t.watching.Wait()
		if err != nil && !wasLost {
			t.resignErr = fmt.Errorf("leader: resigning term %d: %w", t.token, err)
		}
	})
	return t.resignErr
}

// abandon gives up a campaign that did not lead to a term: its lease is
// revoked within cleanupTimeout (its key goes with it).
func (t *etcdTerm) abandon() {
	t.keeper.lose()
	stop := time.AfterFunc(cleanupTimeout, t.viewCancel)
	_ = t.sess.Close()
	stop.Stop()
	t.viewCancel()
}

// watchKey ends the term when its election key is deleted by anyone else
// than Resign (an operator, a revoked lease), watching from rev on (just
// after it was last seen). A watch that ends while the term goes on (the
// revision it started from was compacted, as it is for a replica that
// waited long as a standby; etcd lost its leader) is not a delete seen: the
// key is read again, and the term ends unless it is still there, with the
// term's create revision; then it is watched again from that read. It stops
// when the term ends or the view's context does (Resign).
func (t *etcdTerm) watchKey(ctx context.Context, view *clientv3.Client, rev int64) {
	key := t.election.Key()
	t.watching.Add(1)
	go func() {
		defer t.watching.Done()
		for {
			if t.watchDeletes(ctx, view, key, rev) {
				t.keeper.lose()
				return
			}
			var ok bool
			if rev, ok = t.recheck(ctx, view, key); !ok {
				return
			}
		}
	}()
}

// watchDeletes watches key from rev until it is deleted (true), or the
// watch, the term or ctx ended (false).
func (t *etcdTerm) watchDeletes(ctx context.Context, view *clientv3.Client, key string, rev int64) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := view.Watch(wctx, key, clientv3.WithRev(rev), clientv3.WithFilterPut())
	for {
		select {
		case <-t.keeper.lost:
			return false
		case resp, ok := <-wch:
			if !ok {
				return false
			}
			for _, ev := range resp.Events {
				if ev.Type == mvccpb.DELETE {
					return true
				}
			}
		}
	}
}

// recheck reads key after its watch ended, until it is read or the term or
// ctx ended, and returns the revision to watch from next. It reports false
// when the watching is over: the term or ctx ended, or the key is gone or
// is another term's (then the term is ended).
func (t *etcdTerm) recheck(ctx context.Context, view *clientv3.Client, key string) (int64, bool) {
	for ctx.Err() == nil && !t.keeper.isLost() {
		gctx, cancel := context.WithTimeout(ctx, t.ttl)
		resp, err := view.Get(gctx, key)
		cancel()
		if err == nil {
			if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != t.token {
				t.keeper.lose()
				return 0, false
			}
			return resp.Header.Revision + 1, true
		}
		retry := time.NewTimer(retryDelay)
		select {
		case <-ctx.Done():
		case <-t.keeper.lost:
		case <-retry.C:
		}
		retry.Stop()
	}
	return 0, false
}
