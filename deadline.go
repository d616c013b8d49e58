package servicemesh

import "time"

// defaultShutdownTimeout is the whole shutdown's budget unless the
// application sets another: inside the 30 s that Kubernetes waits by default
// between SIGTERM and SIGKILL, with room for the process to exit.
const defaultShutdownTimeout = 25 * time.Second

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
	poke(mm.stopTimeoutChanged)
	return true
}
