package servicemesh

// The dependency graph: who depends on whom, as far as the mesh can see, for
// the order of the stop and for Status and Graph. An entry's edges are
// guarded by the registry's lock (m.reg.Do).
//
// A service depends on the services it holds a reference to after its
// resolution and after its Init: a pointer or interface field of the struct
// the service points to that refers to another service of the mesh, also in
// structs it embeds or holds by value, graph.MaxFieldDepth levels deep
// (internal/graph reads the fields; slices, maps and what pointers point to
// are not looked into). A service that holds the Mesh itself may look any
// service up while it stops, so it depends on every service whose Init
// began before its own.
// The graph is best-effort: a reference kept elsewhere (in a closure, a
// slice, a global) is not seen, nor one to a service of zero size (they
// cannot be told apart).

import (
	"slices"
	"unsafe"

	"github.com/gravestench/servicemesh/internal/graph"
)

// recordDependencies adds to e's edges the services e holds now, and drops
// those no longer in the mesh. Called when the stop is planned, and for
// Graph and Status: what a service holds after its resolution and its Init
// is what it holds then (an edge, once seen, is kept while both are in the
// mesh). It returns buf, grown: the caller may hand it back for the next
// service, so that a pass over every service reads them into one buffer.
func (m *mesh) recordDependencies(e *entry, buf []uintptr) []uintptr {
	addrs := graph.AppendHeldAddresses(buf[:0], e.svc)
	self := uintptr(unsafe.Pointer(m))
	m.reg.Do(func(l listing) {
		e.dependsOn = slices.DeleteFunc(e.dependsOn, func(x *entry) bool { return x.gone.Load() })
		e.declared = slices.DeleteFunc(e.declared, func(x *entry) bool { return x.gone.Load() })
		for _, a := range addrs {
			if a == self {
				e.holdsMesh = true
				continue
			}
			if x, ok := l.At(a); ok && x != e && !slices.Contains(e.dependsOn, x) {
				e.dependsOn = append(e.dependsOn, x)
			}
		}
	})
	return addrs
}

// refreshDependencies records again what every service holds now, for a
// graph of the present: a service held may have been added again, and an
// Init still running may hold what it found.
func (m *mesh) refreshDependencies() {
	var entries []*entry
	m.reg.Do(func(l listing) {
		entries = make([]*entry, 0, l.Len())
		entries = slices.AppendSeq(entries, l.Entries())
	})
	var buf []uintptr
	for _, e := range entries {
		buf = m.recordDependencies(e, buf)
	}
}

// planStop builds the stop plan of order (newest Init first): the edges
// each service holds now, as indices into order, and whether it holds the
// Mesh (it depends then on every node after it, an earlier Init). Called
// by the shutdown goroutine.
func (m *mesh) planStop(order []*entry) *graph.StopPlan {
	index := make(map[*entry]int, len(order))
	var buf []uintptr
	for i, e := range order {
		index[e] = i
		// What it holds now: an Init still running may have found what it
		// uses already, and a service it held may have been added again.
		buf = m.recordDependencies(e, buf)
	}
	deps := make([][]int, len(order))
	var holdsMesh []bool     // made when a service holds the Mesh
	m.reg.Do(func(listing) { // for the edges
		for i, e := range order {
			for _, d := range e.dependsOn {
				if j, ok := index[d]; ok {
					deps[i] = append(deps[i], j)
				}
			}
			if e.holdsMesh {
				if holdsMesh == nil {
					holdsMesh = make([]bool, len(order))
				}
				holdsMesh[i] = true
			}
		}
	})
	return graph.NewStopPlan(deps, holdsMesh)
}

// DependencyGraph is the dependency graph of a mesh's services, as the mesh
// sees it (see the top of graph.go, and Graph). Nodes are in the order the
// services were added; an edge From -> To means From depends on To, so To
// stops only after From.
type DependencyGraph struct {
	Nodes []GraphNode
	Edges []GraphEdge
}

// GraphNode is one service of a DependencyGraph.
type GraphNode struct {
	ID    int    // its index in Nodes
	Name  string // its Name()
	State State  // its state when the graph was taken
}

// GraphEdge says that the service From depends on the service To.
type GraphEdge struct {
	From, To int // indexes in Nodes
	// Mesh is set when the edge comes from From holding the Mesh, which
	// makes it depend on every service whose Init began before its own.
	Mesh bool
	// Declared is set when From declared the edge (HasRequirements): it
	// is known exactly, where the others are inferred from what From
	// holds.
	Declared bool
}

// Graph returns m's dependency graph now: which service depends on which, as
// far as the mesh can see (a service depends on the services it holds a
// reference to after its resolution and after its Init; one that holds the
// Mesh depends on every service whose Init began before its own). It is safe
// to call at any time, from any goroutine, including from callbacks and
// during shutdown; for a Mesh not made by New it returns an empty graph.
func Graph(m Mesh) DependencyGraph {
	mm, ok := m.(*mesh)
	if !ok {
		return DependencyGraph{}
	}
	return mm.graph()
}

func (m *mesh) graph() DependencyGraph {
	m.refreshDependencies()
	var g DependencyGraph
	m.reg.Do(func(l listing) {
		id := make(map[*entry]int)
		var holders []*entry
		for e := range l.Entries() {
			id[e] = len(g.Nodes)
			g.Nodes = append(g.Nodes, GraphNode{ID: len(g.Nodes), Name: e.name, State: e.lc.State()})
			if e.holdsMesh {
				holders = append(holders, e)
			}
		}
		for e := range l.Entries() {
			for _, d := range e.dependsOn {
				if j, ok := id[d]; ok {
					g.Edges = append(g.Edges, GraphEdge{From: id[e], To: j, Declared: slices.Contains(e.declared, d)})
				}
			}
		}
		for _, h := range holders {
			if h.node.InitSeq() == 0 {
				continue
			}
			for e := range l.Entries() {
				if e == h {
					continue
				}
				if seq := e.node.InitSeq(); seq != 0 && seq < h.node.InitSeq() && !slices.Contains(h.dependsOn, e) {
					g.Edges = append(g.Edges, GraphEdge{From: id[h], To: id[e], Mesh: true})
				}
			}
		}
	})
	return g
}

// DOT returns the graph in Graphviz's DOT language, nodes labelled with
// their names and states, edges from dependent to dependency (dashed when
// they come from holding the Mesh).
func (g DependencyGraph) DOT() string {
	nodes, edges := g.neutral()
	return graph.DOT(nodes, edges)
}

// Mermaid returns the graph as a Mermaid flowchart, for Markdown that
// renders it (GitHub does), edges from dependent to dependency (dotted when
// they come from holding the Mesh).
func (g DependencyGraph) Mermaid() string {
	nodes, edges := g.neutral()
	return graph.Mermaid(nodes, edges)
}

// neutral returns g as the renderer's model: states as their names.
func (g DependencyGraph) neutral() ([]graph.Node, []graph.Edge) {
	nodes := make([]graph.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		nodes[i] = graph.Node{ID: n.ID, Name: n.Name, State: n.State.String()}
	}
	edges := make([]graph.Edge, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = graph.Edge(e)
	}
	return nodes, edges
}
