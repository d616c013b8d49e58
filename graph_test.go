package servicemesh

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// graphStore is a dependency; graphWriter found it in Init and holds it;
// graphAPI resolved both and holds them; graphAdmin holds the Mesh. The
// blank field gives graphStore a size: a zero-size service has no address
// of its own, so Graph would find no edge to it.
type graphStore struct{ _ byte }

func (*graphStore) Name() string { return "store" }
func (*graphStore) Init(Mesh)    {}

type graphWriter struct{ store *graphStore }

func (*graphWriter) Name() string { return "writer" }
func (w *graphWriter) Init(m Mesh) {
	w.store, _ = Find[*graphStore](m.Services())
}

type graphAPI struct {
	store  *graphStore
	writer interface{ Name() string }
}

func (*graphAPI) Name() string { return `api "v2"` }
func (*graphAPI) Init(Mesh)    {}
func (a *graphAPI) DependenciesResolved() bool {
	return a.store != nil && a.writer != nil
}
func (a *graphAPI) ResolveDependencies(services []Service) {
	a.store, _ = Find[*graphStore](services)
	if w, ok := Find[*graphWriter](services); ok {
		a.writer = w
	}
}

type graphAdmin struct{ mesh Mesh }

func (*graphAdmin) Name() string  { return "admin" }
func (a *graphAdmin) Init(m Mesh) { a.mesh = m }

// Graph sees what services hold after their resolution and after their
// Init, and a service holding the Mesh depending on every earlier Init; DOT
// and Mermaid render it (golden files: go test -run Graph -update).
func TestGraphAndItsRenderings(t *testing.T) {
	m := quietMesh(t)
	store := &graphStore{}
	m.Add(store).Wait()
	m.Add(&graphWriter{}).Wait()
	m.Add(&graphAPI{}).Wait()
	m.Add(&graphAdmin{}).Wait()
	g := Graph(m)

	require.Len(t, g.Nodes, 4)
	assert.Equal(t, []GraphEdge{
		{From: 1, To: 0},
		{From: 2, To: 0}, {From: 2, To: 1},
		{From: 3, To: 0, Mesh: true}, {From: 3, To: 1, Mesh: true}, {From: 3, To: 2, Mesh: true},
	}, g.Edges)
	for _, n := range g.Nodes {
		assert.Equal(t, StateRunning, n.State)
	}
	golden(t, "graph.dot", g.DOT())
	golden(t, "graph.mmd", g.Mermaid())

	m.Remove(store).Wait()
	assert.Len(t, Graph(m).Edges, 3, "a removed service leaves the graph with its edges")
	m.Shutdown().Wait()
	assert.Equal(t, StateStopped, Graph(m).Nodes[0].State, "during and after shutdown too")

	var foreign Mesh
	assert.Empty(t, Graph(foreign).Nodes)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), got)
}

type graphMeshHolder struct{ m Mesh }

func (s *graphMeshHolder) Name() string { return "holder" }
func (s *graphMeshHolder) Init(m Mesh)  { s.m = m }

type graphPlain struct{ name string }

func (s *graphPlain) Name() string { return s.name }
func (s *graphPlain) Init(Mesh)    {}

// Guards: Graph may be called while Inits begin, without a data race.
//
// graph() read every entry's initSeq under registry.mu, but beginInit
// wrote it on the lifecycle goroutine without that lock: a data race
// between Graph (or Status' /readyz-style callers of it) and any Init that
// began meanwhile. Run with -race.
func TestGraphDoesNotRaceWithBeginInit(t *testing.T) {
	m := quietMesh(t)
	defer func() { m.Shutdown().Wait() }()
	m.Add(&graphMeshHolder{}).Wait()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = Graph(m)
		}
	}()
	for i := range 200 {
		m.Add(&graphPlain{name: fmt.Sprint("s", i)}).Wait()
	}
	stop.Store(true)
	<-done
}

// Guards: a holder keeps its edge to what it holds when that is re-added.
//
// A service that holds another kept its edge to the entry it found; when
// the held service was removed and added again, the new entry was not
// matched, so the edge was gone from Graph and from the stop order (the
// holder could stop after what it holds, DESIGN §5 "No edge the mesh can
// see is ever broken"). recordDependencies runs only after resolution and
// Init.
func TestEdgeSurvivesReAddOfTheHeldService(t *testing.T) {
	m := quietMesh(t)
	defer func() { m.Shutdown().Wait() }()
	s := &store{}
	w := &writer{}
	m.Add(s).Wait()
	m.Add(w).Wait()
	if len(Graph(m).Edges) != 1 {
		t.Fatalf("expected writer -> store, got %v", Graph(m).Edges)
	}
	m.Remove(s).Wait()
	m.Add(s).Wait()
	if g := Graph(m); len(g.Edges) != 1 {
		t.Errorf("after store was removed and added again, writer (which still holds it) has no edge to it: %+v", g)
	}
}

type graphZero struct{}

func (*graphZero) Name() string { return "zero" }
func (*graphZero) Init(Mesh)    {}

type graphAllocHolder struct {
	name string
	p    *int
	flag *struct{} // not a service: any zero-size allocation
}

func (h *graphAllocHolder) Name() string { return h.name }
func (h *graphAllocHolder) Init(Mesh) {
	h.p = new(int)
	h.flag = new(struct{})
}

// Guards: a zero-size service is never matched as held, so gets no edges.
//
// Zero-size services share an address with every zero-size allocation;
// reserve indexed them in byAddr anyway (indexAddresses did not), so a
// service holding any *struct{} was recorded as depending on the zero-size
// service added last — graph.go says they are never matched.
func TestZeroSizeServicesGetNoEdges(t *testing.T) {
	m := quietMesh(t)
	defer func() { m.Shutdown().Wait() }()
	m.Add(&graphAllocHolder{name: "first"}).Wait() // builds byAddr
	m.Add(&graphZero{}).Wait()
	m.Add(&graphAllocHolder{name: "second"}).Wait()
	g := Graph(m)
	for _, e := range g.Edges {
		t.Errorf("spurious edge %s -> %s", g.Nodes[e.From].Name, g.Nodes[e.To].Name)
	}
}
