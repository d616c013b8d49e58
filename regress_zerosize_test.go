package servicemesh

import (
	"testing"
)

type r3Zero struct{}

func (*r3Zero) Name() string { return "zero" }
func (*r3Zero) Init(Mesh)    {}

type r3Holder struct {
	name string
	p    *int
	flag *struct{} // not a service: any zero-size allocation
}

func (h *r3Holder) Name() string { return h.name }
func (h *r3Holder) Init(Mesh) {
	h.p = new(int)
	h.flag = new(struct{})
}

// Zero-size services share an address with every zero-size allocation;
// reserve indexes them in byAddr anyway (indexAddresses does not), so a
// service holding any *struct{} is recorded as depending on the zero-size
// service added last — graph.go says they are never matched.
func TestZeroSizeServicesGetNoEdges(t *testing.T) {
	m := quietMesh(t)
	defer func() { m.Shutdown().Wait() }()
	m.Add(&r3Holder{name: "first"}).Wait() // builds byAddr
	m.Add(&r3Zero{}).Wait()
	m.Add(&r3Holder{name: "second"}).Wait()
	g := Graph(m)
	for _, e := range g.Edges {
		t.Errorf("spurious edge %s -> %s", g.Nodes[e.From].Name, g.Nodes[e.To].Name)
	}
}
