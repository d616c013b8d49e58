// Package lane owns the in-order runner: items queued one after another run
// in the order queued, one at a time, on one goroutine (the lane), and a
// watchdog moves the lane on to a new goroutine when the item it runs is
// in a long call (its Init) or makes no progress (stuck in code that waits),
// leaving that item to finish where it is.
//
// It knows nothing of services or the mesh: an item is a value of any type,
// run by a function the caller gives, and its progress is a Progress the
// caller updates while it runs. The root package is its only caller: the
// mesh queues the lifecycles of services without dependencies on one Lane,
// so that their Inits begin in the order they were added. It imports only
// internal/timing.
package lane
