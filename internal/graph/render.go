package graph

import (
	"fmt"
	"strings"
)

// Node is one node of a graph to render: its id, its label's name and its
// state, as text.
type Node struct {
	ID    int
	Name  string
	State string
}

// Edge says that the node From depends on the node To; Mesh marks an edge
// that comes from From holding the mesh (drawn dashed, or dotted), and
// Declared one that From declared (drawn bold, or thick).
type Edge struct {
	From, To int
	Mesh     bool
	Declared bool
}

// DOT returns the graph in Graphviz's DOT language, nodes labelled with
// their names and states, edges from dependent to dependency (dashed when
// they come from holding the mesh). Names are quoted as Go strings, which
// DOT reads; edges to ids without a node are drawn as given.
func DOT(nodes []Node, edges []Edge) string {
	var b strings.Builder
	b.WriteString("digraph servicemesh {\n\trankdir=LR;\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "\tn%d [label=%q];\n", n.ID, n.Name+"\n"+n.State)
	}
	for _, e := range edges {
		style := ""
		switch {
		case e.Mesh:
			style = " [style=dashed]"
		case e.Declared:
			style = " [style=bold]"
		}
		fmt.Fprintf(&b, "\tn%d -> n%d%s;\n", e.From, e.To, style)
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid returns the graph as a Mermaid flowchart, edges from dependent to
// dependency (dotted when they come from holding the mesh). What would end
// a label in a name (quotes, angle brackets) is escaped.
func Mermaid(nodes []Node, edges []Edge) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "    n%d[\"%s<br/>%s\"]\n", n.ID, mermaidText(n.Name), n.State)
	}
	for _, e := range edges {
		arrow := "-->"
		switch {
		case e.Mesh:
			arrow = "-.->"
		case e.Declared:
			arrow = "==>"
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
