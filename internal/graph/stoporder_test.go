package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// next returns the node Next gives, failing the test if it gives none.
func next(t *testing.T, o *Order) (int, bool) {
	t.Helper()
	i, cycle, ok := o.Next()
	require.True(t, ok, "a node may stop")
	return i, cycle
}

// none asserts that Next gives no node now.
func none(t *testing.T, o *Order) {
	t.Helper()
	_, _, ok := o.Next()
	require.False(t, ok, "no node may stop now")
}

// A node stops once every node that depends on it has stopped.
func TestOrderStopsDependentsFirst(t *testing.T) {
	// 0 depends on 1, 1 on 2: 0 first, then 1, then 2.
	o := NewOrder(NewStopPlan([][]int{{1}, {2}, nil}, nil), false, 10)
	for want := range 3 {
		i, cycle := next(t, o)
		assert.Equal(t, want, i)
		assert.False(t, cycle)
		o.Started(i)
		none(t, o)
		o.Stopped(i)
	}
	assert.Zero(t, o.Left())
	none(t, o)
}

// Nodes with no relation stop concurrently, at most limit at once, in stop
// order.
func TestOrderRunsIndependentNodesUpToTheLimit(t *testing.T) {
	o := NewOrder(NewStopPlan(make([][]int, 5), nil), false, 2)
	a, _ := next(t, o)
	o.Started(a)
	b, _ := next(t, o)
	o.Started(b)
	assert.Equal(t, []int{0, 1}, []int{a, b})
	none(t, o)
	assert.Equal(t, []int{0, 1}, o.Running())
	assert.Equal(t, []int{2, 3, 4}, o.Waiting())
	o.Stopped(b)
	c, _ := next(t, o)
	assert.Equal(t, 2, c)
	o.Stopped(c) // over at once: never started
	d, _ := next(t, o)
	assert.Equal(t, 3, d)
	assert.Equal(t, 3, o.Left())

	assert.Equal(t, 1, NewOrder(NewStopPlan(make([][]int, 1), nil), false, 0).limit, "a limit below 1 counts as 1")
}

// Where nothing is free and nothing runs, the first node left in stop
// order breaks the cycle.
func TestOrderBreaksACycleWithTheFirstNodeLeft(t *testing.T) {
	// 0 -> 1 -> 2 -> 1, and 0 -> 2: 0 is free; then 1 and 2 hold each other.
	o := NewOrder(NewStopPlan([][]int{{1, 2}, {2}, {1}}, nil), false, 10)
	i, cycle := next(t, o)
	assert.Equal(t, 0, i)
	assert.False(t, cycle)
	o.Started(i)
	none(t, o) // 0 runs: no cycle to break yet
	o.Stopped(i)
	i, cycle = next(t, o)
	assert.Equal(t, 1, i)
	assert.True(t, cycle, "chosen to break the cycle")
	o.Started(i)
	none(t, o)
	o.Stopped(i)
	i, cycle = next(t, o)
	assert.Equal(t, 2, i, "released by 1")
	assert.False(t, cycle)
}

// In sequential mode the edges are ignored: one node at a time, in stop
// order, none reported as a cycle.
func TestOrderSequential(t *testing.T) {
	o := NewOrder(NewStopPlan([][]int{nil, {0}, {0}}, nil), true, 10)
	for want := range 3 {
		i, cycle := next(t, o)
		assert.Equal(t, want, i)
		assert.False(t, cycle)
		o.Started(i)
		none(t, o)
		o.Stopped(i)
	}
	none(t, o)
}

// A node that holds everything after it (the Mesh) stops before all of
// them; those before it are not held.
func TestOrderHoldsAll(t *testing.T) {
	o := NewOrder(NewStopPlan(make([][]int, 4), []bool{false, true, false, false}), false, 10)
	a, _ := next(t, o)
	o.Started(a)
	b, _ := next(t, o)
	o.Started(b)
	assert.Equal(t, []int{0, 1}, []int{a, b})
	none(t, o)
	o.Stopped(0)
	none(t, o)
	o.Stopped(1)
	c, _ := next(t, o)
	d, _ := next(t, o)
	assert.Equal(t, []int{2, 3}, []int{c, d})
}

// A stop given up at the deadline and reported again when it ends late
// releases what it depends on once.
func TestOrderStoppedTwiceReleasesOnce(t *testing.T) {
	// 0 and 1 both depend on 2.
	o := NewOrder(NewStopPlan([][]int{{2}, {2}, nil}, nil), false, 10)
	a, _ := next(t, o)
	o.Started(a)
	b, _ := next(t, o)
	o.Started(b)
	o.Stopped(0)
	o.Stopped(0)
	none(t, o)
	assert.Equal(t, 2, o.Left())
	assert.Equal(t, []int{1}, o.Running())
	o.Stopped(1)
	i, _ := next(t, o)
	assert.Equal(t, 2, i)
}

// NewStopPlan counts a repeated edge once and ignores an edge to itself.
func TestStopPlanDuplicatesAndSelfEdges(t *testing.T) {
	p := NewStopPlan([][]int{{1, 1, 0}, {1}}, nil)
	assert.Equal(t, []int{0, 1}, p.blockers)
	assert.Equal(t, [][]int{{1}, {}}, p.deps)
	assert.Equal(t, 2, p.size())

	o := NewOrder(NewStopPlan(nil, nil), false, 1)
	assert.Zero(t, o.Left())
	none(t, o)
	assert.Nil(t, o.Running())
	assert.Nil(t, o.Waiting())
}
