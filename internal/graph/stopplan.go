package graph

import "slices"

// StopPlan is the graph of the nodes to stop: node i stops once every node
// that depends on it has stopped. Nodes are the indices 0 to n-1, in stop
// order (for the mesh: newest Init first). A StopPlan is not safe for
// concurrent use; its Order owns it.
type StopPlan struct {
	blockers []int   // how many dependents of each node have not stopped
	deps     [][]int // the nodes that node i depends on, each once
	holdsAll []bool  // node i depends on every node after it; nil: none does
}

// NewStopPlan builds the plan of len(deps) nodes. deps[i] lists the nodes
// node i depends on, as indices in [0, len(deps)); a node listed twice
// counts once, and node i listed in deps[i] is ignored. holdsAll, if not
// nil, has one flag per node: node i depends on every node after it (for
// the mesh: a service that holds the Mesh depends on every earlier Init).
// The plan keeps deps and filters it in place: the caller must not use it
// afterwards. An index out of range panics.
func NewStopPlan(deps [][]int, holdsAll []bool) *StopPlan {
	n := len(deps)
	p := &StopPlan{blockers: make([]int, n), deps: deps, holdsAll: holdsAll}
	for i, ds := range deps {
		kept := ds[:0]
		for _, j := range ds {
			if j != i && !slices.Contains(kept, j) {
				kept = append(kept, j)
				p.blockers[j]++
			}
		}
		deps[i] = kept
		if p.holds(i) {
			for j := i + 1; j < n; j++ {
				p.blockers[j]++
			}
		}
	}
	return p
}

// size returns the number of nodes.
func (p *StopPlan) size() int { return len(p.blockers) }

// free appends to free the nodes that no node depends on.
func (p *StopPlan) free(free []int) []int {
	for i, b := range p.blockers {
		if b == 0 {
			free = append(free, i)
		}
	}
	return free
}

// released lowers the blockers of what node i depends on, now that i has
// stopped, and appends to free the nodes that became free. It must be
// called once per node at most.
func (p *StopPlan) released(i int, free []int) []int {
	for _, j := range p.deps[i] {
		if p.blockers[j]--; p.blockers[j] == 0 {
			free = append(free, j)
		}
	}
	if p.holds(i) {
		for j := i + 1; j < len(p.blockers); j++ {
			if p.blockers[j]--; p.blockers[j] == 0 {
				free = append(free, j)
			}
		}
	}
	return free
}

// holds reports whether node i depends on every node after it.
func (p *StopPlan) holds(i int) bool { return p.holdsAll != nil && p.holdsAll[i] }
