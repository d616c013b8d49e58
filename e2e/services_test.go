package e2e

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// plain is a service with nothing but Init.
type plain struct{ name string }

func (p *plain) Name() string          { return p.name }
func (p *plain) Init(servicemesh.Mesh) {}

// node depends on the services named in needs: it holds them in its
// fields (up to three), where the mesh sees them.
type node struct {
	name    string
	needs   []string
	A, B, C servicemesh.Service
}

func (n *node) Name() string          { return n.name }
func (n *node) Init(servicemesh.Mesh) {}
func (n *node) slots() []*servicemesh.Service {
	return []*servicemesh.Service{&n.A, &n.B, &n.C}[:len(n.needs)]
}
func (n *node) DependenciesResolved() bool {
	for _, s := range n.slots() {
		if *s == nil {
			return false
		}
	}
	return true
}
func (n *node) ResolveDependencies(services []servicemesh.Service) {
	for i, slot := range n.slots() {
		for _, s := range services {
			if s.Name() == n.needs[i] {
				*slot = s
			}
		}
	}
}

// gate stays starting until open is closed.
type gate struct {
	name string
	open chan struct{}
}

func (g *gate) Name() string          { return g.name }
func (g *gate) Init(servicemesh.Mesh) {}
func (g *gate) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// broken fails its start, with a secret in its error.
type broken struct{ name string }

func (b *broken) Name() string          { return b.name }
func (b *broken) Init(servicemesh.Mesh) {}
func (b *broken) InitContext(context.Context, servicemesh.Mesh) error {
	return errors.New("dial vault: password=hunter2 rejected")
}

// flaky's Serve fails at once, and then waits an hour for its restart:
// it stays backing off.
type flaky struct{ name string }

func (f *flaky) Name() string          { return f.name }
func (f *flaky) Init(servicemesh.Mesh) {}
func (f *flaky) Serve(context.Context) error {
	return errors.New("smtp: connection reset by peer")
}
func (f *flaky) RestartPolicy() servicemesh.RestartPolicy {
	return servicemesh.RestartPolicy{Backoff: time.Hour, MaxBackoff: time.Hour, Jitter: -1, KeepRunning: true}
}

// teller says of itself what detail holds (servicemesh.HasStatusDetail),
// as leader.Singleton says whether its replica leads.
type teller struct {
	name   string
	detail atomic.Value // string
}

func (t *teller) Name() string          { return t.name }
func (t *teller) Init(servicemesh.Mesh) {}
func (t *teller) StatusDetail() string  { d, _ := t.detail.Load().(string); return d }

// shop adds the services of a small shop: a chain and a fan-in of
// dependencies, four levels deep.
func shop(m servicemesh.Mesh) {
	m.Add(&plain{name: "config"})
	m.Add(&node{name: "database", needs: []string{"config"}})
	m.Add(&node{name: "cache", needs: []string{"config"}})
	m.Add(&node{name: "catalog", needs: []string{"database", "cache"}})
	m.Add(&node{name: "orders", needs: []string{"database"}})
	m.Add(&node{name: "http api", needs: []string{"catalog", "orders", "cache"}})
}
