package servicemesh

import "github.com/gravestench/servicemesh/internal/graph"

// Which services does a waiting resolver hold? After an attempt that did not
// resolve, the mesh reads the words of the resolver's struct that can hold a
// service's address (graph.HeldAddresses, which says how deep it looks and
// what it does not see) and wakes the resolver when one of those services is
// initialized or removed. The answer is only a hint for whom to wake first:
// every waiting resolver is also re-run shortly after any change (in a
// broadcast, see scheduler.go), and polled.
//
// It earns its place on chains of dependencies: each link is re-run on its
// own goroutine the moment the service it holds is initialized, not at the
// next broadcast, which with thousands of waiters may be tens of
// milliseconds away. What it does not see only delays a re-run to the next
// broadcast. The same addresses are the edges of the dependency graph
// (graph.go).

// indexAddresses builds byAddr, the entries of pointer-shaped services by
// address, the first time a resolver has to be matched against them; from
// then on reserve and unregister keep it. The caller holds registry.mu.
func (m *mesh) indexAddresses() {
	m.reg.byAddr = make(map[uintptr]*entry, len(m.reg.index))
	for _, e := range m.reg.index {
		if a := addressOf(e.svc); a != 0 {
			m.reg.byAddr[a] = e
		}
	}
}

// addressOf returns the address a pointer-shaped service points to, or 0
// (graph.AddressOf): the key of byAddr.
func addressOf(svc Service) uintptr { return graph.AddressOf(svc) }
