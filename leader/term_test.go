package leader_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gravestench/servicemesh/leader"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// keysOf returns the election keys under prefix, oldest first.
func keysOf(t testing.TB, c *clientv3.Client, prefix string) *clientv3.GetResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	require.NoError(t, err)
	return resp
}

// awaitKeys waits, up to bound, until prefix holds n election keys.
func awaitKeys(t testing.TB, c *clientv3.Client, prefix string, n int, bound time.Duration) *clientv3.GetResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	wch := c.Watch(ctx, prefix, clientv3.WithPrefix())
	for {
		if resp := keysOf(t, c, prefix); len(resp.Kvs) >= n {
			return resp
		}
		select {
		case <-wch:
		case <-ctx.Done():
			t.Fatalf("%d election keys under %s: not within %v", n, prefix, bound)
		}
	}
}

// awaitWatchSync returns once etcd has moved the watches that began at or
// before rev into its synced group: a watch from a past revision starts
// unsynced, and etcd compacts only the unsynced ones (its sync loop runs
// every 100 ms). Each watch of the test's own begins at rev and delivers
// the event at rev once synced; two in a row make sure that a sync pass
// ran after any watch that began before the first.
func awaitWatchSync(t testing.TB, c *clientv3.Client, key string, rev int64) {
	t.Helper()
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		select {
		case <-c.Watch(ctx, key, clientv3.WithRev(rev)):
		case <-ctx.Done():
			t.Fatal("a watch from a past revision delivered nothing within 5 s")
		}
		cancel()
	}
}

// leaderAndWaiting starts replica "a", leading under prefix, then replica
// name, waiting behind it, and returns a and the election key of name.
func leaderAndWaiting(t testing.TB, endpoint string, admin *clientv3.Client, prefix, name string, tr *tracker) (*replica, *mvccpb.KeyValue) {
	t.Helper()
	a := newReplica(t, "a", endpoint, prefix, &job{replica: "a", tr: tr})
	require.Equal(t, "a", next(t, tr.started, 10*time.Second, "a leading").replica)
	newReplica(t, name, endpoint, prefix, &job{replica: name, tr: tr})
	return a, awaitKeys(t, admin, prefix, 2, 10*time.Second).Kvs[1]
}

// A standby waits to be elected while its election key's create revision
// is compacted away (etcd's auto-compaction, in production): once it
// leads, the watch of its key cannot start from there. Its term must
// still end when the key is deleted.
func TestTermEndsWhenItsKeyIsDeletedAfterACompaction(t *testing.T) {
	endpoint := startEtcd(t)
	admin := newClient(t, endpoint)
	const prefix = "/compacted/"
	tr := newTracker()
	a, bKey := leaderAndWaiting(t, endpoint, admin, prefix, "b", tr)
	awaitWatchSync(t, admin, string(bKey.Key), bKey.CreateRevision) // b's wait for a's key survives the compaction

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rev int64
	for i := range 3 {
		resp, err := admin.Put(ctx, fmt.Sprintf("/elsewhere/%d", i), "x")
		require.NoError(t, err)
		rev = resp.Header.Revision
	}
	_, err := admin.Compact(ctx, rev)
	require.NoError(t, err)

	a.mesh.Remove(a.svc)
	second := next(t, tr.started, 5*time.Second, "b leading")
	require.Equal(t, "b", second.replica)
	require.Equal(t, bKey.CreateRevision, second.token, "b leads with the key it made before the compaction")

	_, err = admin.Delete(ctx, string(bKey.Key)) // by an operator
	require.NoError(t, err)
	for {
		if x := next(t, tr.ended, 5*time.Second, "b's Serve ending once its key was deleted"); x.replica == "b" {
			return
		}
	}
}

// A campaign that fails for another reason than its lease (here etcd
// refuses to write its election key: its user may only read there) says
// so, and not that its lease was lost.
func TestCampaignFailingWithItsLeaseAliveIsNoLeaseLost(t *testing.T) {
	endpoint := startEtcd(t)
	const prefix = "/read-only/"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := newClient(t, endpoint)
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "reader"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "reader", prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "reader", "reader-pw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "reader", "reader"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		require.NoError(t, step())
	}
	reader, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Username: "reader", Password: "reader-pw", DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = reader.Close() })

	term, err := leader.Etcd(reader, prefix, leader.WithTTL(testTTL)).Campaign(ctx)
	require.Nil(t, term)
	require.ErrorIs(t, err, rpctypes.ErrPermissionDenied)
	assert.NotErrorIs(t, err, leader.ErrLeaseLost, "its lease was alive")
}

// A standby whose election key is deleted while it waits (by an operator)
// must not lead with it once the keys before it are gone: the election
// looks only at those, and another replica that campaigned meanwhile is
// elected at the same moment.
func TestStandbyWhoseKeyWasDeletedDoesNotLeadWithIt(t *testing.T) {
	endpoint := startEtcd(t)
	admin := newClient(t, endpoint)
	const prefix = "/deleted-while-waiting/"
	tr := newTracker()
	a, cKey := leaderAndWaiting(t, endpoint, admin, prefix, "c", tr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := admin.Delete(ctx, string(cKey.Key))
	require.NoError(t, err)
	newReplica(t, "b", endpoint, prefix, &job{replica: "b", tr: tr})
	awaitKeys(t, admin, prefix, 2, 10*time.Second) // a's and b's

	a.mesh.Remove(a.svc)
	second := next(t, tr.started, 5*time.Second, "a new leader")
	assert.Equal(t, "b", second.replica, "c's key is gone: b is next")
	select {
	case x := <-tr.started:
		t.Fatalf("%s serves too, token %d, while %s leads with token %d", x.replica, x.token, second.replica, second.token)
	case <-time.After(time.Second):
	}
	terms, most := tr.snapshot()
	assert.Equal(t, 1, most)
	requireNoOverlap(t, terms)
}
