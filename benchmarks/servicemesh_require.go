package benchmarks

// Scenarios of declared requirements (servicemesh.Require and
// HasRequirements): RequireChain and RequireFanIn, compared with fx and do
// (whose one way of declaring a dependency is their code of S2 and S3), and
// the cost of services that wait on a requirement no service fills
// (RequireWaiters, servicemesh only).

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

//go:generate go run ./cmd/genchain -peer servicemesh -depth 100 -o servicemesh_require_chain.go

// meshReqLink is link I of the RequireChain chain. Require needs its type
// at compile time, and a chain of 100 links needs 100 distinct types: the
// links are one generic type instantiated with the index types reqL0 ...
// reqL99 (generated in servicemesh_require_chain.go), as fx's chain is,
// which compiles quickly (empty structs: one shape, one body for all 100),
// and link k requires the concrete pointer type *meshReqLink[reqL(k+1)],
// as fx's link k takes *fxLink[fxL(k+1)]. Its own type cannot name the
// field that holds link k+1 (that type would name the whole rest of the
// chain), so the field is in need, a meshReqNext[reqL(k+1)].
type meshReqLink[I any] struct {
	name  string
	idx   int
	need  meshReqNeed // what it requires; nil at the end of the chain
	done  atomic.Bool // set at the end of Init
	order *order
}

// meshReqNeed is a link's requirement of the next one.
type meshReqNeed interface {
	requirement() servicemesh.Requirement
	// filled tells the position of the link the requirement was filled
	// with, and whether that link's Init had finished; -1 if not filled.
	filled() (position int, initDone bool)
}

// meshReqNext holds link Next once the mesh has filled the requirement.
type meshReqNext[Next any] struct {
	next *meshReqLink[Next]
}

func (n *meshReqNext[Next]) requirement() servicemesh.Requirement {
	return servicemesh.Require(&n.next)
}

func (n *meshReqNext[Next]) filled() (int, bool) {
	if n.next == nil {
		return -1, false
	}
	return n.next.idx, n.next.done.Load()
}

// meshReqLinkOf returns link i, of index type I, which requires the link of
// index type Next.
func meshReqLinkOf[I, Next any](o *order, name string, i int) servicemesh.Service {
	return &meshReqLink[I]{name: name, idx: i, need: &meshReqNext[Next]{}, order: o}
}

// meshReqEnd returns the last link, i, of index type I, which requires
// nothing.
func meshReqEnd[I any](o *order, name string, i int) servicemesh.Service {
	return &meshReqLink[I]{name: name, idx: i, order: o}
}

func (l *meshReqLink[I]) Name() string { return l.name }

func (l *meshReqLink[I]) Requirements() []servicemesh.Requirement {
	if l.need == nil {
		return nil
	}
	return []servicemesh.Requirement{l.need.requirement()}
}

// Init records whether the link it requires is the right one and had
// finished its Init: Require fills a requirement only with a running
// service.
func (l *meshReqLink[I]) Init(servicemesh.Mesh) {
	ready := l.need == nil
	if !ready {
		pos, done := l.need.filled()
		ready = pos == l.idx+1 && done
	}
	l.order.add(l.idx, ready)
	l.done.Store(true)
}

// meshRequireChain runs the chain of newMeshRequireChain and shuts down.
func meshRequireChain(depth int) error {
	m, o, err := newMeshRequireChain(depth)
	if err != nil {
		return err
	}
	m.Shutdown().Wait()
	return o.checkChain(depth)
}

// newMeshRequireChain adds the dependents first, as meshS2 does: link i
// requires link i+1, and the links are added in the order 0..depth-1, so
// each waits, parked, for the next one to run. It returns once every Init
// has returned.
func newMeshRequireChain(depth int) (servicemesh.Mesh, *order, error) {
	if depth != meshReqChainDepth {
		return nil, nil, fmt.Errorf("servicemesh_require_chain.go has a chain of %d, not %d: run go generate", meshReqChainDepth, depth)
	}
	o := newOrder(depth)
	m := newMesh("RequireChain")
	links := meshRequireLinks(o, serviceNames(depth))
	wgs := make([]*sync.WaitGroup, depth)
	for i, l := range links {
		wgs[i] = m.Add(l)
	}
	waitAll(wgs)
	return m, o, nil
}

// meshReqUser requires the db (S3's meshDB, whose IsInit tells whether its Init has finished).
type meshReqUser struct {
	name  string
	idx   int
	db    *meshDB // filled by the mesh before Init
	order *order
}

func (u *meshReqUser) Name() string { return u.name }

func (u *meshReqUser) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&u.db)}
}

func (u *meshReqUser) Init(servicemesh.Mesh) {
	u.order.add(u.idx, u.db != nil && u.db.IsInit())
}

// meshRequireFanIn adds n services requiring the db, then the db, as meshS3
// does.
func meshRequireFanIn(n int) error {
	ns := serviceNames(n)
	o := newOrder(n)
	m := newMesh("RequireFanIn")
	wgs := make([]*sync.WaitGroup, n+1)
	for i := range n {
		wgs[i] = m.Add(&meshReqUser{name: ns[i], idx: i, order: o})
	}
	wgs[n] = m.Add(&meshDB{})
	waitAll(wgs)
	m.Shutdown().Wait()
	return o.checkCount(n)
}

// meshAbsent is a type of service that no mesh of RequireWaiters is given.
type meshAbsent struct{}

func (*meshAbsent) Name() string          { return "absent" }
func (*meshAbsent) Init(servicemesh.Mesh) {}

// meshWaiter requires a *meshAbsent, which never comes: it waits until the
// shutdown, and its Init must never run.
type meshWaiter struct {
	name   string
	absent *meshAbsent
	inits  *atomic.Int64
}

func (w *meshWaiter) Name() string          { return w.name }
func (w *meshWaiter) Init(servicemesh.Mesh) { w.inits.Add(1) }

func (w *meshWaiter) Requirements() []servicemesh.Requirement {
	return []servicemesh.Requirement{servicemesh.Require(&w.absent)}
}

// missingLines counts the lines of the mesh's log that name a requirement
// no service can fill.
type missingLines struct{ n atomic.Int64 }

var missingText = []byte("no service in the mesh is one")

// Write counts p if it names a missing requirement; the text handler
// writes each record in one call.
func (c *missingLines) Write(p []byte) (int, error) {
	if bytes.Contains(p, missingText) {
		c.n.Add(1)
	}
	return len(p), nil
}

// WaitersResult is what RequireWaiters measured.
type WaitersResult struct {
	// BytesPerWaiter is the growth of the live heap, collected before and
	// after, from before the mesh was made until every waiter waits, over
	// the number of waiters: what the mesh keeps per waiting service (the
	// services themselves are made before the first reading).
	BytesPerWaiter float64
	// Goroutines is the growth of runtime.NumGoroutine over the same span:
	// the goroutines the mesh holds while they wait.
	Goroutines int
	// Add is the wall time from the first Add until every waiter waits
	// (its state is StateResolving).
	Add time.Duration
}

// waitersDeadline bounds each wait of RequireWaiters.
const waitersDeadline = 30 * time.Second

// RequireWaiters adds n services that require a type of service the mesh is
// never given, waits until every one waits and the mesh has named each
// missing requirement at Warn (it does so once the mesh has settled, so
// nothing is left running but the timers), measures, then shuts down: no
// waiter may have been initialized. The resolution timeout keeps its
// default (30 s), so each waiter holds its timer, as it would in a program.
// The services, and n spare goroutine descriptors (spareGoroutines), are
// made before the first reading of the heap.
func RequireWaiters(n int) (WaitersResult, error) {
	var res WaitersResult
	if n <= 0 {
		return res, errors.New("no services")
	}
	ns := serviceNames(n)
	var inits atomic.Int64
	ws := make([]*meshWaiter, n)
	for i := range n {
		ws[i] = &meshWaiter{name: ns[i], inits: &inits}
	}
	spareGoroutines(n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	logs := new(missingLines)
	m := servicemesh.New("RequireWaiters")
	m.SetLogDestination(logs)
	start := time.Now()
	for _, w := range ws {
		m.Add(w)
	}
	err := until(2*time.Millisecond, func() bool {
		waiting := 0
		for _, s := range servicemesh.Status(m).Services {
			if s.State == servicemesh.StateResolving {
				waiting++
			}
		}
		return waiting == n
	}, "every waiter to wait")
	res.Add = time.Since(start)
	if err == nil {
		err = until(time.Millisecond, func() bool { return logs.n.Load() >= int64(n) }, "every missing requirement to be named")
	}
	if err == nil {
		// The lifecycles that parked end right after; let them.
		err = until(0, func() bool {
			g := runtime.NumGoroutine()
			time.Sleep(5 * time.Millisecond)
			return runtime.NumGoroutine() == g
		}, "the goroutines to settle")
	}
	if err == nil {
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		res.Goroutines = runtime.NumGoroutine() - g0
		res.BytesPerWaiter = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	}
	m.Shutdown().Wait()
	runtime.KeepAlive(ws)
	if err != nil {
		return res, err
	}
	if got := logs.n.Load(); got != int64(n) {
		return res, fmt.Errorf("%d missing requirements named, want %d (once per waiter)", got, n)
	}
	return res, expect("Inits of waiters whose requirement was never filled", inits.Load(), 0)
}

// spareGoroutines starts n goroutines that wait until all have started,
// then end. The runtime never frees a goroutine's descriptor (a few hundred
// bytes of heap): it keeps it for the next goroutine. Adding the waiters
// starts a lifecycle goroutine for each, which ends once it waits, and how
// many run at once depends on the scheduling; without this, the
// descriptors of that passing peak would be charged to the waiting
// services, by chance, though no goroutine is left while they wait.
func spareGoroutines(n int) {
	var started, ended sync.WaitGroup
	release := make(chan struct{})
	started.Add(n)
	ended.Add(n)
	for range n {
		go func() {
			defer ended.Done()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	close(release)
	ended.Wait()
}

// until polls done every period until it reports true, or fails after
// waitersDeadline.
func until(period time.Duration, done func() bool, what string) error {
	deadline := time.Now().Add(waitersDeadline)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting %v for %s", waitersDeadline, what)
		}
		time.Sleep(period)
	}
	return nil
}
