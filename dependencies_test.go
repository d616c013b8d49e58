package servicemesh

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// outsider waits for a flag set from outside the mesh.
type outsider struct {
	name     string
	ready    atomic.Bool
	checks   atomic.Int64
	initedAt atomic.Int64 // unix nanos
}

func (o *outsider) Name() string { return o.name }
func (o *outsider) Init(Mesh)    { o.initedAt.Store(time.Now().UnixNano()) }
func (o *outsider) DependenciesResolved() bool {
	o.checks.Add(1)
	return o.ready.Load()
}
func (o *outsider) ResolveDependencies([]Service) {}

// link depends on the service next, which it finds by pointer and waits for
// until next's Init has run.
type link struct {
	name     string
	want     *link
	next     *link
	inited   atomic.Bool
	resolves atomic.Int64
}

func (l *link) Name() string { return l.name }
func (l *link) Init(Mesh)    { l.inited.Store(true) }
func (l *link) DependenciesResolved() bool {
	return l.want == nil || (l.next != nil && l.next.inited.Load())
}
func (l *link) ResolveDependencies(services []Service) {
	l.resolves.Add(1)
	for _, s := range services {
		if s == Service(l.want) {
			l.next = l.want
		}
	}
}

func quietMesh(t *testing.T) *mesh {
	t.Helper()
	m := New(t.Name()).(*mesh)
	m.SetLogDestination(io.Discard)
	return m
}

func TestOutsideDependencyNoticedWithinMaxPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.SetDependencyResolutionTimeout(0)
		o := &outsider{name: "outside"}
		done := m.Add(o)

		time.Sleep(10 * time.Second) // fake time: the poll has long reached its ceiling
		synctest.Wait()
		require.Zero(t, o.initedAt.Load())
		arrived := time.Now()
		o.ready.Store(true)
		done.Wait()

		delay := time.Duration(o.initedAt.Load() - arrived.UnixNano())
		assert.LessOrEqual(t, delay, timing.MaxPoll)
		m.Shutdown().Wait()
	})
}

func TestPollBacksOffToCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.SetDependencyResolutionTimeout(0)
		o := &outsider{name: "outside"}
		m.Add(o)

		time.Sleep(time.Second)
		warm := o.checks.Load()
		// 1, 2, 4, 8, 16, 32 ms, then timing.MaxPoll, each wait ending on its own
		// grid (so possibly shorter): about 26 polls in the first second, two
		// checks of DependenciesResolved each. Without backoff it would be 1000.
		assert.LessOrEqual(t, warm, int64(2*32))
		time.Sleep(10 * time.Second)
		perSecond := float64(o.checks.Load()-warm) / 2 / 10
		assert.InDelta(t, float64(time.Second/timing.MaxPoll), perSecond, 1)

		m.Shutdown().Wait()
	})
}

func TestInitWakesOnlyTheResolversHoldingIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.SetDependencyResolutionTimeout(0)
		const n = 50
		links := make([]*link, n+1)
		links[n] = &link{name: "base"}
		for i := n - 1; i >= 0; i-- {
			links[i] = &link{name: "link", want: links[i+1]}
		}
		var wgs []*sync.WaitGroup
		for i := range n { // dependents first, each waiting for a service not yet added
			wgs = append(wgs, m.Add(links[i]))
		}
		synctest.Wait()
		before := int64(0)
		for _, l := range links[:n] {
			before += l.resolves.Load()
		}

		m.Add(links[n]).Wait()
		for _, wg := range wgs {
			wg.Wait()
		}
		after := int64(0)
		for _, l := range links[:n] {
			after += l.resolves.Load()
		}
		// Each link is re-run when the base is added and when the one it holds
		// initializes: about 2n calls. Waking every waiter on every Init would
		// be about n*n/2.
		assert.LessOrEqual(t, after-before, int64(3*n))
		m.Shutdown().Wait()
	})
}

func TestSlowResolutionIsReportedOnceAndNamesTheCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("diag").(*mesh)
		var logs syncBuffer
		m.SetLogDestination(&logs)
		m.SetDependencyResolutionTimeout(0)
		require.True(t, SetDependencyWarningDelay(m, time.Second))

		a := &link{name: "alpha"}
		b := &link{name: "beta", want: a}
		a.want = &link{name: "missing"} // never added
		m.Add(a)
		m.Add(b)

		time.Sleep(3 * time.Second)
		synctest.Wait()
		out := logs.String()
		assert.Equal(t, 1, strings.Count(out, `subject=alpha`), out)
		assert.Equal(t, 1, strings.Count(out, `subject=beta`), out)
		assert.Contains(t, out, "dependency cycle or a missing service is likely")
		assert.Contains(t, out, `unresolved="[alpha beta]"`)

		m.Shutdown().Wait()
	})
}

func TestTimeoutErrorNamesWhatIsUnresolved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.SetDependencyResolutionTimeout(2 * time.Second)
		rec := &failures{}
		m.Add(rec).Wait()
		a := &link{name: "alpha", want: &link{name: "missing"}}
		start := time.Now()
		m.Add(a).Wait()

		require.Len(t, rec.get(), 1)
		err := rec.get()[0]
		assert.ErrorIs(t, err, ErrDependencyResolutionTimeout)
		var re *ResolutionError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "alpha", re.Service)
		assert.Equal(t, []string{"alpha"}, re.Unresolved)
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Contains(t, err.Error(), `"alpha"`)
		assert.False(t, a.inited.Load())
		m.Shutdown().Wait()
	})
}

type failures struct {
	mu   sync.Mutex
	errs []error
}

func (f *failures) Name() string { return "failures" }
func (f *failures) Init(Mesh)    {}
func (f *failures) OnDependencyResolutionFailed(_ Service, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}
func (f *failures) get() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

// panicky panics in the resolver method named by where.
type panicky struct {
	where string
	calls atomic.Int64
}

func (p *panicky) Name() string { return "panicky-" + p.where }
func (p *panicky) Init(Mesh)    { panic("Init must not run") }
func (p *panicky) DependenciesResolved() bool {
	if p.where == "DependenciesResolved" {
		p.calls.Add(1)
		panic(errors.New("boom"))
	}
	return false
}
func (p *panicky) ResolveDependencies([]Service) {
	p.calls.Add(1)
	panic(errors.New("boom"))
}

func TestPanickingResolverFailsOnceAndIsNotRetried(t *testing.T) {
	for _, where := range []string{"DependenciesResolved", "ResolveDependencies"} {
		t.Run(where, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := quietMesh(t)
				rec := &failures{}
				m.Add(rec).Wait()
				p := &panicky{where: where}
				m.Add(p).Wait()
				time.Sleep(time.Second)

				assert.Equal(t, int64(1), p.calls.Load())
				require.Len(t, rec.get(), 1)
				err := rec.get()[0]
				assert.ErrorIs(t, err, ErrServicePanicked)
				var pe *PanicError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, where, pe.Call)
				assert.Contains(t, err.Error(), "boom")
				m.Shutdown().Wait()
			})
		})
	}
}

func TestFind(t *testing.T) {
	a, b := &link{name: "a"}, &outsider{name: "b"}
	list := []Service{a, b}

	got, ok := Find[HasDependencies](list)
	assert.True(t, ok)
	assert.Same(t, a, got)
	_, ok = Find[HasLogger](list)
	assert.False(t, ok)
	assert.Equal(t, []HasDependencies{a, b}, FindAll[HasDependencies](list))
	assert.Nil(t, FindAll[HasLogger](list))
	o, ok := Find[*outsider](list)
	assert.True(t, ok)
	assert.Same(t, b, o)
}

func TestStateNamesAndJSON(t *testing.T) {
	tests := []struct {
		s    State
		name string
	}{
		{StateAdded, "added"}, {StateResolving, "resolving"}, {StateStarting, "starting"},
		{StateRunning, "running"}, {StateStopping, "stopping"}, {StateStopped, "stopped"},
		{StateFailed, "failed"}, {StateRemoved, "removed"}, {State(99), "State(99)"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.name, tc.s.String())
		if tc.s > StateRemoved {
			continue
		}
		b, err := json.Marshal(map[string]State{"state": tc.s})
		require.NoError(t, err)
		assert.JSONEq(t, `{"state":"`+tc.name+`"}`, string(b))
		var back map[string]State
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, tc.s, back["state"])
	}
	var s State
	assert.Error(t, s.UnmarshalText([]byte("sleeping")))
}

// readyAfter holds one service and takes another only once it is ready:
// the mesh cannot see that it waits for the second.
type readyAfter struct {
	name   string
	first  *link
	second *earlyFlag
	runs   atomic.Int64
}

type earlyFlag struct {
	name  string
	ready atomic.Bool
}

func (f *earlyFlag) Name() string { return f.name }
func (f *earlyFlag) Init(Mesh)    { f.ready.Store(true) }

func (r *readyAfter) Name() string { return r.name }
func (r *readyAfter) Init(Mesh)    {}
func (r *readyAfter) DependenciesResolved() bool {
	return r.first != nil && r.second != nil
}
func (r *readyAfter) ResolveDependencies(services []Service) {
	r.runs.Add(1)
	r.first, _ = Find[*link](services)
	if f, ok := Find[*earlyFlag](services); ok && f.ready.Load() {
		r.second = f
	}
}

// A resolver is re-run soon after any service is initialized, not only one
// it holds (DESIGN: retry at once whenever the mesh changes).
func TestAnyInitReRunsEveryWaiterSoon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		m.SetDependencyResolutionTimeout(0)
		m.Add(&link{name: "first"}).Wait()
		flag := &earlyFlag{name: "second"}
		r := &readyAfter{name: "waiter"}
		done := m.Add(r)
		time.Sleep(10 * time.Second) // polling at its slowest
		synctest.Wait()
		require.NotNil(t, r.first, "it holds the first service")

		start := time.Now()
		m.Add(flag).Wait() // added, then initialized: ready
		done.Wait()
		assert.LessOrEqual(t, time.Since(start), timing.BroadcastDelay, "re-run within timing.BroadcastDelay, not at the next poll")
		m.Shutdown().Wait()
	})
}

// A chain whose links wait for the one after them starts at once when its
// base is added: each link is resolved and initialized by the goroutine
// that initialized the one it holds (handoff.go), with no broadcast, poll
// or timer between two links; only the base, added last, is found in a
// broadcast.
func TestChainStartsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		const n = 50
		links := make([]*link, n+1)
		links[n] = &link{name: "base"}
		for i := n - 1; i >= 0; i-- {
			links[i] = &link{name: "link" + string(rune('A'+i%26)) + string(rune('a'+i/26)), want: links[i+1]}
		}
		var wgs []*sync.WaitGroup
		for i := range n { // dependents first: each finds the next in a broadcast
			wgs = append(wgs, m.Add(links[i]))
		}
		time.Sleep(time.Millisecond) // past the broadcast
		synctest.Wait()
		start := time.Now()
		wgs = append(wgs, m.Add(links[n]))
		for _, wg := range wgs {
			wg.Wait()
		}
		// One broadcast, in which the last link finds the base added after
		// it; none per link.
		assert.LessOrEqual(t, time.Since(start), timing.BroadcastDelay, "the links waited for timers")
		for _, l := range links {
			assert.True(t, l.inited.Load(), l.name)
		}
		m.Shutdown().Wait()
	})
}

// The dependent left to the hand-off does not wait on its provider's
// lifecycle: a handler of the provider's EventServiceInitialized that waits
// for the dependent's Init sees it within the broadcast's delay.
func TestHandOffDoesNotWaitOnHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		base := &link{name: "base"}
		dep := &link{name: "dep", want: base}
		m.Add(dep)
		time.Sleep(time.Millisecond) // past the broadcast: dep holds base
		synctest.Wait()
		seen := make(chan time.Duration, 1)
		m.Events().On(EventServiceInitialized, func(args ...any) {
			if len(args) == 0 || args[0] != Service(base) {
				return
			}
			start := time.Now()
			for !dep.inited.Load() && time.Since(start) < time.Second {
				time.Sleep(10 * time.Microsecond)
			}
			seen <- time.Since(start)
		})
		m.Add(base)
		waited := <-seen
		assert.True(t, dep.inited.Load(), "dep initialized while base's handler waited")
		assert.LessOrEqual(t, waited, 2*timing.BroadcastDelay)
		m.Shutdown().Wait()
	})
}

// deadlineLink holds its provider and is resolved once the provider is
// initialized and go is set.
type deadlineLink struct {
	name     string
	provider *earlyFlag
	held     *earlyFlag
	proceed  *atomic.Bool
	inits    atomic.Int32
}

func (l *deadlineLink) Name() string { return l.name }
func (l *deadlineLink) Init(Mesh)    { l.inits.Add(1) }
func (l *deadlineLink) DependenciesResolved() bool {
	return l.held != nil && l.held.ready.Load() && l.proceed.Load()
}
func (l *deadlineLink) ResolveDependencies(services []Service) {
	for _, s := range services {
		if s == Service(l.provider) {
			l.held = l.provider
		}
	}
}

// sleeper's resolver sleeps once, the first time it is called at or after
// at: the scheduler's goroutine is held up (for less than the watchdog's
// stall) while a deadline passes.
type sleeper struct {
	at    time.Time
	span  time.Duration
	slept atomic.Bool
}

func (s *sleeper) Name() string               { return "sleeper" }
func (s *sleeper) Init(Mesh)                  {}
func (s *sleeper) DependenciesResolved() bool { return false }
func (s *sleeper) ResolveDependencies([]Service) {
	if !time.Now().Before(s.at) && !s.slept.Swap(true) {
		time.Sleep(s.span)
	}
}

// A hand-off that comes after the resolution timeout ends the resolution
// as timed out without calling the resolver, as the scheduler's attempts
// do: a service is never initialized on an attempt that began after its
// timeout, whoever runs it.
func TestHandOffAfterTheTimeoutDoesNotResolve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := quietMesh(t)
		require.True(t, SetRestartPolicy(m, RestartPolicy{KeepRunning: true}))
		m.SetDependencyResolutionTimeout(time.Second)
		start := time.Now()
		deadline := start.Add(time.Second)
		provider := &earlyFlag{name: "provider"}
		// The provider's EventServiceInitialized handler returns, and its
		// goroutine hands off to the link, just after the link's deadline,
		// while the scheduler is held up in the sleeper's resolver.
		m.Events().On(EventServiceInitialized, func(args ...any) {
			if len(args) > 0 && args[0] == Service(provider) {
				time.Sleep(time.Until(deadline.Add(time.Millisecond)))
			}
		})
		var ready atomic.Bool
		link := &deadlineLink{name: "link", provider: provider, proceed: &ready}
		m.Add(link)
		m.Add(&sleeper{at: deadline.Add(-2 * time.Millisecond), span: 5 * time.Millisecond})
		time.Sleep(time.Millisecond)
		synctest.Wait()
		m.Add(provider) // the link holds it from the broadcast on
		go func() {
			time.Sleep(time.Until(deadline.Add(500 * time.Microsecond)))
			ready.Store(true)
		}()
		// A change just before the deadline: its broadcast runs the
		// sleeper's resolver across the deadline.
		time.Sleep(time.Until(deadline.Add(-2*time.Millisecond - timing.BroadcastDelay)))
		m.Add(&earlyFlag{name: "change"})
		time.Sleep(time.Second)
		synctest.Wait()

		assert.Zero(t, link.inits.Load(), "initialized on an attempt that began after its timeout")
		for _, s := range Status(m).Services {
			if s.Name == "link" {
				assert.Equal(t, StateFailed, s.State)
			}
		}
		m.Shutdown().Wait()
	})
}
