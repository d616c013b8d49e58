// Package graph owns the machinery of the dependency graph: finding the
// addresses a service holds (held.go), the plan and the order of the stop
// (stopplan.go, stoporder.go), and the rendering of a graph as DOT or
// Mermaid (render.go).
//
// It knows nothing of services, entries or the registry: a service is any
// value, a node is an index, a state is a string. The root package is its
// only caller: it matches the addresses found against its registry under
// the registry's lock, gives the nodes of the stop in stop order with their
// edges as indices, and converts its public DependencyGraph to Node and
// Edge for rendering. It imports nothing of the mesh.
package graph
