package leader

import (
	"context"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Option configures the elector Etcd returns.
type Option func(*etcdElector)

// WithTTL sets the TTL of the lease a replica holds while it campaigns and
// leads (default 10 s). It is rounded up to whole seconds, and anything
// under a second counts as one second. etcd may grant a longer TTL than
// asked (its minimum depends on the cluster's election timeout); every
// bound of a term uses the TTL granted. With etcd out of reach, a
// leader's resignation waits up to that TTL: keep it below the mesh's
// shutdown budget (servicemesh.SetShutdownTimeout), or the shutdown of a
// leader cut off from etcd runs out of it.
func WithTTL(d time.Duration) Option {
	return func(e *etcdElector) {
		secs := d / time.Second
		if d%time.Second != 0 {
			secs++
		}
		e.ttl = max(secs, 1)
	}
}

// etcdElector elects through etcd's concurrency package (see Etcd). Its
// fields are set by Etcd and only read afterwards, so it is safe for
// concurrent use.
type etcdElector struct {
	client *clientv3.Client
	prefix string
	ttl    time.Duration // whole seconds, as a count of seconds: see WithTTL
	value  string        // what the replica's election key holds
	err    error         // bad input, reported by check and Campaign
}

// Etcd returns an Elector that elects through the etcd cluster client
// talks to, among the replicas that use the same prefix: each campaign
// holds a lease of its own (see WithTTL) and an election key under prefix
// (concurrency.Election); the key's create revision is the term's token.
// Replicas may share a client; each singleton service needs a prefix of its
// own (two services campaigning under one prefix would share one leader
// between them), and no prefix followed by "/" may begin another (the
// election keys are prefix + "/" + lease: "/app/cron" would wait for the
// leader of "/app/cron/x" too); a prefix that ends with "/" is safe. A nil
// client or an empty prefix is never a
// panic: Campaign returns an error wrapping ErrNilClient or ErrEmptyPrefix,
// and a Singleton using the elector fails its InitContext with it.
//
// A term ends when it is resigned, when its lease is found gone or its
// key deleted, and, whatever the client's own view, no later than the send
// time of its last keep-alive that etcd answered plus the granted TTL minus
// a quarter of it: etcd expires the lease a full TTL after it received
// that keep-alive, so the leader stops before another can be elected,
// however slow the answer was to come back. Only the passing of time is
// measured (the monotonic clock); no clocks are compared between machines.
func Etcd(c *clientv3.Client, prefix string, opts ...Option) Elector {
	e := &etcdElector{client: c, prefix: prefix, ttl: defaultTTL / time.Second}
	for _, o := range opts {
		if o != nil {
			o(e)
		}
	}
	host, _ := os.Hostname()
	e.value = fmt.Sprintf("%s pid %d", host, os.Getpid())
	switch {
	case c == nil:
		e.err = ErrNilClient
	case prefix == "":
		e.err = ErrEmptyPrefix
	}
	return e
}

// check reports bad input (checker).
func (e *etcdElector) check() error { return e.err }

// Campaign grants a lease, keeps it alive and campaigns with it; it
// returns the term once elected, or an error once ctx ended, the lease was
// lost, its election key was found deleted once elected (the election
// waits only for the keys before it), or etcd could not be reached to
// grant a lease within the TTL.
func (e *etcdElector) Campaign(ctx context.Context) (Term, error) {
	if e.err != nil {
		return nil, e.err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ttl := e.ttl * time.Second
	sent := time.Now()
	gctx, cancel := context.WithTimeout(ctx, ttl)
	g, err := e.client.Grant(gctx, int64(e.ttl))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("leader: granting a lease for %q: %w", e.prefix, err)
	}
	k := newKeeper(e.client.Lease, g.ID, sent, time.Duration(g.TTL)*time.Second)

	// The session and the election talk through a view of the client whose
	// context this term owns (so that the clean-ups inside them can be cut
	// short) and whose keep-alives are the keeper's (so that the term's end
	// is measured from the send time of each answered keep-alive).
	viewCtx, viewCancel := context.WithCancel(context.Background())
	view := clientv3.NewCtxClient(viewCtx, clientv3.WithZapLogger(e.client.GetLogger()))
	view.KV, view.Watcher, view.Lease = e.client.KV, e.client.Watcher, keeperLease{e.client.Lease, k}
	sess, err := concurrency.NewSession(view, concurrency.WithLease(g.ID), concurrency.WithTTL(int(g.TTL)))
	if err != nil {
		k.lose()
		viewCancel()
		revokeQuietly(e.client, g.ID)
		return nil, fmt.Errorf("leader: starting a session for %q: %w", e.prefix, err)
	}
	t := &etcdTerm{sess: sess, keeper: k, viewCancel: viewCancel, ttl: time.Duration(g.TTL) * time.Second}
	t.election = concurrency.NewElection(sess, e.prefix)

	if err := t.campaign(ctx, e.value); err != nil {
		lost := k.isLost() // before abandon, which ends the lease's use
		t.abandon()
		if lost && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", ErrLeaseLost, err)
		}
		return nil, fmt.Errorf("leader: campaigning for %q: %w", e.prefix, err)
	}
	if ctx.Err() != nil || k.isLost() { // elected just as it ended: do not lead
		t.abandon()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("leader: campaigning for %q: %w", e.prefix, err)
		}
		return nil, fmt.Errorf("leader: campaigning for %q: %w", e.prefix, ErrLeaseLost)
	}
	t.token = t.election.Rev()
	// The election waited only for the keys before this one: this key
	// itself may have been deleted meanwhile (by an operator), and then
	// another replica is elected too. Lead only if it is still there, and
	// watch it from that read on.
	rev, err := t.confirmKey(ctx, view)
	if err != nil {
		t.abandon()
		return nil, fmt.Errorf("leader: campaigning for %q: %w", e.prefix, err)
	}
	t.watchKey(viewCtx, view, rev)
	return t, nil
}

// confirmKey reads the term's election key, within ctx and before the
// term's deadline, and returns the revision to watch it from; an error if
// it is gone, is another campaign's, or could not be read.
func (t *etcdTerm) confirmKey(ctx context.Context, view *clientv3.Client) (int64, error) {
	gctx, cancel := context.WithDeadline(ctx, t.keeper.until())
	defer cancel()
	resp, err := view.Get(gctx, t.election.Key())
	switch {
	case err != nil:
		return 0, fmt.Errorf("reading the election key once elected: %w", err)
	case len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != t.token:
		return 0, fmt.Errorf("its election key %s was deleted while it waited", t.election.Key())
	}
	return resp.Header.Revision + 1, nil
}

// revokeQuietly gives back lease id, within cleanupTimeout; a failure only
// means that it expires on its own.
func revokeQuietly(c *clientv3.Client, id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, _ = c.Revoke(ctx, id)
}

// campaign runs the election's Campaign until it returns, ctx ends or the
// lease is lost. On the way out the election deletes its key through the
// view's context, which may wait for an etcd out of reach: after
// cleanupTimeout the view is canceled, which cuts it short.
func (t *etcdTerm) campaign(ctx context.Context, value string) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- t.election.Campaign(cctx, value) }()
	var err error
	select {
	case err = <-res:
		return err
	case <-ctx.Done():
	case <-t.keeper.lost:
	}
	cancel()
	timer := time.NewTimer(cleanupTimeout)
	defer timer.Stop()
	select {
	case err = <-res:
	case <-timer.C:
		t.viewCancel()
		err = <-res
	}
	if ctx.Err() != nil {
		return ctx.Err() // the caller's reason, rather than the election's view of it
	}
	if err == nil {
		err = context.Canceled
	}
	return err
}
