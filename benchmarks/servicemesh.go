package benchmarks

import (
	"fmt"
	"io"
	"log/slog"
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

	RequireChain: meshRequireChain, // servicemesh_require.go
	RequireFanIn: meshRequireFanIn,
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
