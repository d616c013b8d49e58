package servicemesh

import (
	"errors"
	"strconv"
	"time"
)

// The types of the change stream (Subscribe): Change, MeshState, and
// ErrChangesLost.

// MeshState is the state of a mesh as a whole, told to subscribers in a
// Change whose Service is "". It marshals to text as its name.
type MeshState uint8

// The states of a mesh. A mesh is not ready until Ready would report true;
// it becomes ready, and may become not ready again (a service added, a
// HasReadiness service or a HealthCheck turning), until its shutdown
// begins; then it is shutting down, and stopped once the shutdown has
// completed.
const (
	MeshNotReady     MeshState = iota // not (or no longer) ready
	MeshReady                         // Ready reports true
	MeshShuttingDown                  // its shutdown has begun
	MeshStopped                       // its shutdown has completed
)

var meshStateNames = [...]string{"not ready", "ready", "shutting down", "stopped"}

// String returns the state's name, such as "ready".
func (s MeshState) String() string {
	if int(s) < len(meshStateNames) {
		return meshStateNames[s]
	}
	return "MeshState(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the state's name; encoding/json uses it.
func (s MeshState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Change is one step told by Subscribe. For a service, Service is its name
// and From and To its states (Err, for a step to StateFailed or
// StateBackingOff, is why); for the mesh itself, Service is "" and Mesh
// its new state. A Change whose Err wraps ErrChangesLost stands for the
// changes a subscriber missed because it fell too far behind; its text
// gives their count.
type Change struct {
	Time     time.Time
	Service  string
	From, To State
	Mesh     MeshState
	Err      error
}

// ErrChangesLost is wrapped by the Err of the Change that tells a
// subscriber how many changes it lost (see Subscribe).
var ErrChangesLost = errors.New("changes lost")
