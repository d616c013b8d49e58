package lifecycle

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// legal is the table of allowed steps, written out step by step so that a
// change of the table in machine.go has to be made here too.
var legal = map[State][]State{
	Added:      {Resolving, Starting, Stopped, Failed, Removed},
	Resolving:  {Starting, Stopped, Failed, Removed},
	Starting:   {Running, Stopping, Stopped, Failed, Removed},
	Running:    {BackingOff, Stopping, Stopped, Failed, Removed},
	BackingOff: {Running, Stopping, Failed, Removed},
	Stopping:   {Stopped, Failed, Removed},
	Stopped:    {Stopping, Removed},
	Failed:     nil,
	Removed:    nil,
}

// TestEveryStepIsAllowedOrRefusedAsTheTableSays tries every pair of states,
// through Allowed, To and Step.
func TestEveryStepIsAllowedOrRefusedAsTheTableSays(t *testing.T) {
	require.Len(t, legal, len(States()))
	for _, from := range States() {
		for _, to := range States() {
			want := false
			for _, s := range legal[from] {
				want = want || s == to
			}
			name := from.String() + "→" + to.String()
			assert.Equal(t, want, Allowed(from, to), name)

			var m Machine
			m.v.Store(uint32(from))
			got, ok := m.To(to)
			assert.Equal(t, from, got, name)
			assert.Equal(t, want, ok, name)
			if want {
				assert.Equal(t, to, m.State(), name)
			} else {
				assert.Equal(t, from, m.State(), name)
			}

			var n Machine
			n.v.Store(uint32(from))
			assert.Equal(t, want, n.Step(from, to), name)
			for _, other := range States() {
				if other != from {
					var o Machine
					o.v.Store(uint32(other))
					assert.False(t, o.Step(from, to), "%s from %s", name, other)
					assert.Equal(t, other, o.State())
				}
			}
		}
	}
}

// TestFailedAndRemovedAreTerminal pins the rules the mesh relies on: a
// failure is sticky, a removed service is never acted on, and nothing that
// is stopping or stopped becomes running again.
func TestFailedAndRemovedAreTerminal(t *testing.T) {
	for _, s := range States() {
		assert.Equal(t, s == Failed || s == Removed, s.Terminal(), s.String())
	}
	assert.False(t, Allowed(Stopping, Running))
	assert.False(t, Allowed(Stopped, Running))
	assert.False(t, Allowed(Stopped, Failed), "a service whose stop ended cannot fail afterwards")
	assert.False(t, State(200).Terminal())
	assert.False(t, Allowed(State(200), Added))
	assert.False(t, Allowed(Added, State(200)))
}

// TestOneOfRacingStepsWins: of goroutines racing to fail and to stop a
// running service, exactly one moves it.
func TestOneOfRacingStepsWins(t *testing.T) {
	for range 100 {
		var m Machine
		m.Reset(time.Now())
		require.True(t, m.Step(Added, Starting))
		require.True(t, m.Step(Starting, Running))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				to := Failed
				if i%2 == 1 {
					to = Stopping
				}
				if _, ok := m.To(to); ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		// Stopping → Failed is allowed, so a stop may be followed by a
		// failure, never the other way round.
		assert.LessOrEqual(t, wins.Load(), int32(2))
		assert.GreaterOrEqual(t, wins.Load(), int32(1))
		if wins.Load() == 2 {
			assert.Equal(t, Failed, m.State())
		}
	}
}

// TestTimingsAreRecordedOnLeaving: Took tells how long a service spent
// resolving, starting and stopping, once it left each.
func TestTimingsAreRecordedOnLeaving(t *testing.T) {
	var m Machine
	start := time.Now()
	m.Reset(start)
	assert.Equal(t, start.UnixNano(), m.Since().UnixNano())
	require.True(t, m.Step(Added, Resolving))
	assert.Zero(t, m.Took(Resolving))
	require.True(t, m.Step(Resolving, Starting))
	assert.Positive(t, m.Took(Resolving))
	assert.Zero(t, m.Took(Starting))
	require.True(t, m.Step(Starting, Running))
	assert.Positive(t, m.Took(Starting))
	require.True(t, m.Step(Running, Stopping))
	require.True(t, m.Step(Stopping, Stopped))
	assert.Positive(t, m.Took(Stopping))
	assert.Zero(t, m.Took(Running))
	assert.False(t, m.Since().Before(start))
}

func TestStateNames(t *testing.T) {
	want := []string{"added", "resolving", "starting", "running", "backing off", "stopping", "stopped", "failed", "removed"}
	for i, s := range States() {
		assert.Equal(t, want[i], s.String())
		b, err := json.Marshal(s)
		require.NoError(t, err)
		var back State
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, s, back)
	}
	assert.Equal(t, "State(42)", State(42).String())
	s := Running
	assert.Error(t, s.UnmarshalText([]byte("sleeping")))
	assert.Equal(t, Running, s)
}
