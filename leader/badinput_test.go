package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/leader"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// plain is a service without Serve.
type plain struct{}

func (*plain) Name() string          { return "plain" }
func (*plain) Init(servicemesh.Mesh) {}

// fieldElector is an Elector whose Campaign reads a field: a nil
// *fieldElector panics there.
type fieldElector struct{ term leader.Term }

func (e *fieldElector) Campaign(context.Context) (leader.Term, error) { return e.term, nil }

// unreachable returns a client of an etcd that is not there: the tests of
// bad input never get as far as talking to it.
func unreachable(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://127.0.0.1:1"}, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestBadInputFailsInitContextNamingIt(t *testing.T) {
	serve := servicemesh.Func("cron", func(ctx context.Context) error { <-ctx.Done(); return nil })
	for _, tc := range []struct {
		name    string
		svc     func(t *testing.T) servicemesh.Service
		want    error
		mention string
	}{
		{"nil service", func(*testing.T) servicemesh.Service {
			return leader.Singleton(nil, leader.Etcd(nil, "/p/"))
		}, leader.ErrNilService, "nil service"},
		{"no Serve", func(t *testing.T) servicemesh.Service {
			return leader.Singleton(&plain{}, leader.Etcd(unreachable(t), "/p/"))
		}, leader.ErrNoServe, `"plain"`},
		{"nil pointer service", func(t *testing.T) servicemesh.Service {
			return leader.Singleton((*job)(nil), leader.Etcd(unreachable(t), "/p/"))
		}, leader.ErrNilService, "nil service"},
		{"nil elector", func(*testing.T) servicemesh.Service { return leader.Singleton(serve, nil) }, leader.ErrNilElector, `"cron"`},
		{"nil pointer elector", func(*testing.T) servicemesh.Service {
			return leader.Singleton(serve, (*fieldElector)(nil))
		}, leader.ErrNilElector, `"cron"`},
		{"nil client", func(*testing.T) servicemesh.Service {
			return leader.Singleton(serve, leader.Etcd(nil, "/p/"))
		}, leader.ErrNilClient, "nil etcd client"},
		{"empty prefix", func(t *testing.T) servicemesh.Service {
			return leader.Singleton(serve, leader.Etcd(unreachable(t), ""))
		}, leader.ErrEmptyPrefix, "empty election prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := meshtest.New(t)
			svc := tc.svc(t)
			require.NotPanics(t, func() { m.Add(svc).Wait() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := servicemesh.RunContext(ctx, m) // the failure shut it down
			require.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, tc.mention)
			var se *servicemesh.ServiceError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "init", se.Op)
			assert.Equal(t, servicemesh.StateFailed, servicemesh.Status(m).Services[0].State)
		})
	}
}

func TestCampaignWithBadInputReturnsTheError(t *testing.T) {
	_, err := leader.Etcd(nil, "/p/").Campaign(context.Background())
	assert.ErrorIs(t, err, leader.ErrNilClient)
	_, err = leader.Etcd(unreachable(t), "", nil).Campaign(context.Background())
	assert.ErrorIs(t, err, leader.ErrEmptyPrefix)
}

func TestTokenFromAContextWithoutTerm(t *testing.T) {
	_, ok := leader.TokenFrom(context.Background())
	assert.False(t, ok)
}

// singletonOf returns svc as a singleton elected through c under prefix.
func singletonOf(svc servicemesh.Service, c *clientv3.Client, prefix string) servicemesh.Service {
	return leader.Singleton(svc, leader.Etcd(c, prefix, leader.WithTTL(testTTL)))
}

func TestElectorReturningNoTermAndNoErrorIsAFailedCampaign(t *testing.T) {
	tr := newTracker()
	m := meshtest.New(t)
	warnings := make(chan string, 100)
	m.SetLogHandler(warnHandler{warnings})
	require.NotPanics(t, func() { m.Add(leader.Singleton(&job{replica: "a", tr: tr}, &fieldElector{})).Wait() })
	select {
	case msg := <-warnings:
		assert.Contains(t, msg, "campaign failed")
	case <-time.After(5 * time.Second):
		t.Fatal("no failed campaign logged at Warn within 5 s")
	}
	select {
	case x := <-tr.started:
		t.Fatalf("Serve started without a term, token %d", x.token)
	default:
	}
	assert.Equal(t, servicemesh.StateRunning, servicemesh.Status(m).Services[0].State, "it goes on campaigning")
}
