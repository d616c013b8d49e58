package servicemesh

// State: where a service is in its lifecycle, for Status, Graph and the
// health package. The states, and the steps allowed between them, are
// owned by internal/lifecycle; the mesh moves a service only through its
// lifecycle.Machine (step, in lifecycle.go).

import "github.com/gravestench/servicemesh/internal/lifecycle"

// State is where a service is in its lifecycle. Its zero value is
// StateAdded. A State marshals to JSON, and to text, as its name (String);
// UnmarshalText accepts those names and refuses any other text.
type State = lifecycle.State

// The states of a service, in the order a service normally passes through
// them:
//
//	added → resolving → starting → running → stopping → stopped
//
// A service whose Serve fails waits for its restart in StateBackingOff. A
// service failed for good is StateFailed and stays so, through and after
// the shutdown; a removed one is StateRemoved. A start cut short by the
// shutdown (its resolution canceled, its InitContext's context ended)
// leaves it StateStopped, as does its Serve returning nil. Nothing that is
// stopping or stopped becomes running again.
const (
	StateAdded      = lifecycle.Added      // in the mesh; its lifecycle events are being told
	StateResolving  = lifecycle.Resolving  // waiting for its dependencies
	StateStarting   = lifecycle.Starting   // its Init is running
	StateRunning    = lifecycle.Running    // its Init returned normally (and its Serve runs, if it has one)
	StateBackingOff = lifecycle.BackingOff // its Serve failed and waits for its restart ("backing off")
	StateStopping   = lifecycle.Stopping   // its stop is under way
	StateStopped    = lifecycle.Stopped    // its stop ended, its Serve returned nil, or shutdown cut its start short
	StateFailed     = lifecycle.Failed     // it failed for good (see RunContext); it stays so
	StateRemoved    = lifecycle.Removed    // removed from the mesh
)
