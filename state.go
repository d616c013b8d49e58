package servicemesh

// State: where a service is in its lifecycle, for Status, Graph and the
// health package, and stateVar, which holds one for concurrent use.

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// State is where a service is in its lifecycle. Its zero value is
// StateAdded. A State marshals to JSON, and to text, as its name.
type State uint8

// The states of a service, in the order a service normally passes through
// them. StateRemoved is reached from any state before StateStarting (a
// service removed once its Init began keeps its state); StateFailed from
// any state before StateStopping, and a running service whose Serve ends
// becomes StateStopped (or StateFailed when it fails for good) before the
// shutdown stops it in its turn.
const (
	StateAdded     State = iota // in the mesh; its lifecycle events are being told
	StateResolving              // waiting for its dependencies
	StateStarting               // its Init is running
	StateRunning                // its Init returned normally
	StateStopping               // its stop is under way
	StateStopped                // its stop has ended
	StateFailed                 // its resolution or Init failed, or its Serve failed for good
	StateRemoved                // removed before it was running
)

var stateNames = [...]string{"added", "resolving", "starting", "running", "stopping", "stopped", "failed", "removed"}

// String returns the state's name, such as "running".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the state's name; encoding/json uses it.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText sets s from a name that String returns.
func (s *State) UnmarshalText(text []byte) error {
	for i, name := range stateNames {
		if string(text) == name {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("servicemesh: unknown state %q", text)
}

// stateVar holds a State for concurrent use, and when it was entered.
type stateVar struct {
	v     atomic.Uint32
	since atomic.Int64 // UnixNano of the last change
}

func (p *stateVar) load() State { return State(p.v.Load()) }

func (p *stateVar) store(x State) {
	p.v.Store(uint32(x))
	p.since.Store(time.Now().UnixNano())
}

// from moves to x if the state is one of from, and reports whether it did.
func (p *stateVar) from(x State, from ...State) bool {
	for {
		cur := p.v.Load()
		if !slices.Contains(from, State(cur)) {
			return false
		}
		if p.v.CompareAndSwap(cur, uint32(x)) {
			p.since.Store(time.Now().UnixNano())
			return true
		}
	}
}
