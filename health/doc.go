// Package health serves a mesh's health over HTTP, for orchestrators such as
// Kubernetes and for load balancers: Handler answers three probes, each with
// 200 OK or 503 Service Unavailable and a small JSON body.
//
//   - GET /livez: 200 unless a service failed for good (servicemesh.StateFailed)
//     or the mesh's shutdown has completed. A failing liveness probe tells the
//     orchestrator to restart the process.
//   - GET /readyz: 200 while the mesh is ready (servicemesh.Ready): every
//     service runs, reports Ready and passes its HealthCheck, and the shutdown
//     has not begun. A failing readiness probe takes the process out of the
//     load balancer; with servicemesh.SetDrainDelay it fails from the first
//     moment of the shutdown while the services still serve.
//   - GET /startupz: 200 once the mesh has been ready at least once.
//
// The body lists the services by name and state, with the verdict:
//
//	{"status":"pass","mesh":"shop","services":[{"name":"db","state":"running"}]}
//
// It carries no error text unless the application asks for it with
// WithErrors, so that what a service failed with (a connection string, a
// path) is not shown to whoever can reach the endpoint.
//
// The handler opens no listener: the application mounts it where it chooses,
// at the root of a mux or under a prefix:
//
//	mux := http.NewServeMux()
//	mux.Handle("/health/", http.StripPrefix("/health", health.Handler(app)))
//	// GET /health/livez, /health/readyz, /health/startupz
//
// A probe never makes the services do more work than one HealthCheck per
// service per second, however many probes arrive: results are cached and a
// check in flight is shared (see servicemesh.HasHealthCheck). /livez and
// /startupz never wait for a HealthCheck; /readyz waits at most for the
// checks' 2 s timeout.
package health
