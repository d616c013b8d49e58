package servicemesh

import (
	"testing"
)

// A service that holds another keeps its edge to the entry it found; when
// the held service is removed and added again, the new entry is not
// matched, so the edge is gone from Graph and from the stop order (the
// holder may stop after what it holds, DESIGN §5 "No edge the mesh can see
// is ever broken"). recordDependencies runs only after resolution and Init.
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
