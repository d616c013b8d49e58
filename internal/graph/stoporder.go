package graph

// Order decides which node of a StopPlan may begin its stop next: a node
// whose dependents have all stopped, at most limit at once; where the plan
// has a cycle (no node is free and none is stopping), the first node in
// stop order that has not stopped; in sequential mode, only that, one node
// at a time, ignoring the edges. It keeps no clock and starts nothing: the
// caller begins each stop, and tells Order when one began and when one is
// over (or was given up).
//
// An Order is not safe for concurrent use: one goroutine (the mesh's
// shutdown goroutine) owns it; another that reads Running needs a lock the
// owner holds around Started and Stopped.
type Order struct {
	plan       *StopPlan
	sequential bool
	limit      int
	state      []nodeState // of each node
	nrunning   int         // nodes running
	free       []int       // may begin, in the order they became free; may hold stopped ones
	next       int         // every node before next has stopped
	left       int         // nodes not stopped
}

// nodeState is where a node's stop is.
type nodeState uint8

const (
	waiting nodeState = iota // not begun
	running                  // begun and not over
	stopped                  // over, or given up
)

// NewOrder returns the order of p's stops, with at most limit stops under
// way at once (a limit below 1 counts as 1). With sequential set, the nodes
// stop one at a time in their order, the edges ignored.
func NewOrder(p *StopPlan, sequential bool, limit int) *Order {
	n := p.size()
	o := &Order{
		plan:       p,
		sequential: sequential,
		limit:      max(limit, 1),
		state:      make([]nodeState, n),
		left:       n,
	}
	if !sequential {
		o.free = p.free(nil)
	}
	return o
}

// Left returns how many nodes have not stopped (running ones included).
func (o *Order) Left() int { return o.left }

// Next returns a node that may begin its stop now, and whether it was
// chosen to break a cycle (never in sequential mode). ok is false when no
// node may begin now: all have stopped (Left is 0), or the caller must wait
// for a running stop to end (the limit is reached, or the others depend on
// running ones). The caller then calls Started or, if its stop is over at
// once, Stopped, before calling Next again.
func (o *Order) Next() (node int, cycle bool, ok bool) {
	for len(o.free) > 0 && o.nrunning < o.limit {
		i := o.free[0]
		o.free = o.free[1:]
		if o.state[i] == waiting {
			return i, false, true
		}
	}
	if o.left == 0 || o.nrunning > 0 {
		return 0, false, false
	}
	// A cycle, or a sequential stop: the first node left goes next.
	for o.state[o.next] == stopped {
		o.next++
	}
	return o.next, !o.sequential, true
}

// Started records that node i, just returned by Next, began its stop.
func (o *Order) Started(i int) {
	o.state[i] = running
	o.nrunning++
}

// Stopped records that node i's stop is over, or was given up: what it
// depends on may stop now. A node already stopped is left as it is, so a
// stop given up that ends later may be reported again.
func (o *Order) Stopped(i int) {
	switch o.state[i] {
	case stopped:
		return
	case running:
		o.nrunning--
	}
	o.state[i] = stopped
	o.left--
	if !o.sequential {
		o.free = o.plan.released(i, o.free)
	}
}

// Running returns the nodes whose stop began and is not over, in stop
// order.
func (o *Order) Running() []int { return o.nodes(running) }

// Waiting returns the nodes whose stop has not begun, in stop order.
func (o *Order) Waiting() []int { return o.nodes(waiting) }

// nodes returns the nodes in state s, in stop order.
func (o *Order) nodes(s nodeState) []int {
	var nodes []int
	for i, si := range o.state {
		if si == s {
			nodes = append(nodes, i)
		}
	}
	return nodes
}
