package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

var (
	renderNodes = []Node{{ID: 0, Name: "store", State: "running"}, {ID: 1, Name: `api "v2" <x>`, State: "stopped"}}
	renderEdges = []Edge{{From: 1, To: 0}, {From: 1, To: 0, Mesh: true}}
)

// DOT quotes labels as Go strings and dashes the edges of holding the mesh.
func TestDOT(t *testing.T) {
	assert.Equal(t, "digraph servicemesh {\n\trankdir=LR;\n"+
		"\tn0 [label=\"store\\nrunning\"];\n"+
		"\tn1 [label=\"api \\\"v2\\\" <x>\\nstopped\"];\n"+
		"\tn1 -> n0;\n"+
		"\tn1 -> n0 [style=dashed];\n"+
		"}\n", DOT(renderNodes, renderEdges))
	assert.Equal(t, "digraph servicemesh {\n\trankdir=LR;\n}\n", DOT(nil, nil))
}

// Mermaid escapes what would end a label and dots the edges of holding the
// mesh.
func TestMermaid(t *testing.T) {
	assert.Equal(t, "flowchart LR\n"+
		"    n0[\"store<br/>running\"]\n"+
		"    n1[\"api #quot;v2#quot; #lt;x#gt;<br/>stopped\"]\n"+
		"    n1 --> n0\n"+
		"    n1 -.-> n0\n", Mermaid(renderNodes, renderEdges))
	assert.Equal(t, "flowchart LR\n", Mermaid(nil, nil))
}
