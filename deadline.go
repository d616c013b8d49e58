package servicemesh

import (
	"time"

	"github.com/gravestench/servicemesh/internal/deadline"
)

// Deadlines: the shutdown's budget (SetShutdownTimeout) and the wiring of
// the clock the shutdown goroutine keeps it with (internal/deadline), with
// one timer for the whole shutdown and a grace once the budget has passed.
// stopTimeout is atomic and read by the clock; stopBudget is stored by the
// shutdown goroutine and read by SetShutdownTimeout.

// SetShutdownTimeout sets the budget of the whole shutdown, from its start
// to its completion (default 25 s; zero or less: none). When it passes, the
// services whose OnShutdown has not returned are named at level Error and
// left behind, the services they depend on are still stopped, in order,
// within a short grace (a tenth of the budget, at most one second), and the
// shutdown completes, so Run returns. It applies to a shutdown under way as
// well as a later one.
//
// It is a function rather than a Mesh method so that Mesh stays the
// interface the original library defined; it reports false, doing nothing,
// when m was not made by New.
func SetShutdownTimeout(m Mesh, d time.Duration) bool {
	mm, ok := m.(*mesh)
	if !ok {
		return false
	}
	mm.stopTimeout.Store(int64(d))
	if b := mm.stopBudget.Load(); b != nil {
		b.SetBudget(d)
	}
	poke(mm.stopTimeoutChanged)
	return true
}

// startBudget makes the budget context of the shutdown that clock keeps
// the one SetShutdownTimeout moves. Called by the shutdown goroutine as the
// shutdown begins.
func (m *mesh) startBudget(clock *deadline.Clock) {
	budget := clock.BudgetContext()
	m.stopBudget.Store(budget)
	budget.SetBudget(clock.Budget()) // a SetShutdownTimeout that raced with the Store
}

// shutdownOwner is the mesh as its shutdown's clock sees it
// (deadline.Owner): a view of the same mesh, converted from *mesh for
// free, so that the clock is handed the mesh without an allocation.
type shutdownOwner mesh

// Budget is the shutdown's budget now; zero or less means none.
func (o *shutdownOwner) Budget() time.Duration { return time.Duration(o.stopTimeout.Load()) }

// BudgetPassed notes the emissions under way as abandoned: the shutdown
// does not wait for them again (waitLate).
func (o *shutdownOwner) BudgetPassed() {
	o.abandoned.Store(o.emitting.Load())
	o.abandonedBusy.Store(o.busy.Load())
}
