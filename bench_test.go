package servicemesh_test

// Micro-benchmarks of the mesh's hot paths. Every benchmark shuts down the
// meshes it creates and leaves no goroutine behind, because the package's
// TestMain checks for leaks. Each one is quick enough for
// `go test -run '^$' -bench . -benchtime=1x` to serve as a smoke test.
//
// Comparisons with other libraries live in the separate module in
// benchmarks/, so that their dependencies never enter this module.

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gravestench/servicemesh"
)

// benchNames returns n distinct service names, made outside the timed loops.
func benchNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = prefix + strconv.Itoa(i)
	}
	return names
}

// benchQuietMesh returns a mesh that discards its logs.
func benchQuietMesh() servicemesh.Mesh {
	m := servicemesh.New("bench")
	m.SetLogDestination(io.Discard)
	return m
}

// benchWaitAll waits for every WaitGroup returned by Add.
func benchWaitAll(wgs []*sync.WaitGroup) {
	for _, wg := range wgs {
		wg.Wait()
	}
}

// benchTrivial is a service with nothing but Init and Name.
type benchTrivial struct {
	name  string
	inits *atomic.Int64
}

func (s *benchTrivial) Name() string          { return s.name }
func (s *benchTrivial) Init(servicemesh.Mesh) { s.inits.Add(1) }

// benchLogged is a service that asks the mesh for a logger.
type benchLogged struct {
	name   string
	logger *slog.Logger
}

func (s *benchLogged) Name() string             { return s.name }
func (s *benchLogged) Init(servicemesh.Mesh)    {}
func (s *benchLogged) SetLogger(l *slog.Logger) { s.logger = l }
func (s *benchLogged) Logger() *slog.Logger     { return s.logger }

// benchChainLink is one link of a dependency chain: it needs the link whose
// index is dep, and is resolved once that link's Init has finished.
type benchChainLink struct {
	name  string
	idx   int
	dep   int // index of the link it needs, or -1
	needs *benchChainLink
	done  atomic.Bool
	order *benchOrder
}

func (s *benchChainLink) Name() string { return s.name }
func (s *benchChainLink) Init(servicemesh.Mesh) {
	if s.dep >= 0 && !s.needs.done.Load() {
		panic("initialized before its dependency")
	}
	s.order.add(s.idx)
	s.done.Store(true)
}
func (s *benchChainLink) DependenciesResolved() bool {
	return s.dep < 0 || (s.needs != nil && s.needs.done.Load())
}
func (s *benchChainLink) ResolveDependencies(services []servicemesh.Service) {
	if s.needs != nil {
		return
	}
	for _, x := range services {
		if l, ok := x.(*benchChainLink); ok && l.idx == s.dep {
			s.needs = l
			return
		}
	}
}

// benchOrder records the order in which services were initialized.
type benchOrder struct {
	mu  sync.Mutex
	ids []int
}

func (o *benchOrder) add(i int) {
	o.mu.Lock()
	o.ids = append(o.ids, i)
	o.mu.Unlock()
}

// benchDB is the service every benchUser needs.
type benchDB struct{ done atomic.Bool }

func (d *benchDB) Name() string          { return "db" }
func (d *benchDB) Init(servicemesh.Mesh) { d.done.Store(true) }

// benchUser needs the db, and is resolved once the db's Init has finished.
type benchUser struct {
	name  string
	db    *benchDB
	inits *atomic.Int64
}

func (u *benchUser) Name() string { return u.name }
func (u *benchUser) Init(servicemesh.Mesh) {
	if !u.db.done.Load() {
		panic("initialized before the db")
	}
	u.inits.Add(1)
}
func (u *benchUser) DependenciesResolved() bool { return u.db != nil && u.db.done.Load() }
func (u *benchUser) ResolveDependencies(services []servicemesh.Service) {
	if u.db != nil {
		return
	}
	for _, x := range services {
		if d, ok := x.(*benchDB); ok {
			u.db = d
			return
		}
	}
}

// BenchmarkAddInit measures a whole cycle: New, Add of n trivial services,
// waiting for their Inits, and Shutdown. ns/service is the cost per service.
func BenchmarkAddInit(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			names := benchNames("svc-", n)
			wgs := make([]*sync.WaitGroup, n)
			b.ReportAllocs()
			for b.Loop() {
				var inits atomic.Int64
				m := benchQuietMesh()
				for i := range n {
					wgs[i] = m.Add(&benchTrivial{name: names[i], inits: &inits})
				}
				benchWaitAll(wgs)
				m.Shutdown().Wait()
				if got := inits.Load(); got != int64(n) {
					b.Fatalf("%d Inits ran, want %d", got, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/service")
		})
	}
}

// BenchmarkResolveChain measures a 100-deep dependency chain: link i needs
// link i+1, the links are added from 0 (the most dependent) to 99, and each
// resolves only once its dependency's Init has finished. It includes New
// and Shutdown.
func BenchmarkResolveChain(b *testing.B) {
	const depth = 100
	names := benchNames("link-", depth)
	wgs := make([]*sync.WaitGroup, depth)
	b.ReportAllocs()
	for b.Loop() {
		m := benchQuietMesh()
		order := &benchOrder{ids: make([]int, 0, depth)}
		for i := range depth {
			dep := i + 1
			if dep == depth {
				dep = -1
			}
			wgs[i] = m.Add(&benchChainLink{name: names[i], idx: i, dep: dep, order: order})
		}
		benchWaitAll(wgs)
		m.Shutdown().Wait()
		if len(order.ids) != depth || order.ids[0] != depth-1 || order.ids[depth-1] != 0 {
			b.Fatalf("init order %v, want %d..0", order.ids, depth-1)
		}
	}
}

// BenchmarkResolveFanIn measures 200 services that all need one "db"
// service, which is added last. It includes New and Shutdown.
func BenchmarkResolveFanIn(b *testing.B) {
	const users = 200
	names := benchNames("user-", users)
	wgs := make([]*sync.WaitGroup, users+1)
	b.ReportAllocs()
	for b.Loop() {
		var inits atomic.Int64
		m := benchQuietMesh()
		for i := range users {
			wgs[i] = m.Add(&benchUser{name: names[i], inits: &inits})
		}
		wgs[users] = m.Add(&benchDB{})
		benchWaitAll(wgs)
		m.Shutdown().Wait()
		if got := inits.Load(); got != users {
			b.Fatalf("%d users initialized, want %d", got, users)
		}
	}
}

// BenchmarkServices measures Services() on a mesh of 1000 services.
func BenchmarkServices(b *testing.B) {
	const n = 1000
	var inits atomic.Int64
	m := benchQuietMesh()
	defer func() { m.Shutdown().Wait() }()
	wgs := make([]*sync.WaitGroup, n)
	for i, name := range benchNames("svc-", n) {
		wgs[i] = m.Add(&benchTrivial{name: name, inits: &inits})
	}
	benchWaitAll(wgs)
	b.ReportAllocs()
	for b.Loop() {
		if got := len(m.Services()); got != n+1 {
			b.Fatalf("Services() has %d entries, want %d", got, n+1)
		}
	}
}

// BenchmarkEmit measures Events().Emit(...).Wait() with a few listeners.
func BenchmarkEmit(b *testing.B) {
	for _, listeners := range []int{1, 4} {
		b.Run(fmt.Sprintf("listeners=%d", listeners), func(b *testing.B) {
			m := benchQuietMesh()
			defer func() { m.Shutdown().Wait() }()
			var calls atomic.Int64
			for range listeners {
				m.Events().On("bench", func(...any) { calls.Add(1) })
			}
			b.ReportAllocs()
			for b.Loop() {
				m.Events().Emit("bench", 1, "two").Wait()
			}
			if got, want := calls.Load(), int64(b.N*listeners); got != want {
				b.Fatalf("%d listener calls, want %d", got, want)
			}
		})
	}
}

// BenchmarkLogging measures a service's logger, handed out through
// HasLogger, with the mesh writing to io.Discard: a record that is written,
// and a Debug record that the mesh's default Info level drops.
func BenchmarkLogging(b *testing.B) {
	m := benchQuietMesh()
	defer func() { m.Shutdown().Wait() }()
	svc := &benchLogged{name: "logged"}
	m.Add(svc).Wait()
	logger := svc.Logger()
	if logger == nil {
		b.Fatal("the mesh handed out no logger")
	}

	b.Run("enabled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logger.Info("request served", "path", "/index.html", "status", 200, "bytes", 5120)
		}
	})
	b.Run("disabled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logger.Debug("request served", "path", "/index.html", "status", 200, "bytes", 5120)
		}
	})
	b.Run("with", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logger.With("request", 42).Info("request served", "status", 200)
		}
	})
}
