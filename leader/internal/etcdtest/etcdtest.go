// Package etcdtest starts a real etcd server inside a test process, for
// the tests of package leader and of its examples.
package etcdtest

import (
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// readyBound is how long Start waits for the server to be ready: it takes
// well under a second, but a loaded CI machine running -race is slow.
const readyBound = 30 * time.Second

// Start starts a one-member etcd server in the test process, on loopback
// ports the system picks, with its data in a temporary directory, and
// returns its client endpoint ("http://127.0.0.1:port"). The server stops
// when the test ends, after the cleanups registered later (the clients and
// meshes that use it).
//
// Its election timeout is short (200 ms, ticks of 20 ms) so that the
// shortest lease TTL it grants is one second (etcd grants at least one
// and a half election timeouts, rounded up to whole seconds).
func Start(t testing.TB) string {
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
	if err != nil {
		t.Fatalf("starting an embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(readyBound):
		t.Fatalf("embedded etcd not ready within %v", readyBound)
	}
	return "http://" + e.Clients[0].Addr().String()
}
