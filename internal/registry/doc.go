// Package registry is the set of services of a mesh: which services are in
// it, in the order added; how one is found again (by value where Go can
// compare it, by identity where it cannot, by address for a resolver's
// fields, never at all for services of zero size); the list handed to
// resolvers, an immutable snapshot read without a lock; the removed services
// still retiring, so that a service added again starts its new lifecycle
// only once the old one is over; and the start stack, the entries whose Init
// began, for the shutdown to stop.
//
// It is generic over the service S (the root package's Service interface)
// and the entry E (the root package's record of one added service, a
// pointer), and imports nothing of the mesh: an entry embeds a Node, the
// registry's part of it, and the registry hands entries back through it,
// without an interface call. It imports only the standard library, and only
// the root package calls it.
//
// Concurrency: every method is safe for concurrent use. A Registry's state,
// and the fields of each Node said to be guarded by it, are guarded by the
// Registry's mutex; the snapshot is read without it. A Starts' stack is
// pushed without a lock and walked under its own mutex. Funcs handed to a
// method that says it calls them under a lock must not call user code, wait
// on the event bus or call back into the registry (a deadlock); they may
// take the mesh's locks ranked below it (the scheduler's).
package registry
