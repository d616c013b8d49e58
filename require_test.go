package servicemesh_test

// Declared requirements (DESIGN §9): Require and HasRequirements.

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rqStore is a provider whose start waits for release, when given.
type rqStore struct {
	name    string
	release chan struct{}
	fail    error
	running atomic.Bool
	stopped atomic.Int64 // when its stop ended, in order
}

func (s *rqStore) Name() string          { return s.name }
func (s *rqStore) Init(servicemesh.Mesh) {}
func (s *rqStore) InitContext(ctx context.Context, _ servicemesh.Mesh) error {
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail != nil {
		return s.fail
	}
	s.running.Store(true)
	return nil
}

var stopSeq atomic.Int64

func (s *rqStore) OnShutdown() { s.stopped.Store(stopSeq.Add(1)) }

// Storer is what an rqStore is, for requirements on an interface.
type Storer interface {
	servicemesh.Service
	Get() string
}

func (s *rqStore) Get() string { return s.name }

// rqAPI requires a store, and records what it found in Init.
type rqAPI struct {
	name     string
	store    *rqStore
	sawStore *rqStore
	sawRun   bool
	inited   atomic.Bool
	stopped  atomic.Int64
	extra    []servicemesh.Requirement
}

func (a *rqAPI) Name() string { return a.name }
func (a *rqAPI) Init(servicemesh.Mesh) {
	a.sawStore = a.store
	a.sawRun = a.store != nil && a.store.running.Load()
	a.inited.Store(true)
}
func (a *rqAPI) Requirements() []servicemesh.Requirement {
	return append([]servicemesh.Requirement{servicemesh.Require(&a.store)}, a.extra...)
}
func (a *rqAPI) OnShutdown() { a.stopped.Store(stopSeq.Add(1)) }

// A requirement is filled before Init from a running provider: found is not
// enough; the requirer waits, as a record, while the provider starts.
func TestRequireWaitsForARunningProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		api := &rqAPI{name: "api"}
		store := &rqStore{name: "store", release: make(chan struct{})}
		m.Add(api) // added first: it waits
		m.Add(store)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.False(t, api.inited.Load(), "found is not enough")
		assert.Equal(t, servicemesh.StateResolving, frState(t, m, "api"))
		close(store.release)
		synctest.Wait()
		require.True(t, api.inited.Load())
		assert.Same(t, store, api.sawStore)
		assert.True(t, api.sawRun, "the store was running when api's Init ran")
		st := servicemesh.Status(m)
		assert.Equal(t, []string{"store"}, st.Services[0].DependsOn, "an exact edge")
		g := servicemesh.Graph(m)
		require.Len(t, g.Edges, 1)
		assert.True(t, g.Edges[0].Declared)
		assert.Contains(t, g.DOT(), "[style=bold]")
		assert.Contains(t, g.Mermaid(), "==>")
		m.Shutdown().Wait()
		assert.Less(t, api.stopped.Load(), store.stopped.Load(), "the requirer stops first")
	})
}

// rqUser requires a Storer (an interface).
type rqUser struct {
	name  string
	store Storer
}

func (u *rqUser) Name() string          { return u.name }
func (u *rqUser) Init(servicemesh.Mesh) {}
func (u *rqUser) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&u.store), {}} // a zero one is ignored
}

// The first added of several providers fills it, not the first to start.
func TestRequireTakesTheFirstAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		slow := &rqStore{name: "primary", release: make(chan struct{})}
		m.Add(slow)
		m.Add(&rqStore{name: "replica"}).Wait()
		u := &rqUser{name: "user"}
		m.Add(u)
		synctest.Wait()
		assert.Nil(t, u.store, "waits for the first added")
		close(slow.release)
		synctest.Wait()
		require.NotNil(t, u.store)
		assert.Equal(t, "primary", u.store.Get())
		m.Shutdown().Wait()
	})
}

// A missing provider is named at Warn once the mesh settled, and fails the
// requirer at the resolution timeout with an error that names the type. A
// service never provides its own requirement.
func TestRequireMissingProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		m.SetDependencyResolutionTimeout(10 * time.Second)
		self := &rqSelf{name: "narcissus"}
		m.Add(self)
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		assert.Contains(t, logs.String(), `level=WARN msg="\"narcissus\" requires *servicemesh_test.rqSelf: no service in the mesh is one"`)
		assert.Equal(t, 1, countLines(logs.String(), "no service in the mesh is one"), "once")
		err := <-ran
		var se *servicemesh.ServiceError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "resolve", se.Op)
		assert.ErrorIs(t, err, servicemesh.ErrDependencyResolutionTimeout)
		assert.ErrorContains(t, err, "*servicemesh_test.rqSelf")
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "narcissus"))
	})
}

type rqSelf struct {
	name string
	me   *rqSelf
}

func (s *rqSelf) Name() string          { return s.name }
func (s *rqSelf) Init(servicemesh.Mesh) {}
func (s *rqSelf) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&s.me)}
}

// A provider that fails for good fails its requirers at once; requirements
// that close a cycle fail every service on it, naming the cycle.
func TestRequireFailedProviderAndCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		require.True(t, servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true}))
		failures := watchFailures(m)
		store := &rqStore{name: "store", release: make(chan struct{}), fail: errFR}
		api := &rqAPI{name: "api"}
		m.Add(store)
		m.Add(api)
		synctest.Wait()
		close(store.release)
		synctest.Wait()
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "api"))
		require.Equal(t, 1, failures.count("api"))
		failures.mu.Lock()
		err := failures.told["api"][0]
		failures.mu.Unlock()
		assert.ErrorIs(t, err, servicemesh.ErrDependencyFailed)
		assert.ErrorContains(t, err, `"store"`)
		assert.False(t, api.inited.Load())

		m.Add(&cycA{})
		m.Add(&cycB{})
		synctest.Wait()
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "a"))
		assert.Equal(t, servicemesh.StateFailed, frState(t, m, "b"))
		for _, name := range []string{"a", "b"} {
			failures.mu.Lock()
			errs := slices.Clone(failures.told[name])
			failures.mu.Unlock()
			require.Len(t, errs, 1, name)
			assert.ErrorIs(t, errs[0], servicemesh.ErrDependencyCycle)
			assert.Regexp(t, `(a → b → a|b → a → b)`, errs[0].Error())
		}
		m.Shutdown().Wait()
	})
}

// cycA requires a cycB, which requires a cycA.
type cycA struct{ b *cycB }
type cycB struct{ a *cycA }

func (*cycA) Name() string          { return "a" }
func (*cycA) Init(servicemesh.Mesh) {}
func (c *cycA) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&c.b)}
}
func (*cycB) Name() string          { return "b" }
func (*cycB) Init(servicemesh.Mesh) {}
func (c *cycB) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&c.a)}
}

// Bad input is a failed resolution that names it, never a panic: a nil
// destination, a type that can never be a service.
func TestRequireBadInput(t *testing.T) {
	tests := []struct {
		name string
		req  servicemesh.Requirement
		text string
	}{
		{"nil dst", servicemesh.Require[*rqStore](nil), `Require[*servicemesh_test.rqStore] was given a nil destination`},
		{"not a service", servicemesh.Require(new(int)), `Require[int]: int is not an interface and not a Service`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := frMesh(t)
				api := &rqAPI{name: "api", extra: []servicemesh.Requirement{tc.req}}
				m.Add(&rqStore{name: "store"})
				m.Add(api)
				err := servicemesh.RunContext(context.Background(), m)
				var se *servicemesh.ServiceError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, "resolve", se.Op)
				assert.ErrorContains(t, err, tc.text)
				assert.False(t, api.inited.Load())
			})
		})
	}
	assert.Equal(t, "*servicemesh_test.rqStore", servicemesh.Require(new(*rqStore)).String())
	assert.Equal(t, "nothing", servicemesh.Requirement{}.String())
}

// rqValue is a service with value receivers: a valid T.
type rqValue struct{ id int }

func (rqValue) Name() string          { return "value" }
func (rqValue) Init(servicemesh.Mesh) {}

type rqNeedsValue struct{ v rqValue }

func (*rqNeedsValue) Name() string          { return "needs value" }
func (*rqNeedsValue) Init(servicemesh.Mesh) {}
func (n *rqNeedsValue) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&n.v)}
}

func TestRequireAStructWithValueReceivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		n := &rqNeedsValue{}
		m.Add(rqValue{id: 7})
		m.Add(n)
		synctest.Wait()
		assert.Equal(t, 7, n.v.id)
		m.Shutdown().Wait()
	})
}

// Waiting costs no goroutine: thousands of requirers on one type are
// records, all filled when the provider starts.
func TestRequireThousandsOfRequirersWithoutGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		const n = 2000
		apis := make([]*rqAPI, n)
		for i := range apis {
			apis[i] = &rqAPI{name: fmt.Sprint("api", i)}
			m.Add(apis[i])
		}
		store := &rqStore{name: "store", release: make(chan struct{})}
		m.Add(store)
		synctest.Wait()
		assert.Less(t, runtime.NumGoroutine(), 100, "waiters are records, not goroutines")
		close(store.release)
		synctest.Wait()
		for _, a := range apis {
			if !assert.True(t, a.inited.Load(), a.name) {
				break
			}
		}
		m.Shutdown().Wait()
	})
}

// A requirer waiting when the shutdown begins, or when it is removed, is
// cut short: stopped (or removed), no failure.
func TestRequireWaitCutShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		failures := watchFailures(m)
		api, gone := &rqAPI{name: "api"}, &rqAPI{name: "gone"}
		m.Add(api)
		m.Add(gone)
		synctest.Wait()
		m.Remove(gone).Wait()
		ran := make(chan error)
		go func() { ran <- servicemesh.RunContext(context.Background(), m) }()
		synctest.Wait()
		m.Shutdown()
		assert.NoError(t, <-ran)
		assert.Zero(t, failures.total())
		assert.Equal(t, servicemesh.StateStopped, frState(t, m, "api"))
		assert.False(t, api.inited.Load())
	})
}

// A provider removed while requirers wait: they take the next one of the
// type; once a requirement is filled, its requirer keeps what it was given.
func TestRequireProviderRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		first := &rqStore{name: "first", release: make(chan struct{})}
		second := &rqStore{name: "second"}
		u := &rqUser{name: "user"}
		m.Add(first)
		m.Add(second)
		m.Add(u)
		defer close(first.release)
		time.Sleep(10 * time.Millisecond) // the lane goes past first's Init
		synctest.Wait()
		assert.Nil(t, u.store, "waits for the first added")
		m.Remove(first).Wait()
		synctest.Wait()
		require.NotNil(t, u.store)
		assert.Equal(t, "second", u.store.Get())
		m.Remove(second).Wait()
		assert.Equal(t, "second", u.store.Get(), "kept")
		m.Shutdown().Wait()
	})
}

// Requirements are filled first, then the legacy resolver runs.
func TestRequireThenLegacyResolver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := frMesh(t)
		b := &rqBoth{rqAPI: rqAPI{name: "both"}}
		m.Add(b)
		m.Add(&rqStore{name: "store"})
		synctest.Wait()
		assert.True(t, b.sawStoreInResolver.Load(), "the resolver ran after the requirement was filled")
		assert.True(t, b.inited.Load())
		m.Shutdown().Wait()
	})
}

type rqBoth struct {
	rqAPI
	sawStoreInResolver atomic.Bool
	resolved           atomic.Bool
}

func (b *rqBoth) DependenciesResolved() bool { return b.resolved.Load() }
func (b *rqBoth) ResolveDependencies([]servicemesh.Service) {
	b.sawStoreInResolver.Store(b.store != nil)
	b.resolved.Store(true)
}
