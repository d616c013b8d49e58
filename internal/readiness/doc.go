// Package readiness owns the machinery behind a mesh's readiness:
//
//   - Probes, the probe of each service with Ready or HealthCheck: one
//     HealthCheck in flight per service at most, across its removal and a
//     new Add too; a result used for timing.HealthCacheTTL before the
//     service is asked again; a check bounded by timing.HealthCheckTimeout;
//     a Ready never called again from inside itself; a panic that repeats
//     logged once.
//   - Blocker, the memo of the service that kept the mesh from being ready
//     when it was last looked at, looked at first the next time.
//   - Backoff and Watcher, the wait between two looks at a mesh that is not
//     ready yet, from timing.ReadyPollMin to timing.ReadyPollMax.
//
// It knows nothing of services or of the mesh: it works on owners, the
// mesh's records of its services, through the small Owner interface, and
// calls the service's code only through the callbacks the mesh hands it
// (Hooks, and the ask function of Probe.Ready), which guard it. It never
// holds its lock while a callback that runs service code runs, or while it
// waits.
//
// Only the root package calls it (ready.go and healthcheck.go there). It
// imports internal/timing and nothing else of the module.
package readiness
