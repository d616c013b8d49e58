// Package lifecycle owns the state of one service: the states a service
// passes through, the table of the steps allowed between them, and Machine,
// whose transition functions are the only way a service's state changes.
//
// It imports nothing of the mesh. The root package composes it: each
// service's entry holds one Machine, and every step the mesh takes for a
// service (resolving, starting, running, backing off, stopping, failing,
// removal) goes through that Machine, which refuses a step the table does
// not allow. That is what makes the mesh's rules hold by construction:
// StateFailed and StateRemoved have no way out, so a failure is sticky and
// a removed service is never acted on again; a service that is stopping
// can never become running, so no Serve starts once its stop began.
package lifecycle

import (
	"fmt"
	"strconv"
)

// State is where a service is in its lifecycle. Its zero value is Added. A
// State marshals to JSON, and to text, as its name.
type State uint8

// The states of a service, in the order a service normally passes through
// them. Steps lists which step is allowed from which state.
const (
	Added      State = iota // in the mesh; its lifecycle events are being told
	Resolving               // waiting for its dependencies
	Starting                // its Init is running
	Running                 // its Init returned normally (and its Serve runs, if it has one)
	BackingOff              // its Serve failed and waits for its restart
	Stopping                // its stop is under way
	Stopped                 // its stop ended, its Serve returned nil, or shutdown cut its start short
	Failed                  // it failed for good; it stays so
	Removed                 // it was removed from the mesh
	numStates
)

var names = [numStates]string{"added", "resolving", "starting", "running", "backing off", "stopping", "stopped", "failed", "removed"}

// String returns the state's name, such as "running" or "backing off".
func (s State) String() string {
	if s < numStates {
		return names[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the state's name; encoding/json uses it.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText sets s from a name that String returns; any other text is
// an error and leaves s as it was.
func (s *State) UnmarshalText(text []byte) error {
	for i, name := range names {
		if string(text) == name {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("servicemesh: unknown state %q", text)
}

// States returns every state, in order.
func States() []State {
	all := make([]State, numStates)
	for i := range all {
		all[i] = State(i)
	}
	return all
}
