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
// than Resign (an operator, a revoked lease), watching from just after the
// election. It stops when the view's context ends (Resign).
func (t *etcdTerm) watchKey(ctx context.Context, view *clientv3.Client) {
	key, rev := t.election.Key(), t.election.Header().Revision+1
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := view.Watch(wctx, key, clientv3.WithRev(rev), clientv3.WithFilterPut())
	t.watching.Add(1)
	go func() {
		defer t.watching.Done()
		defer cancel()
		for {
			select {
			case <-t.keeper.lost:
				return
			case resp, ok := <-wch:
				if !ok {
					return
				}
				for _, ev := range resp.Events {
					if ev.Type == mvccpb.DELETE {
						t.keeper.lose()
						return
					}
				}
			}
		}
	}()
}
