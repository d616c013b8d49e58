package servicemesh

// Which services does a waiting resolver hold? After an attempt that did not
// resolve, the mesh reads the words of the resolver's struct that can hold a
// service's address (graph.HeldAddresses, which says how deep it looks and
// what it does not see) and wakes the resolver when one of those services is
// initialized or removed. The answer is only a hint for whom to wake first:
// every waiting resolver is also re-run shortly after any change (in a
// broadcast, see internal/sched), and polled.
//
// It earns its place on chains of dependencies: each link is re-run on its
// own goroutine the moment the service it holds is initialized, not at the
// next broadcast, which with thousands of waiters may be tens of
// milliseconds away. What it does not see only delays a re-run to the next
// broadcast. The same addresses are the edges of the dependency graph
// (graph.go).
