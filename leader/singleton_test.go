package leader_test

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeReturningNilResignsAndEndsTheService(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	stops := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	var rs []*replica
	for _, name := range []string{"a", "b"} {
		rs = append(rs, newReplica(t, name, endpoint, "/serve-nil/", &job{replica: name, tr: tr, stop: stops[name]}))
	}
	first := next(t, tr.started, 10*time.Second, "a first leader")
	began := time.Now()
	close(stops[first.replica])
	second := next(t, tr.started, 5*time.Second, "a new leader")
	assert.NotEqual(t, first.replica, second.replica)
	assert.LessOrEqual(t, second.start.Sub(began), resignBound, "it resigned: the other took over at once")
	meshtest.RequireState(t, byName(t, rs, first.replica).mesh, "cron", servicemesh.StateStopped, 5*time.Second)
	assert.Equal(t, "standby", details([]*replica{byName(t, rs, first.replica)})[0])
}

func TestShuttingDownStandbyStopsCampaigningAndNeverServes(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	rs := startReplicas(t, 3, endpoint, "/shutdown-standby/", tr)
	first := next(t, tr.started, 10*time.Second, "a first leader")
	var standby, other *replica
	for _, r := range rs {
		switch {
		case r.name == first.replica:
		case standby == nil:
			standby = r
		default:
			other = r
		}
	}
	began := time.Now()
	done := make(chan struct{})
	go func() { standby.mesh.Shutdown().Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a standby's shutdown did not complete within 5 s")
	}
	t.Logf("the standby's shutdown took %v", time.Since(began))

	byName(t, rs, first.replica).mesh.Remove(byName(t, rs, first.replica).svc)
	second := next(t, tr.started, 5*time.Second, "a new leader")
	assert.Equal(t, other.name, second.replica, "the shut-down standby never serves")
}

// rich is a service with every optional interface the singleton forwards;
// it counts the calls.
type rich struct {
	job
	dep                                    *plain
	needed                                 *plain
	logger                                 atomic.Pointer[slog.Logger]
	inits, stops, checks, policies, ownEvt atomic.Int32
}

func (r *rich) SetLogger(l *slog.Logger) { r.logger.Store(l) }
func (r *rich) Logger() *slog.Logger     { return r.logger.Load() }
func (r *rich) DependenciesResolved() bool {
	return r.dep != nil
}
func (r *rich) ResolveDependencies(services []servicemesh.Service) {
	r.dep, _ = servicemesh.Find[*plain](services)
}
func (r *rich) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&r.needed)}
}
func (r *rich) InitContext(context.Context, servicemesh.Mesh) error {
	r.inits.Add(1)
	return nil
}
func (r *rich) OnShutdownContext(context.Context) error { r.stops.Add(1); return nil }
func (r *rich) HealthCheck(context.Context) error       { r.checks.Add(1); return nil }
func (r *rich) RestartPolicy() servicemesh.RestartPolicy {
	r.policies.Add(1)
	return servicemesh.RestartPolicy{KeepRunning: true}
}
func (r *rich) OnServiceInitialized(svc servicemesh.Service) {
	if svc == servicemesh.Service(r) {
		r.ownEvt.Add(1)
	}
}

func TestSingletonForwardsTheOptionalInterfaces(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	r := &rich{job: job{replica: "a", tr: tr}}
	c := newClient(t, endpoint)
	m := meshtest.New(t)
	s := singletonOf(r, c, "/forward/")
	assert.Equal(t, "cron", s.Name())
	_, deps := s.(servicemesh.HasDependencies)
	_, policy := s.(servicemesh.HasRestartPolicy)
	assert.True(t, deps && policy, "it has dependencies and a restart policy, as the service does")
	added := m.Add(s)
	assert.Equal(t, int32(1), r.policies.Load(), "the restart policy is read at Add")
	assert.NotNil(t, r.Logger(), "the logger is passed on")
	m.Add(&plain{})
	added.Wait()
	assert.Equal(t, int32(1), r.inits.Load(), "InitContext ran, once its dependencies were resolved")
	assert.NotNil(t, r.dep)
	assert.NotNil(t, r.needed, "its requirement was filled")
	assert.Equal(t, int32(1), r.ownEvt.Load(), "its own EventServiceInitialized names it, not the singleton")
	next(t, tr.started, 10*time.Second, "leading")
	meshtest.RequireReady(t, m, 5*time.Second)
	assert.Positive(t, r.checks.Load(), "its health check is asked")
	m.Shutdown().Wait()
	assert.Equal(t, int32(1), r.stops.Load(), "OnShutdownContext ran")

	// A service without dependencies or a policy: neither does its singleton.
	plainSvc := singletonOf(&job{replica: "b", tr: tr}, c, "/forward/")
	_, deps = plainSvc.(servicemesh.HasDependencies)
	_, policy = plainSvc.(servicemesh.HasRestartPolicy)
	assert.False(t, deps || policy, "no dependencies and no restart policy of its own")
	_, detail := plainSvc.(servicemesh.HasStatusDetail)
	assert.True(t, detail)
	require.Equal(t, "standby", plainSvc.(servicemesh.HasStatusDetail).StatusDetail())
}

// detailed is a job with a status detail of its own.
type detailed struct{ job }

func (*detailed) StatusDetail() string { return "3 runs" }

func TestStatusDetailKeepsTheServicesOwn(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	r := newReplica(t, "a", endpoint, "/detail/", &detailed{job{replica: "a", tr: tr}})
	x := next(t, tr.started, 10*time.Second, "leading")
	assert.Equal(t, []string{"leader (token " + itoa(x.token) + "): 3 runs"}, details([]*replica{r}))
	standby := leader.Singleton(&detailed{}, leader.Etcd(newClient(t, endpoint), "/detail/"))
	assert.Equal(t, "standby: 3 runs", standby.(servicemesh.HasStatusDetail).StatusDetail())
}

// blowUp is a job whose Serve, once start is closed, panics or ends with
// runtime.Goexit instead of returning.
type blowUp struct {
	job
	goexit bool
	start  chan struct{}
}

func (b *blowUp) Serve(ctx context.Context) error {
	token, _ := leader.TokenFrom(ctx)
	x := b.tr.begin(b.replica, token)
	defer b.tr.finish(x)
	<-b.start
	if b.goexit {
		runtime.Goexit()
	}
	panic("blown up")
}

func TestServeThatPanicsOrGoexitsStillResigns(t *testing.T) {
	for _, goexit := range []bool{false, true} {
		t.Run(map[bool]string{false: "panic", true: "goexit"}[goexit], func(t *testing.T) {
			endpoint := startEtcd(t)
			tr := newTracker()
			c := newClient(t, endpoint)
			m := servicemesh.New("bad") // not meshtest's: it fails a test whose service panics
			m.SetLogDestination(nil)
			t.Cleanup(func() { m.Shutdown().Wait() })
			bad := &blowUp{job: job{replica: "bad", tr: tr}, goexit: goexit, start: make(chan struct{})}
			m.Add(singletonOf(bad, c, "/blow-up/")).Wait()
			require.Equal(t, "bad", next(t, tr.started, 10*time.Second, "bad leading").replica)
			newReplica(t, "good", endpoint, "/blow-up/", &job{replica: "good", tr: tr})
			awaitKeys(t, c, "/blow-up/", 2, 10*time.Second)

			close(bad.start)
			ended := next(t, tr.ended, 5*time.Second, "bad's Serve ending")
			x := next(t, tr.started, 5*time.Second, "good taking over")
			assert.Equal(t, "good", x.replica)
			assert.LessOrEqual(t, x.start.Sub(ended.end), resignBound, "bad resigned: good took over at once")
			terms, most := tr.snapshot()
			assert.Equal(t, 1, most)
			requireNoOverlap(t, terms)
		})
	}
}

func TestSingletonRemovedAndAddedAgainLeadsAgain(t *testing.T) {
	endpoint := startEtcd(t)
	tr := newTracker()
	r := newReplica(t, "a", endpoint, "/again/", &job{replica: "a", tr: tr})
	first := next(t, tr.started, 10*time.Second, "leading")
	r.mesh.Remove(r.svc).Wait()
	next(t, tr.ended, 5*time.Second, "the removed singleton's Serve ending")
	r.mesh.Add(r.svc).Wait()
	second := next(t, tr.started, 10*time.Second, "leading again")
	assert.Greater(t, second.token, first.token)
	assert.Equal(t, []string{"leader (token " + itoa(second.token) + ")"}, details([]*replica{r}))
}
