package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/gravestench/servicemesh/leader/internal/etcdtest"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// testTTL is the lease TTL the tests ask for: the minimum, to keep the
// crash and cut-off tests short. etcdtest.Start makes the server grant it.
const testTTL = time.Second

// startEtcd starts a real etcd server in the test process (etcdtest.Start).
func startEtcd(t testing.TB) string { return etcdtest.Start(t) }

// newClient returns a client of the etcd at endpoint, closed when the test
// ends (before the server stops).
func newClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// grantedTTL returns the TTL etcd grants when asked for testTTL.
func grantedTTL(t testing.TB, c *clientv3.Client) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := c.Grant(ctx, int64(testTTL/time.Second))
	require.NoError(t, err)
	_, err = c.Revoke(ctx, g.ID)
	require.NoError(t, err)
	return time.Duration(g.TTL) * time.Second
}
