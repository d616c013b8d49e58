package benchmarks

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// meshSlowStop is a service whose OnShutdown sleeps.
type meshSlowStop struct {
	name  string
	delay time.Duration
	stops *atomic.Int64
}

func (s *meshSlowStop) Name() string          { return s.name }
func (s *meshSlowStop) Init(servicemesh.Mesh) {}
func (s *meshSlowStop) OnShutdown() {
	time.Sleep(s.delay)
	s.stops.Add(1)
}

func meshS4(n int, delay time.Duration) (func() error, error) {
	ns := serviceNames(n)
	stops := new(atomic.Int64)
	m := newMesh("S4")
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		wgs[i] = m.Add(&meshSlowStop{name: ns[i], delay: delay, stops: stops})
	}
	waitAll(wgs)
	return func() error {
		m.Shutdown().Wait()
		return expect("OnShutdown calls", stops.Load(), n)
	}, nil
}

// meshOutsider waits for a flag that something outside the mesh sets.
type meshOutsider struct {
	name     string
	ready    atomic.Bool
	initedAt atomic.Int64 // time.Time.UnixNano of the start of Init
}

func (s *meshOutsider) Name() string                              { return s.name }
func (s *meshOutsider) Init(servicemesh.Mesh)                     { s.initedAt.Store(time.Now().UnixNano()) }
func (s *meshOutsider) DependenciesResolved() bool                { return s.ready.Load() }
func (s *meshOutsider) ResolveDependencies([]servicemesh.Service) {}

// addOutsiders adds n services waiting for outside flags to a new mesh.
func addOutsiders(n int) (servicemesh.Mesh, []*meshOutsider, []*sync.WaitGroup) {
	ns := serviceNames(n)
	m := newMesh("outsiders")
	svcs := make([]*meshOutsider, n)
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		svcs[i] = &meshOutsider{name: ns[i]}
		wgs[i] = m.Add(svcs[i])
	}
	return m, svcs, wgs
}

// IdleCPU adds n services whose dependency is an atomic.Bool nobody sets,
// lets them settle for warmup, and measures the CPU time the process uses
// (user+system, from getrusage) over window of wall time. It returns that
// as a fraction of one core, then sets the flags, checks that every service
// was initialized and shuts down.
func IdleCPU(n int, warmup, window time.Duration) (float64, error) {
	m, svcs, wgs := addOutsiders(n)
	time.Sleep(warmup)
	cpu0, err := processCPU()
	if err != nil {
		m.Shutdown().Wait()
		return 0, err
	}
	t0 := time.Now()
	time.Sleep(window)
	cpu1, err := processCPU()
	wall := time.Since(t0)
	for _, s := range svcs {
		s.ready.Store(true)
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	if err != nil {
		return 0, err
	}
	for _, s := range svcs {
		if s.initedAt.Load() == 0 {
			return 0, fmt.Errorf("service %s was not initialized", s.name)
		}
	}
	return float64(cpu1-cpu0) / float64(wall), nil
}

// WakeLatency adds n services waiting for outside flags, waits for wait so
// that their polling has backed off to its ceiling, then sets the flags one
// by one, spacing apart, and returns for each service the delay from its
// flag being set to its Init starting, sorted.
func WakeLatency(n int, wait, spacing time.Duration) ([]time.Duration, error) {
	m, svcs, wgs := addOutsiders(n)
	time.Sleep(wait)
	setAt := make([]int64, n)
	for i, s := range svcs {
		if i > 0 {
			time.Sleep(spacing)
		}
		setAt[i] = time.Now().UnixNano()
		s.ready.Store(true)
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	lat := make([]time.Duration, n)
	for i, s := range svcs {
		at := s.initedAt.Load()
		if at == 0 {
			return nil, fmt.Errorf("service %s was not initialized", s.name)
		}
		lat[i] = time.Duration(at - setAt[i])
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
