package servicemesh

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// graphStore is a dependency; graphWriter found it in Init and holds it;
// graphAPI resolved both and holds them; graphAdmin holds the Mesh.
type graphStore struct{ rows int }

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
