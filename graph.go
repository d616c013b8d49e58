package servicemesh

// The dependency graph: who depends on whom, as far as the mesh can see, for
// the order of the stop and for Status and Graph. An entry's edges are
// guarded by the registry's lock (m.reg.Do).
//
// A service depends on the services it holds a reference to after its
// resolution and after its Init: a pointer or interface field of the struct
// the service points to that refers to another service of the mesh, also in
// structs it embeds or holds by value, maxFieldDepth levels deep (watch.go
// reads the fields; slices, maps and what pointers point to are not looked
// into). A service that holds the Mesh itself may look any service up while
// it stops, so it depends on every service whose Init began before its own.
// The graph is best-effort: a reference kept elsewhere (in a closure, a
// slice, a global) is not seen, nor one to a service of zero size (they
// cannot be told apart).

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// recordDependencies adds to e's edges the services e holds now, and drops
// those no longer in the mesh. Called when the stop is planned, and for
// Graph and Status: what a service holds after its resolution and its Init
// is what it holds then (an edge, once seen, is kept while both are in the
// mesh).
func (m *mesh) recordDependencies(e *entry) {
	addrs := heldAddresses(e.svc)
	self := uintptr(unsafe.Pointer(m))
	m.reg.Do(func(l listing) {
		e.dependsOn = slices.DeleteFunc(e.dependsOn, func(x *entry) bool { return x.gone.Load() })
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
	for _, e := range entries {
		m.recordDependencies(e)
	}
}

// stopPlan is the graph of the services to stop: node i stops once every
// node that depends on it has stopped. It is used by the shutdown goroutine
// only.
type stopPlan struct {
	nodes    []*entry       // newest Init first
	index    map[*entry]int // the node of each entry
	blockers []int          // how many dependents of each node have not stopped
	deps     [][]int        // the nodes that node i depends on
}

// planStop builds the stop graph of order (newest Init first). A node that
// holds the mesh depends on every node after it (an earlier Init).
func (m *mesh) planStop(order []*entry) *stopPlan {
	p := &stopPlan{
		nodes:    order,
		index:    make(map[*entry]int, len(order)),
		blockers: make([]int, len(order)),
		deps:     make([][]int, len(order)),
	}
	for i, e := range order {
		p.index[e] = i
		// What it holds now: an Init still running may have found what it
		// uses already, and a service it held may have been added again.
		m.recordDependencies(e)
	}
	m.reg.Do(func(listing) { // for the edges
		for i, e := range order {
			for _, d := range e.dependsOn {
				if j, ok := p.index[d]; ok && !slices.Contains(p.deps[i], j) {
					p.deps[i] = append(p.deps[i], j)
					p.blockers[j]++
				}
			}
			if e.holdsMesh {
				for j := i + 1; j < len(order); j++ {
					p.blockers[j]++
				}
			}
		}
	})
	return p
}

// released lowers the blockers of what node i depends on, now that i has
// stopped, and appends to free the nodes that became free.
func (p *stopPlan) released(i int, free []int) []int {
	for _, j := range p.deps[i] {
		if p.blockers[j]--; p.blockers[j] == 0 {
			free = append(free, j)
		}
	}
	if p.nodes[i].holdsMesh {
		for j := i + 1; j < len(p.nodes); j++ {
			if p.blockers[j]--; p.blockers[j] == 0 {
				free = append(free, j)
			}
		}
	}
	return free
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
					g.Edges = append(g.Edges, GraphEdge{From: id[e], To: j})
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
	var b strings.Builder
	b.WriteString("digraph servicemesh {\n\trankdir=LR;\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "\tn%d [label=%q];\n", n.ID, n.Name+"\n"+n.State.String())
	}
	for _, e := range g.Edges {
		style := ""
		if e.Mesh {
			style = " [style=dashed]"
		}
		fmt.Fprintf(&b, "\tn%d -> n%d%s;\n", e.From, e.To, style)
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid returns the graph as a Mermaid flowchart, for Markdown that
// renders it (GitHub does), edges from dependent to dependency (dotted when
// they come from holding the Mesh).
func (g DependencyGraph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "    n%d[\"%s<br/>%s\"]\n", n.ID, mermaidText(n.Name), n.State)
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Mesh {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "    n%d %s n%d\n", e.From, arrow, e.To)
	}
	return b.String()
}

// mermaidText escapes what would end a Mermaid label.
func mermaidText(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;")
	return r.Replace(s)
}
