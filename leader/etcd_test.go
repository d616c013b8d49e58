package leader_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// testTTL is the lease TTL the tests ask for: the minimum, to keep the
// crash and cut-off tests short. startEtcd makes the server grant it.
const testTTL = time.Second

// startEtcd starts a one-member etcd server in the test process, on
// loopback ports the system picks, with its data in a temporary directory,
// and returns its client endpoint. It is stopped when the test ends, after
// the cleanups registered later (the meshes and clients using it).
//
// Its election timeout is short (200 ms, ticks of 20 ms) so that the
// shortest lease TTL it grants is one second (etcd grants at least 1.5
// election timeouts, rounded up to whole seconds).
func startEtcd(t testing.TB) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "leader-test"
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	local := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{local}, []url.URL{local}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{local}, []url.URL{local}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.TickMs, cfg.ElectionMs = 20, 200
	e, err := embed.StartEtcd(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("embedded etcd not ready within 30 s")
	}
	return "http://" + e.Clients[0].Addr().String()
}

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
