package servicemesh

// Find returns the first service in services that implements T, typically an
// interface the caller depends on, and whether there was one. It is meant for
// ResolveDependencies:
//
//	func (s *API) ResolveDependencies(services []servicemesh.Service) {
//		s.store, _ = servicemesh.Find[Store](services)
//	}
//
// Find only reads services, so it is safe on the shared snapshot the mesh
// passes to resolvers.
func Find[T any](services []Service) (T, bool) {
	for _, s := range services {
		if t, ok := s.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// FindAll returns every service in services that implements T, in order, or
// nil if none does. The result is a new slice the caller owns.
func FindAll[T any](services []Service) []T {
	var out []T
	for _, s := range services {
		if t, ok := s.(T); ok {
			out = append(out, t)
		}
	}
	return out
}
