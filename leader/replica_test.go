package leader_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// term is one run of a job's Serve in one replica: a term as the service
// saw it.
type term struct {
	replica    string
	token      int64
	start, end time.Time // end is zero while it serves
}

// tracker records the terms of the replicas of one singleton service, and
// tells each start and end on channels. Its fields are guarded by mu.
type tracker struct {
	mu      sync.Mutex
	terms   []*term
	serving int // Serves running now
	most    int // the most Serves that ever ran at once
	started chan *term
	ended   chan *term
}

func newTracker() *tracker {
	return &tracker{started: make(chan *term, 1000), ended: make(chan *term, 1000)}
}

func (tr *tracker) begin(replica string, token int64) *term {
	tr.mu.Lock()
	x := &term{replica: replica, token: token, start: time.Now()}
	tr.terms = append(tr.terms, x)
	tr.serving++
	tr.most = max(tr.most, tr.serving)
	tr.mu.Unlock()
	tr.started <- x
	return x
}

func (tr *tracker) finish(x *term) {
	tr.mu.Lock()
	x.end = time.Now()
	tr.serving--
	tr.mu.Unlock()
	tr.ended <- x
}

// snapshot returns copies of the terms so far, and the most that ran at once.
func (tr *tracker) snapshot() ([]term, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]term, len(tr.terms))
	for i, x := range tr.terms {
		out[i] = *x
	}
	return out, tr.most
}

// next waits up to bound for the next term to start (or end, with ch =
// tr.ended), failing the test if none does.
func next(t testing.TB, ch <-chan *term, bound time.Duration, what string) *term {
	t.Helper()
	select {
	case x := <-ch:
		return x
	case <-time.After(bound):
		t.Fatalf("%s: nothing within %v", what, bound)
		return nil
	}
}

// requireNoOverlap checks that the terms, in the order they started, each
// ended before the next started, with strictly increasing tokens.
func requireNoOverlap(t testing.TB, terms []term) {
	t.Helper()
	for i := 1; i < len(terms); i++ {
		prev, cur := terms[i-1], terms[i]
		require.False(t, prev.end.IsZero() || cur.start.Before(prev.end),
			"term %d (%s, token %d) started at %v before term %d (%s) ended at %v",
			i, cur.replica, cur.token, cur.start, i-1, prev.replica, prev.end)
		require.Greater(t, cur.token, prev.token, "tokens must strictly increase: term %d after term %d", i, i-1)
	}
}

// errHandOver is what a job that hands over returns: its Serve fails, the
// singleton resigns, and the mesh restarts it (it campaigns again).
var errHandOver = errors.New("handing over")

// job is the wrapped service of the tests: its Serve records its term and
// waits for its context to end, or for hold to pass (then it returns
// errHandOver), or for stop (then it returns nil).
type job struct {
	replica string
	tr      *tracker
	hold    time.Duration // 0: hold until the context ends
	stop    chan struct{} // nil: never
	sawCtx  chan context.Context
}

func (j *job) Name() string          { return "cron" }
func (j *job) Init(servicemesh.Mesh) {}
func (j *job) Serve(ctx context.Context) error {
	token, ok := leader.TokenFrom(ctx)
	if !ok {
		return errors.New("no token in the Serve context")
	}
	if j.sawCtx != nil {
		j.sawCtx <- ctx
	}
	x := j.tr.begin(j.replica, token)
	defer j.tr.finish(x)
	var hold <-chan time.Time
	if j.hold > 0 {
		timer := time.NewTimer(j.hold)
		defer timer.Stop()
		hold = timer.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-hold:
		return errHandOver
	case <-j.stop:
		return nil
	}
}

// handingOver is a job with a restart policy that restarts it quickly and
// for long, so that it can hand over many times.
type handingOver struct{ job }

func (h *handingOver) RestartPolicy() servicemesh.RestartPolicy {
	return servicemesh.RestartPolicy{MaxRestarts: 1000, Window: time.Minute, Backoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Jitter: -1}
}

// replica is one replica of an application: its own etcd client and mesh,
// with the singleton added.
type replica struct {
	name   string
	client *clientv3.Client
	mesh   servicemesh.Mesh
	svc    servicemesh.Service // the singleton
}

// newReplica starts a replica named name whose client talks to endpoint,
// running svc as a singleton elected under prefix. Its mesh shuts down
// when the test ends, before its client is closed.
func newReplica(t testing.TB, name, endpoint, prefix string, svc servicemesh.Service) *replica {
	t.Helper()
	c := newClient(t, endpoint)
	m := meshtest.New(t, name)
	servicemesh.SetShutdownTimeout(m, 10*time.Second)
	s := leader.Singleton(svc, leader.Etcd(c, prefix, leader.WithTTL(testTTL)))
	m.Add(s).Wait()
	return &replica{name: name, client: c, mesh: m, svc: s}
}

// details returns the StatusDetail of the singleton in each replica.
func details(rs []*replica) []string {
	var out []string
	for _, r := range rs {
		for _, s := range servicemesh.Status(r.mesh).Services {
			out = append(out, s.Detail)
		}
	}
	return out
}

// startReplicas starts n replicas of one job each, tracked by tr.
func startReplicas(t testing.TB, n int, endpoint, prefix string, tr *tracker) []*replica {
	t.Helper()
	var rs []*replica
	for i := range n {
		name := string(rune('a' + i))
		rs = append(rs, newReplica(t, name, endpoint, prefix, &job{replica: name, tr: tr}))
	}
	return rs
}

// byName returns the replica named name.
func byName(t testing.TB, rs []*replica, name string) *replica {
	t.Helper()
	for _, r := range rs {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("no replica %q", name)
	return nil
}

func TestExactlyOneLeaderAmongThree(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	rs := startReplicas(t, 3, endpoint, "/one-of-three/", tr)

	first := next(t, tr.started, 10*time.Second, "a first leader")
	// Watch for a second Serve for two TTLs: none may start.
	select {
	case x := <-tr.started:
		t.Fatalf("replica %s serves too, token %d, while %s leads", x.replica, x.token, first.replica)
	case <-time.After(2 * testTTL):
	}
	_, most := tr.snapshot()
	assert.Equal(t, 1, most)
	assert.ElementsMatch(t, []string{"standby", "standby", "leader (token " + itoa(first.token) + ")"}, details(rs))
	for _, r := range rs {
		assert.True(t, servicemesh.Ready(r.mesh), "replica %s is ready (standbys too)", r.name)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
