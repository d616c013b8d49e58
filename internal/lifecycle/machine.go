package lifecycle

import (
	"sync/atomic"
	"time"
)

// allowed is the table of legal steps: allowed[from] has bit to set when a
// service may go from from to to.
//
//   - Added: it is told to its handlers; it resolves, starts, is removed,
//     fails (its resolution failed at once), or is stopped (the shutdown
//     cut its start short before it resolved).
//   - Resolving: it starts once resolved, fails for good, is stopped (the
//     shutdown canceled its resolution) or removed.
//   - Starting: its Init returned (running), it failed for good, its stop
//     began while Init still runs (stopping), the shutdown cut it short
//     (stopped), or it was removed.
//   - Running: its Serve failed and will be restarted (backing off), its
//     Serve returned nil (stopped), it failed for good, its stop began, or
//     it was removed.
//   - BackingOff: restarted (running), failed for good, its stop began,
//     or removed.
//   - Stopping: its stop ended (stopped), failed (an error, or the
//     shutdown's budget ran out), or it was removed meanwhile.
//   - Stopped: a service whose Serve returned nil is still stopped in its
//     turn (stopping), or removed.
//   - Failed and Removed: none. A failure is sticky, and a removed service
//     is never acted on.
var allowed = [numStates]uint16{
	Added:      bits(Resolving, Starting, Failed, Stopped, Removed),
	Resolving:  bits(Starting, Failed, Stopped, Removed),
	Starting:   bits(Running, Failed, Stopping, Stopped, Removed),
	Running:    bits(BackingOff, Stopped, Failed, Stopping, Removed),
	BackingOff: bits(Running, Failed, Stopping, Removed),
	Stopping:   bits(Stopped, Failed, Removed),
	Stopped:    bits(Stopping, Removed),
	Failed:     0,
	Removed:    0,
}

func bits(to ...State) uint16 {
	var b uint16
	for _, s := range to {
		b |= 1 << s
	}
	return b
}

// Allowed reports whether a service may go from from to to.
func Allowed(from, to State) bool {
	return from < numStates && to < numStates && allowed[from]&(1<<to) != 0
}

// Terminal reports whether s has no way out: Failed or Removed.
func (s State) Terminal() bool { return s < numStates && allowed[s] == 0 }

// Machine is the state of one service, for concurrent use: any goroutine
// may read it, and every change goes through To or Step, which take a step
// only if the table allows it, atomically (a compare-and-swap), so that of
// two goroutines racing to move a service exactly one wins. It records
// since when the service is in its state, and how long it spent resolving,
// starting and stopping (the last time it left each). Its zero value is a
// service in Added since the zero time; Reset sets the time.
type Machine struct {
	v     atomic.Uint32
	since atomic.Int64 // UnixNano of the last step
	// took holds, for Resolving, Starting and Stopping, how long the
	// service spent there the last time it left; index by tookIndex.
	took [3]atomic.Int64
}

// Reset puts m in Added since now. It is for a Machine no other goroutine
// uses yet.
func (m *Machine) Reset(now time.Time) {
	m.v.Store(uint32(Added))
	m.since.Store(now.UnixNano())
	for i := range m.took {
		m.took[i].Store(0)
	}
}

// State returns the state m is in.
func (m *Machine) State() State { return State(m.v.Load()) }

// Since returns when m entered its state.
func (m *Machine) Since() time.Time { return time.Unix(0, m.since.Load()) }

// To moves m to to if the table allows the step from the state it is in,
// and returns that state and whether it moved. A step to the state m is
// already in is refused.
func (m *Machine) To(to State) (from State, ok bool) {
	for {
		cur := m.v.Load()
		if !Allowed(State(cur), to) {
			return State(cur), false
		}
		if m.v.CompareAndSwap(cur, uint32(to)) {
			m.stepped(State(cur))
			return State(cur), true
		}
	}
}

// Step moves m from from to to, if m is in from and the table allows the
// step, and reports whether it moved.
func (m *Machine) Step(from, to State) bool {
	if !Allowed(from, to) || !m.v.CompareAndSwap(uint32(from), uint32(to)) {
		return false
	}
	m.stepped(from)
	return true
}

// stepped records the time of a step out of from.
func (m *Machine) stepped(from State) {
	now := time.Now().UnixNano()
	prev := m.since.Swap(now)
	if i := tookIndex(from); i >= 0 && prev != 0 {
		m.took[i].Store(now - prev)
	}
}

// Took returns how long the service spent in s (Resolving, Starting or
// Stopping) the last time it left it; zero before it left it once, and for
// the other states.
func (m *Machine) Took(s State) time.Duration {
	if i := tookIndex(s); i >= 0 {
		return time.Duration(m.took[i].Load())
	}
	return 0
}

func tookIndex(s State) int {
	switch s {
	case Resolving:
		return 0
	case Starting:
		return 1
	case Stopping:
		return 2
	}
	return -1
}
