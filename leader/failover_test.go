package leader_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resignBound is how soon a resigning leader must be replaced (§11).
const resignBound = time.Second

func TestResigningLeaderReplacedWithinOneSecond(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resign func(r *replica)
	}{
		{"shutdown", func(r *replica) { r.mesh.Shutdown() }},
		{"remove", func(r *replica) { r.mesh.Remove(r.svc) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := startEtcd(t)
			tr := newTracker()
			rs := startReplicas(t, 3, endpoint, "/resign/", tr)
			first := next(t, tr.started, 10*time.Second, "a first leader")

			began := time.Now()
			tc.resign(byName(t, rs, first.replica))
			second := next(t, tr.started, 5*time.Second, "a new leader")
			took := second.start.Sub(began)
			t.Logf("replica %s took over from %s in %v", second.replica, first.replica, took)
			assert.LessOrEqual(t, took, resignBound)
			assert.NotEqual(t, first.replica, second.replica)
			terms, most := tr.snapshot()
			assert.Equal(t, 1, most)
			requireNoOverlap(t, terms)
		})
	}
}

func TestCrashedLeaderReplacedWithinTTL(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	rs := startReplicas(t, 3, endpoint, "/crash/", tr)
	ttl := grantedTTL(t, rs[0].client)
	first := next(t, tr.started, 10*time.Second, "a first leader")

	// The leader's client is closed under it: it cannot resign, and etcd
	// must expire its lease.
	crashed := time.Now()
	require.NoError(t, byName(t, rs, first.replica).client.Close())
	var second *term
	for second == nil {
		x := next(t, tr.started, ttl+5*time.Second, "a new leader")
		if x.replica != first.replica {
			second = x
		}
	}
	took := second.start.Sub(crashed)
	t.Logf("replica %s took over from crashed %s in %v (TTL %v)", second.replica, first.replica, took, ttl)
	assert.LessOrEqual(t, took, ttl+time.Second)
	terms, most := tr.snapshot()
	assert.Equal(t, 1, most)
	requireNoOverlap(t, terms)
}

func TestCutOffLeaderStopsBeforeAnotherStarts(t *testing.T) {
	endpoint := startEtcd(t)
	p := startProxy(t, endpoint)
	tr := newTracker()
	cut := newReplica(t, "cut", p.addr, "/cut-off/", &job{replica: "cut", tr: tr})
	warnings := make(chan string, 100)
	cut.mesh.SetLogHandler(warnHandler{warnings})
	first := next(t, tr.started, 10*time.Second, "the first leader")
	require.Equal(t, "cut", first.replica)
	others := []*replica{
		newReplica(t, "b", endpoint, "/cut-off/", &job{replica: "b", tr: tr}),
		newReplica(t, "c", endpoint, "/cut-off/", &job{replica: "c", tr: tr}),
	}
	ttl := grantedTTL(t, others[0].client)

	cutAt := time.Now()
	p.cut()
	ended := next(t, tr.ended, ttl+5*time.Second, "the cut-off leader's Serve ending")
	require.Equal(t, "cut", ended.replica)
	assert.LessOrEqual(t, ended.end.Sub(cutAt), ttl, "the cut-off leader stops within the TTL")
	second := next(t, tr.started, ttl+5*time.Second, "a new leader")
	assert.NotEqual(t, "cut", second.replica)
	assert.True(t, ended.end.Before(second.start), "the cut-off leader stopped (%v) before %s started (%v)", ended.end, second.replica, second.start)
	t.Logf("cut-off leader stopped %v after the cut; %s took over %v after it", ended.end.Sub(cutAt), second.replica, second.start.Sub(cutAt))
	assert.Equal(t, "standby", details([]*replica{cut})[0])
	assert.Equal(t, servicemesh.StateRunning, servicemesh.Status(cut.mesh).Services[0].State,
		"losing etcd is no failure: the cut-off replica goes on campaigning")
	terms, most := tr.snapshot()
	assert.Equal(t, 1, most)
	requireNoOverlap(t, terms)
	for {
		select {
		case msg := <-warnings:
			if strings.HasPrefix(msg, "campaign failed") {
				return // it campaigns again, with backoff, and says so at Warn
			}
		case <-time.After(ttl + 5*time.Second):
			t.Fatal("the cut-off replica logged no failed campaign at Warn")
		}
	}
}

// warnHandler sends the message of every record at Warn or above to ch,
// dropping it if ch is full.
type warnHandler struct{ ch chan<- string }

func (h warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h warnHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h warnHandler) WithGroup(string) slog.Handler                { return h }
func (h warnHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r.Message:
	default:
	}
	return nil
}
