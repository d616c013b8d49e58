package servicemesh

// Status: what a mesh reports about itself (Status, Report, ServiceStatus).
// It reads the registry under registry.mu and each entry's atomics, and
// calls no service code; readiness comes from ready.go.

import (
	"context"
	"time"
)

// Report is a snapshot of a mesh, from Status. It marshals to JSON with the
// field names in lower camel case ("name", "ready", "started", "stopped",
// "services").
type Report struct {
	// Name is the mesh's name.
	Name string `json:"name"`
	// Ready is the mesh's readiness (see Ready) as known when the
	// snapshot was taken, without waiting for health checks: each
	// HealthCheck counts with its latest result, at most a second old
	// unless a check is in flight; one never completed counts as failing.
	Ready bool `json:"ready"`
	// Started reports whether the mesh was found ready at least once.
	Started bool `json:"started"`
	// Stopped reports whether the mesh's shutdown has completed.
	Stopped bool `json:"stopped"`
	// Services are the mesh's services, in the order added, the mesh
	// itself excluded.
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service in a Report. Durations marshal to JSON as
// integer nanoseconds (as time.Duration does); zero values of Since, the
// durations, Restarts, Error and DependsOn are left out of the JSON.
type ServiceStatus struct {
	Name  string `json:"name"`  // its Name()
	State State  `json:"state"` // marshalled as the state's name, such as "running"
	// Since is when it entered State (for StateAdded, when it was added).
	Since time.Time `json:"since,omitzero"`
	// Resolve, Init and Stop are how long its dependency resolution, its
	// Init and its stop took; zero until each has ended (or if it has no
	// dependencies, for Resolve).
	Resolve time.Duration `json:"resolve,omitempty"`
	Init    time.Duration `json:"init,omitempty"`
	Stop    time.Duration `json:"stop,omitempty"`
	// Restarts counts the restarts of its Serve (HasServe).
	Restarts int `json:"restarts,omitempty"`
	// Error is the text of its last failure (see ServiceError), "" if none.
	Error string `json:"error,omitempty"`
	// DependsOn names the services still in the mesh that it holds (see
	// Graph), in the order the mesh found them. A service that holds the
	// Mesh itself does not list every other service for it.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Detail is what the service says of itself (HasStatusDetail), such
	// as "leader (token 7)"; "" for a service without it, or whose
	// StatusDetail panicked.
	Detail string `json:"detail,omitempty"`
}

// HasStatusDetail is implemented by a service with something to say about
// itself in Status, beyond its state: leader.Singleton says whether this
// replica leads. StatusDetail is called by Status, Subscribe's changes do not
// carry it. It is called from whichever goroutine asks for the status,
// concurrently with the service's other methods and with itself, without any
// lock of the mesh held; it should return at once. A panic in it is recovered
// and logged, and the detail is then "".
type HasStatusDetail interface {
	StatusDetail() string
}

// Status returns a snapshot of m: its name, readiness, and every service in
// the order added, each with its state and since when, how long its
// resolution, Init and stop took, its last error, and what it depends on.
// Each service is read at one moment, not all of them at the same moment.
//
// Status never waits for a service's code, except Ready of HasReadiness
// services, which it calls (so Ready must not call Status); stale health
// checks are started but not waited for (see Report.Ready). It is safe from
// any goroutine, including Init, OnShutdown, HealthCheck and event
// handlers, and during and after the shutdown. For a Mesh not made by New,
// nil included, it returns the zero Report.
func Status(m Mesh) Report {
	mm, ok := m.(*mesh)
	if !ok {
		return Report{}
	}
	return mm.status()
}

func (m *mesh) status() Report {
	m.refreshDependencies()
	r := Report{Name: m.name}
	var detailed []int // indexes of the services with a detail to ask for
	var tellers []HasStatusDetail
	m.reg.Do(func(l listing) {
		r.Services = make([]ServiceStatus, 0, l.Len())
		for e := range l.Entries() {
			if d, ok := e.svc.(HasStatusDetail); ok {
				detailed = append(detailed, len(r.Services))
				tellers = append(tellers, d)
			}
			r.Services = append(r.Services, e.status())
		}
	})
	// The details are the services' code: asked after the lock is released.
	for i, d := range tellers {
		s := &r.Services[detailed[i]]
		_ = m.guard(s.Name, "StatusDetail", func() { s.Detail = d.StatusDetail() })
	}
	r.Ready = m.readiness(context.Background(), false)
	r.Started = m.health.wasReady.Load()
	select {
	case <-m.finished:
		r.Stopped = true
	default:
	}
	return r
}

// status reports e. The caller holds the registry's lock (for dependsOn).
func (e *entry) status() ServiceStatus {
	s := ServiceStatus{
		Name:    e.name,
		State:   e.lc.State(),
		Since:   e.lc.Since(),
		Resolve: e.lc.Took(StateResolving),
		Init:    e.lc.Took(StateStarting),
		Stop:    e.lc.Took(StateStopping),
		// Restarts of its Serve (supervise.go).
		Restarts: int(e.restarts.Load()),
	}
	if p := e.lastErr.Load(); p != nil {
		s.Error = *p
	}
	for _, d := range e.dependsOn {
		if d.node.Listed() {
			s.DependsOn = append(s.DependsOn, d.name)
		}
	}
	return s
}
