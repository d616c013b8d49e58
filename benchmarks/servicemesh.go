package benchmarks

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// ServiceMesh runs the scenarios on servicemesh: New, Add, waiting on the
// WaitGroups Add returns, Shutdown().Wait().
var ServiceMesh = Peer{
	Name: "servicemesh",
	S1:   meshS1,
	S2:   meshS2,
	S3:   meshS3,
	S4:   meshS4,
	S5:   meshS5,
}

// newMesh returns a mesh that discards its logs.
func newMesh(name string) servicemesh.Mesh {
	m := servicemesh.New(name)
	m.SetLogDestination(io.Discard)
	return m
}

func waitAll(wgs []*sync.WaitGroup) {
	for _, wg := range wgs {
		wg.Wait()
	}
}

// meshLogged is an independent service with a logger from the mesh.
type meshLogged struct {
	name   string
	logger *slog.Logger
	inits  *atomic.Int64
}

func (s *meshLogged) Name() string             { return s.name }
func (s *meshLogged) Init(servicemesh.Mesh)    { s.inits.Add(1) }
func (s *meshLogged) SetLogger(l *slog.Logger) { s.logger = l }
func (s *meshLogged) Logger() *slog.Logger     { return s.logger }

func meshS1(n int) error {
	ns := serviceNames(n)
	var inits atomic.Int64
	m := newMesh("S1")
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		wgs[i] = m.Add(&meshLogged{name: ns[i], inits: &inits})
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	return expect("Inits", inits.Load(), n)
}

// meshLink is one link of a chain: it needs the link with index dep and is
// resolved once that link's Init has finished (done is set at its end).
type meshLink struct {
	name  string
	idx   int
	dep   int       // index of the link it needs, or -1 at the end of the chain
	needs *meshLink // the link it needs, once found
	done  atomic.Bool
	order *order
}

func (l *meshLink) Name() string { return l.name }

func (l *meshLink) Init(servicemesh.Mesh) {
	l.order.add(l.idx, l.dep < 0 || (l.needs != nil && l.needs.done.Load()))
	l.done.Store(true)
}

func (l *meshLink) DependenciesResolved() bool {
	return l.dep < 0 || (l.needs != nil && l.needs.done.Load())
}

func (l *meshLink) ResolveDependencies(services []servicemesh.Service) {
	if l.needs != nil {
		return
	}
	for _, s := range services {
		if x, ok := s.(*meshLink); ok && x.idx == l.dep {
			l.needs = x
			return
		}
	}
}

// meshS2 adds the dependents first: link i needs link i+1, and the links
// are added in the order 0..depth-1, so each waits for the next one.
func meshS2(depth int) error {
	ns := serviceNames(depth)
	o := newOrder(depth)
	m := newMesh("S2")
	wgs := make([]*sync.WaitGroup, depth)
	for i := range depth {
		dep := i + 1
		if dep == depth {
			dep = -1
		}
		wgs[i] = m.Add(&meshLink{name: ns[i], idx: i, dep: dep, order: o})
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	return o.checkChain(depth)
}

// meshDB is the service every meshUser needs.
type meshDB struct{ done atomic.Bool }

func (d *meshDB) Name() string          { return "db" }
func (d *meshDB) Init(servicemesh.Mesh) { d.done.Store(true) }

// meshUser needs the db and is resolved once the db's Init has finished.
type meshUser struct {
	name  string
	idx   int
	db    *meshDB
	order *order
}

func (u *meshUser) Name() string { return u.name }

func (u *meshUser) Init(servicemesh.Mesh) {
	u.order.add(u.idx, u.db != nil && u.db.done.Load())
}

func (u *meshUser) DependenciesResolved() bool { return u.db != nil && u.db.done.Load() }

func (u *meshUser) ResolveDependencies(services []servicemesh.Service) {
	if u.db == nil {
		u.db, _ = servicemesh.Find[*meshDB](services)
	}
}

func meshS3(n int) error {
	ns := serviceNames(n)
	o := newOrder(n)
	m := newMesh("S3")
	wgs := make([]*sync.WaitGroup, n+1)
	for i := range n {
		wgs[i] = m.Add(&meshUser{name: ns[i], idx: i, order: o})
	}
	wgs[n] = m.Add(&meshDB{})
	waitAll(wgs)
	m.Shutdown().Wait()
	return o.checkCount(n)
}

// meshSlowStop is a service whose OnShutdown sleeps. It holds nothing but
// counters, none of them a service, so the mesh sees no dependency between
// two of them and stops them all at once.
type meshSlowStop struct {
	name    string
	delay   time.Duration
	stops   *atomic.Int64
	overlap *overlap
}

func (s *meshSlowStop) Name() string          { return s.name }
func (s *meshSlowStop) Init(servicemesh.Mesh) {}
func (s *meshSlowStop) OnShutdown() {
	s.overlap.enter()
	time.Sleep(s.delay)
	s.overlap.leave()
	s.stops.Add(1)
}

// overlap counts the calls running at once, and the most there ever were.
type overlap struct{ now, peak atomic.Int64 }

func (o *overlap) enter() {
	n := o.now.Add(1)
	for {
		p := o.peak.Load()
		if n <= p || o.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (o *overlap) leave() { o.now.Add(-1) }

// meshS4 checks, untimed, that the mesh sees no dependency among the
// services, and after the shutdown that their stops overlapped: what S4
// measures is the concurrent stop of independent services.
func meshS4(n int, delay time.Duration) (func() error, error) {
	ns := serviceNames(n)
	stops, ov := new(atomic.Int64), new(overlap)
	m := newMesh("S4")
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		wgs[i] = m.Add(&meshSlowStop{name: ns[i], delay: delay, stops: stops, overlap: ov})
	}
	waitAll(wgs)
	if g := servicemesh.Graph(m); len(g.Edges) > 0 {
		m.Shutdown().Wait()
		return nil, fmt.Errorf("the mesh sees %d dependencies among independent services", len(g.Edges))
	}
	return func() error {
		m.Shutdown().Wait()
		if err := expect("OnShutdown calls", stops.Load(), n); err != nil {
			return err
		}
		if p := ov.peak.Load(); n > 1 && p < 2 {
			return fmt.Errorf("the %d independent services stopped one at a time, not concurrently", n)
		}
		return nil
	}, nil
}

// meshHolder is one service of the S5 chain: it holds the service before
// it in prev, which ResolveDependencies finds and the mesh reads as a
// dependency; its OnShutdown records its position.
type meshHolder struct {
	name  string
	idx   int
	prev  *meshHolder // the service before it once found; nil for the first
	stops *stopOrder
}

func (h *meshHolder) Name() string               { return h.name }
func (h *meshHolder) Init(servicemesh.Mesh)      {}
func (h *meshHolder) OnShutdown()                { h.stops.stop(h.idx) }
func (h *meshHolder) DependenciesResolved() bool { return h.idx == 0 || h.prev != nil }

func (h *meshHolder) ResolveDependencies(services []servicemesh.Service) {
	if h.prev != nil || h.idx == 0 {
		return
	}
	for _, s := range services {
		if x, ok := s.(*meshHolder); ok && x.idx == h.idx-1 && x.stops == h.stops {
			h.prev = x
			return
		}
	}
}

// newMeshChain adds a chain of depth meshHolders to a new mesh and waits for
// every Init. The last one is added first: each is resolved as soon as the
// one it holds is added, so the Inits tend to run from the end of the chain,
// the reverse of the stop order, and stopping newest Init first would get
// the order wrong; only the dependency graph gets it right.
func newMeshChain(depth int) (servicemesh.Mesh, *stopOrder) {
	ns := serviceNames(depth)
	stops := newStopOrder(depth)
	m := newMesh("S5")
	wgs := make([]*sync.WaitGroup, depth)
	for i := depth - 1; i >= 0; i-- {
		wgs[i] = m.Add(&meshHolder{name: ns[i], idx: i, stops: stops})
	}
	waitAll(wgs)
	return m, stops
}

func meshS5(depth int) (func() error, error) {
	m, stops := newMeshChain(depth)
	return func() error {
		m.Shutdown().Wait()
		return stops.check()
	}, nil
}

// meshOutsider waits for a flag that something outside the mesh sets: its
// own, or one shared by many services.
type meshOutsider struct {
	name     string
	ready    *atomic.Bool  // the outside flag
	epoch    time.Time     // what initedAt counts from
	initedAt atomic.Int64  // time since epoch at the start of Init, -1 before
	inits    atomic.Int32  // Init calls
	early    atomic.Bool   // Init began while the flag was not set
	waiting  atomic.Bool   // ResolveDependencies has been called
	counter  *startCounter // told of the first ResolveDependencies call, if not nil
}

func newOutsider(name string, ready *atomic.Bool, epoch time.Time, counter *startCounter) *meshOutsider {
	s := &meshOutsider{name: name, ready: ready, epoch: epoch, counter: counter}
	s.initedAt.Store(-1)
	return s
}

func (s *meshOutsider) Name() string { return s.name }

func (s *meshOutsider) Init(servicemesh.Mesh) {
	if s.inits.Add(1) == 1 {
		s.initedAt.Store(int64(time.Since(s.epoch)))
	}
	if !s.ready.Load() {
		s.early.Store(true)
	}
}

func (s *meshOutsider) DependenciesResolved() bool { return s.ready.Load() }

// ResolveDependencies has nothing to find in the mesh; its first call tells
// that the service has been found unresolved once and now waits.
func (s *meshOutsider) ResolveDependencies([]servicemesh.Service) {
	if s.counter != nil && !s.waiting.Load() && s.waiting.CompareAndSwap(false, true) {
		s.counter.started()
	}
}

// check reports an error unless s was initialized exactly once, after its
// flag was set.
func (s *meshOutsider) check() error {
	switch n := s.inits.Load(); {
	case n == 0:
		return fmt.Errorf("service %s was not initialized", s.name)
	case n > 1:
		return fmt.Errorf("service %s was initialized %d times", s.name, n)
	case s.early.Load():
		return fmt.Errorf("service %s was initialized before its outside dependency was set", s.name)
	}
	return nil
}

// startCounter closes all once n services have started waiting.
type startCounter struct {
	n     int64
	count atomic.Int64
	all   chan struct{}
}

func newStartCounter(n int) *startCounter {
	return &startCounter{n: int64(n), all: make(chan struct{})}
}

func (c *startCounter) started() {
	if c.count.Add(1) == c.n {
		close(c.all)
	}
}

// Outside settings: how long every service may take to start waiting, and
// how long it may take to be initialized once its dependency is set, before
// the run counts as failed.
const (
	outsideStartLimit = 2 * time.Minute
	outsideWakeLimit  = time.Minute
)

// OutsideResult is what Outside measures.
type OutsideResult struct {
	// Add is the wall time from the first Add to the moment every Add has
	// returned and every service has called ResolveDependencies once, that
	// is, found its dependency missing and started waiting.
	Add time.Duration
	// CPU is the CPU time of the whole process (user+system, getrusage)
	// over the measuring window, divided by the window's wall time: the
	// share of one core the waiting costs.
	CPU float64
	// MaxWake is the longest delay, over the services, from the one flag
	// they all wait for being set to the service's Init starting.
	MaxWake time.Duration
}

// Outside adds n services to a new mesh whose dependency is one atomic.Bool
// shared by all of them and set by no service (an outside dependency), and
// measures the time to add them all until each is waiting; after warmup, so
// that their polling has backed off, the CPU the process uses over window;
// then it sets the flag and measures the delay until each service's Init
// starts. It checks that every service was initialized exactly once, none
// before the flag was set, and shuts the mesh down.
func Outside(n int, warmup, window time.Duration) (OutsideResult, error) {
	var res OutsideResult
	if n <= 0 {
		return res, errors.New("no services")
	}
	ns := serviceNames(n)
	ready := new(atomic.Bool)
	counter := newStartCounter(n)
	epoch := time.Now()
	svcs := make([]*meshOutsider, n)
	for i := range n {
		svcs[i] = newOutsider(ns[i], ready, epoch, counter)
	}
	wgs := make([]*sync.WaitGroup, n)
	m := newMesh("outsiders")
	// No timeout: on a slow machine, adding them all may take long enough
	// for the first ones to time out, which is not what is measured here.
	m.SetDependencyResolutionTimeout(0)
	abandon := func(err error) (OutsideResult, error) {
		ready.Store(true)
		m.Shutdown().Wait()
		return res, err
	}

	start := time.Now()
	for i, s := range svcs {
		wgs[i] = m.Add(s)
	}
	select {
	case <-counter.all:
		res.Add = time.Since(start)
	case <-time.After(outsideStartLimit):
		return abandon(fmt.Errorf("%d of %d services started waiting within %v", counter.count.Load(), n, outsideStartLimit))
	}

	time.Sleep(warmup)
	cpu0, err := processCPU()
	if err != nil {
		return abandon(err)
	}
	t0 := time.Now()
	time.Sleep(window)
	cpu1, err := processCPU()
	wall := time.Since(t0)
	if err != nil {
		return abandon(err)
	}
	res.CPU = float64(cpu1-cpu0) / float64(wall)

	setAt := time.Since(epoch)
	ready.Store(true)
	if !waitAllWithin(wgs, outsideWakeLimit) {
		return abandon(fmt.Errorf("the services were not all initialized within %v of their dependency being set", outsideWakeLimit))
	}
	m.Shutdown().Wait()
	for _, s := range svcs {
		if err := s.check(); err != nil {
			return res, err
		}
		res.MaxWake = max(res.MaxWake, time.Duration(s.initedAt.Load())-setAt)
	}
	return res, nil
}

// waitAllWithin waits on every WaitGroup, for at most limit in all, and
// reports whether they were all done in time.
func waitAllWithin(wgs []*sync.WaitGroup, limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		waitAll(wgs)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// WakeLatency adds n services each waiting for a flag of its own, waits for
// wait so that their polling has backed off to its ceiling, then sets the
// flags one by one, spacing apart, and returns for each service the delay
// from its flag being set to its Init starting, sorted.
func WakeLatency(n int, wait, spacing time.Duration) ([]time.Duration, error) {
	ns := serviceNames(n)
	epoch := time.Now()
	m := newMesh("outsiders")
	svcs := make([]*meshOutsider, n)
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		svcs[i] = newOutsider(ns[i], new(atomic.Bool), epoch, nil)
		wgs[i] = m.Add(svcs[i])
	}
	time.Sleep(wait)
	setAt := make([]time.Duration, n)
	for i, s := range svcs {
		if i > 0 {
			time.Sleep(spacing)
		}
		setAt[i] = time.Since(epoch)
		s.ready.Store(true)
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	lat := make([]time.Duration, n)
	for i, s := range svcs {
		if err := s.check(); err != nil {
			return nil, err
		}
		lat[i] = time.Duration(s.initedAt.Load()) - setAt[i]
	}
	slices.Sort(lat)
	return lat, nil
}

// meshPlain is an independent service with nothing but Init and Name.
type meshPlain struct {
	name  string
	inits *atomic.Int64
}

func (s *meshPlain) Name() string          { return s.name }
func (s *meshPlain) Init(servicemesh.Mesh) { s.inits.Add(1) }

// Scale adds n independent services to a mesh, waits for their Inits and
// shuts down.
func Scale(n int) error {
	if n <= 0 {
		return errors.New("no services")
	}
	ns := serviceNames(n)
	var inits atomic.Int64
	m := newMesh("scale")
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		wgs[i] = m.Add(&meshPlain{name: ns[i], inits: &inits})
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	return expect("Inits", inits.Load(), n)
}

// RemoveBench is a mesh of initialized independent services from which
// services are removed and re-added, to time Remove at a steady size.
type RemoveBench struct {
	m       servicemesh.Mesh
	names   []string
	slots   []*meshPlain // the services in the mesh, or nil where one was removed
	order   []int        // the slots in a random order, cycled through by Remove
	next    int          // the next position in order
	emptied []int        // the slots Remove emptied since the last Refill
	wgs     []*sync.WaitGroup
	inits   atomic.Int64
	adds    int64 // Adds made, each of which must Init once
	removes int64 // Removes made
}

// NewRemoveBench adds n independent services to a new mesh and waits for
// their Inits.
func NewRemoveBench(n int) (*RemoveBench, error) {
	if n <= 0 {
		return nil, errors.New("no services")
	}
	r := &RemoveBench{
		m:     newMesh("remove"),
		names: serviceNames(n),
		slots: make([]*meshPlain, n),
		order: rand.New(rand.NewPCG(1, 2)).Perm(n),
	}
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		r.slots[i] = &meshPlain{name: r.names[i], inits: &r.inits}
		wgs[i] = r.m.Add(r.slots[i])
	}
	r.adds = int64(n)
	waitAll(wgs)
	return r, nil
}

// Remove removes k services, taken from all over the mesh in a random
// order, and waits on each Remove's WaitGroup (done once the
// EventServiceRemoved handlers have run; there are none here). At most
// len(slots) services may be removed between two calls of Refill.
func (r *RemoveBench) Remove(k int) error {
	if len(r.emptied)+k > len(r.slots) {
		return fmt.Errorf("removing %d more of %d services before a Refill", k, len(r.slots))
	}
	r.wgs = r.wgs[:0]
	for range k {
		i := r.order[r.next]
		r.next = (r.next + 1) % len(r.order)
		r.wgs = append(r.wgs, r.m.Remove(r.slots[i]))
		r.slots[i] = nil
		r.emptied = append(r.emptied, i)
	}
	r.removes += int64(k)
	waitAll(r.wgs)
	return nil
}

// Refill adds a new service in every slot Remove emptied and waits for
// their Inits, bringing the mesh back to its size.
func (r *RemoveBench) Refill() {
	r.wgs = r.wgs[:0]
	for _, i := range r.emptied {
		r.slots[i] = &meshPlain{name: r.names[i], inits: &r.inits}
		r.wgs = append(r.wgs, r.m.Add(r.slots[i]))
	}
	r.adds += int64(len(r.emptied))
	r.emptied = r.emptied[:0]
	waitAll(r.wgs)
}

// Close checks that the mesh holds exactly the services in the slots (every
// removed service is gone, every added one is there) and that each Add led
// to one Init, then shuts the mesh down.
func (r *RemoveBench) Close() error {
	defer r.m.Shutdown().Wait()
	in := make(map[servicemesh.Service]bool, len(r.slots))
	for _, s := range r.slots {
		if s != nil {
			in[s] = true
		}
	}
	listed := r.m.Services()
	if len(listed) == 0 || any(listed[0]) != any(r.m) {
		return errors.New("Services does not list the mesh first")
	}
	listed = listed[1:]
	if len(listed) != len(in) {
		return fmt.Errorf("the mesh lists %d services after %d Removes, want %d", len(listed), r.removes, len(in))
	}
	for _, s := range listed {
		if !in[s] {
			return fmt.Errorf("the mesh lists %s, which was removed", s.Name())
		}
	}
	return expect("Inits", r.inits.Load(), int(r.adds))
}

// meshAddedHandler counts the EventServiceAdded it is told of.
type meshAddedHandler struct {
	name  string
	calls atomic.Int64
}

func (h *meshAddedHandler) Name() string                       { return h.name }
func (h *meshAddedHandler) Init(servicemesh.Mesh)              {}
func (h *meshAddedHandler) OnServiceAdded(servicemesh.Service) { h.calls.Add(1) }

// FanOutBench is a mesh of services that each handle EventServiceAdded, to
// which independent services are added one at a time.
type FanOutBench struct {
	m        servicemesh.Mesh
	handlers []*meshAddedHandler
	base     []int64      // each handler's calls once set up
	extra    []*meshPlain // services added since the last Trim
	inits    atomic.Int64
	adds     int // services added by Add
}

// NewFanOutBench adds n services implementing
// servicemesh.EventHandlerServiceAdded to a new mesh and waits until they
// are initialized, and so until every EventServiceAdded of their own adding
// has been handled.
func NewFanOutBench(n int) (*FanOutBench, error) {
	if n <= 0 {
		return nil, errors.New("no handlers")
	}
	ns := serviceNames(n)
	f := &FanOutBench{
		m:        newMesh("fan-out"),
		handlers: make([]*meshAddedHandler, n),
		base:     make([]int64, n),
	}
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		f.handlers[i] = &meshAddedHandler{name: ns[i]}
		wgs[i] = f.m.Add(f.handlers[i])
	}
	waitAll(wgs)
	for i, h := range f.handlers {
		f.base[i] = h.calls.Load()
	}
	return f, nil
}

// Add adds one independent service and waits for its Init, which follows
// its EventServiceAdded having been handled by every handler.
func (f *FanOutBench) Add() {
	s := &meshPlain{name: "extra", inits: &f.inits}
	f.m.Add(s).Wait()
	f.extra = append(f.extra, s)
	f.adds++
}

// Trim removes the services Add added, so that the mesh keeps its size.
func (f *FanOutBench) Trim() {
	wgs := make([]*sync.WaitGroup, len(f.extra))
	for i, s := range f.extra {
		wgs[i] = f.m.Remove(s)
	}
	waitAll(wgs)
	f.extra = f.extra[:0]
}

// Close shuts the mesh down and checks that every handler was called once
// for each service Add added, and that each of those was initialized.
func (f *FanOutBench) Close() error {
	f.m.Shutdown().Wait()
	for i, h := range f.handlers {
		if got := h.calls.Load() - f.base[i]; got != int64(f.adds) {
			return fmt.Errorf("handler %s was called %d times for %d services added", h.name, got, f.adds)
		}
	}
	return expect("Inits of the added services", f.inits.Load(), f.adds)
}
