package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShutdownWithEtcdOutOfReach shuts down a replica cut off from etcd
// just before (or removes its singleton, then shuts it down): a leader's
// shutdown waits for its resignation at most the granted TTL, a standby's for its campaign's clean-up at most about 2 s
// (docs/replicas.md), and nothing of either outlives the shutdown
// (goleak, in TestMain).
func TestShutdownWithEtcdOutOfReach(t *testing.T) {
	for _, tc := range []struct {
		role   string
		remove bool
		bound  func(ttl time.Duration) time.Duration
	}{
		{"leader", false, func(ttl time.Duration) time.Duration { return ttl + time.Second }},
		{"leader", true, func(ttl time.Duration) time.Duration { return ttl + time.Second }},
		{"standby", false, func(time.Duration) time.Duration { return 4 * time.Second }},
		{"standby", true, func(time.Duration) time.Duration { return 4 * time.Second }},
	} {
		t.Run(map[bool]string{false: "shutdown of ", true: "removal from "}[tc.remove]+tc.role, func(t *testing.T) {
			endpoint := startEtcd(t)
			tr := newTracker()
			p := startProxy(t, endpoint)
			var cut *replica
			if tc.role == "leader" {
				cut = newReplica(t, "cut", p.addr, "/shutdown-cut/", &job{replica: "cut", tr: tr})
				require.Equal(t, "cut", next(t, tr.started, 10*time.Second, "the cut replica leading").replica)
				newReplica(t, "b", endpoint, "/shutdown-cut/", &job{replica: "b", tr: tr})
				awaitKeys(t, newClient(t, endpoint), "/shutdown-cut/", 2, 10*time.Second)
			} else {
				newReplica(t, "b", endpoint, "/shutdown-cut/", &job{replica: "b", tr: tr})
				require.Equal(t, "b", next(t, tr.started, 10*time.Second, "b leading").replica)
				cut = newReplica(t, "cut", p.addr, "/shutdown-cut/", &job{replica: "cut", tr: tr})
				awaitKeys(t, newClient(t, endpoint), "/shutdown-cut/", 2, 10*time.Second)
			}
			ttl := grantedTTL(t, newClient(t, endpoint))
			p.cut()
			began := time.Now()
			done := make(chan struct{})
			go func() {
				if tc.remove {
					cut.mesh.Remove(cut.svc).Wait()
				}
				cut.mesh.Shutdown().Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(tc.bound(ttl) + 5*time.Second):
				t.Fatalf("the shutdown did not complete within %v", tc.bound(ttl)+5*time.Second)
			}
			took := time.Since(began)
			t.Logf("the cut-off %s's shutdown took %v (TTL %v)", tc.role, took, ttl)
			assert.LessOrEqual(t, took, tc.bound(ttl))
			if !tc.remove {
				st := servicemesh.Status(cut.mesh).Services[0]
				assert.Equal(t, servicemesh.StateStopped, st.State, "running out of etcd is no failure")
				assert.Empty(t, st.Error)
			}
		})
	}
}

// stubborn is a job whose Serve ignores its context: it returns only once
// release is closed.
type stubborn struct {
	job
	release chan struct{}
}

func (s *stubborn) Serve(ctx context.Context) error {
	token, _ := leader.TokenFrom(ctx)
	x := s.tr.begin(s.replica, token)
	defer s.tr.finish(x)
	<-s.release
	return nil
}

// A leader whose Serve ignores its context keeps the leadership, its lease
// kept alive, until that Serve returns: no other replica serves meanwhile
// (docs/replicas.md).
func TestServeIgnoringItsContextKeepsTheLeadershipUntilItReturns(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	release := make(chan struct{})
	a := newReplica(t, "a", endpoint, "/stubborn/", &stubborn{job{replica: "a", tr: tr}, release})
	require.Equal(t, "a", next(t, tr.started, 10*time.Second, "a leading").replica)
	newReplica(t, "b", endpoint, "/stubborn/", &job{replica: "b", tr: tr})
	ttl := grantedTTL(t, a.client)
	a.mesh.Remove(a.svc)
	select {
	case x := <-tr.started:
		t.Fatalf("%s serves while a's Serve still runs", x.replica)
	case <-time.After(2 * ttl):
	}
	released := time.Now()
	close(release)
	x := next(t, tr.started, 5*time.Second, "b leading once a's Serve returned")
	assert.Equal(t, "b", x.replica)
	assert.LessOrEqual(t, x.start.Sub(released), resignBound)
	terms, most := tr.snapshot()
	assert.Equal(t, 1, most)
	requireNoOverlap(t, terms)
}
