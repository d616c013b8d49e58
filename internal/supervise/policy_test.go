package supervise

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPolicyDefaultsAndBounds(t *testing.T) {
	tests := []struct {
		name string
		in   Policy
		want Policy
	}{
		{"zero", Policy{}, Policy{MaxRestarts: 5, Window: 30 * time.Second, Backoff: 100 * time.Millisecond, MaxBackoff: 15 * time.Second, Jitter: 0.1}},
		{"negative", Policy{MaxRestarts: -1, Window: -1, Backoff: -1, MaxBackoff: -1, Jitter: -1},
			Policy{MaxRestarts: -1, Window: 30 * time.Second, Backoff: 100 * time.Millisecond, MaxBackoff: 15 * time.Second}},
		{"huge", Policy{MaxRestarts: 1 << 30, Backoff: time.Hour, MaxBackoff: time.Minute, Jitter: 7},
			Policy{MaxRestarts: 1 << 30, Window: 30 * time.Second, Backoff: time.Hour, MaxBackoff: time.Hour, Jitter: 1}},
		{"kept", Policy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second, MaxBackoff: 10 * time.Second, Jitter: 0.5, KeepRunning: true},
			Policy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second, MaxBackoff: 10 * time.Second, Jitter: 0.5, KeepRunning: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.in.WithDefaults())
		})
	}
}

func TestJittered(t *testing.T) {
	for range 1000 {
		d := jittered(time.Second, 0.1)
		assert.GreaterOrEqual(t, d, 900*time.Millisecond)
		assert.LessOrEqual(t, d, 1100*time.Millisecond)
	}
	assert.Equal(t, time.Second, jittered(time.Second, 0))
	assert.Equal(t, time.Second, jittered(time.Second, -1))
}

// Backoff arithmetic saturates: no policy, however large, yields a negative
// or zero wait, and nothing overflows.
func TestBackoffSaturates(t *testing.T) {
	const maxD = time.Duration(math.MaxInt64)
	for _, tc := range []struct {
		name   string
		d      time.Duration
		jitter float64
	}{
		{"largest, full jitter", maxD, 1},
		{"over half the largest, full jitter", time.Duration(1<<62 + 1), 1},
		{"largest, no jitter", maxD, 0},
		{"one nanosecond, full jitter", 1, 1},
		{"one nanosecond, no jitter", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 1000 {
				w := jittered(tc.d, tc.jitter)
				assert.Positive(t, w)
				assert.GreaterOrEqual(t, w, max(tc.d/10, 1), "never less than a tenth")
			}
		})
	}
	assert.Equal(t, maxD, doubled(maxD, maxD), "doubling the largest stays the largest")
	assert.Equal(t, maxD, doubled(time.Duration(1<<62+1), maxD))
	assert.Equal(t, time.Duration(1<<62), doubled(1<<61, maxD))
	assert.Equal(t, 15*time.Second, doubled(10*time.Second, 15*time.Second), "capped")
	assert.Equal(t, 4*time.Second, doubled(2*time.Second, 15*time.Second))

	assert.Equal(t, maxD, addSaturating(maxD, maxD))
	assert.Equal(t, maxD, addSaturating(maxD-1, 2))
	assert.Equal(t, maxD, addSaturating(maxD-1, 1))
	assert.Equal(t, 3*time.Second, addSaturating(time.Second, 2*time.Second))
}

// A policy whose MaxRestarts cannot be reached within Window at its backoff
// is unreachable; the sum saturates for huge policies.
func TestPolicyUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want bool
	}{
		{"unreachable", Policy{MaxRestarts: 4, Backoff: 10 * time.Second, Window: 30 * time.Second}, true},
		{"reachable", Policy{MaxRestarts: 4, Backoff: time.Second, Window: 30 * time.Second}, false},
		{"never restarts", Policy{MaxRestarts: -1, Backoff: time.Hour}, false},
		{"the defaults", Policy{}, false},
		{"exactly the window", Policy{MaxRestarts: 3, Backoff: time.Second, MaxBackoff: time.Second, Window: 3 * time.Second}, false},
		{"just over the window", Policy{MaxRestarts: 4, Backoff: time.Second, MaxBackoff: time.Second, Window: 3 * time.Second}, true},
		{"huge backoff", Policy{MaxRestarts: 1 << 30, Backoff: time.Duration(math.MaxInt64), Window: time.Duration(math.MaxInt64)}, false},
		{"huge count", Policy{MaxRestarts: 1 << 30, Backoff: time.Hour, Window: 24 * time.Hour}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.p.Unreachable())
		})
	}
}

// unreachableByEveryStep is Unreachable as the root computed it before,
// one restart at a time, for a policy with its defaults.
func unreachableByEveryStep(p Policy) bool {
	if p.MaxRestarts < 0 {
		return false
	}
	var sum time.Duration
	b := p.Backoff
	for range p.MaxRestarts {
		sum = addSaturating(sum, b)
		if sum > p.Window {
			return true
		}
		b = doubled(b, p.MaxBackoff)
	}
	return false
}

// Unreachable answers as adding every restart's backoff does, and at once
// for a policy of a billion restarts.
func TestPolicyUnreachableCountsTheCappedTailAtOnce(t *testing.T) {
	for maxRestarts := -1; maxRestarts <= 12; maxRestarts++ {
		for _, backoff := range []time.Duration{1, 3, 7, time.Second, 5 * time.Second, math.MaxInt64 / 3, math.MaxInt64} {
			for _, maxBackoff := range []time.Duration{1, 4, 9, 2 * time.Second, 20 * time.Second, math.MaxInt64 / 2, math.MaxInt64} {
				for _, window := range []time.Duration{1, 10, 29, 30, 31, 3 * time.Second, 30 * time.Second, time.Minute, math.MaxInt64 - 1, math.MaxInt64} {
					p := Policy{MaxRestarts: maxRestarts, Window: window, Backoff: backoff, MaxBackoff: maxBackoff}.WithDefaults()
					assert.Equal(t, unreachableByEveryStep(p), p.Unreachable(), "%+v", p)
				}
			}
		}
	}
	start := time.Now()
	assert.False(t, Policy{MaxRestarts: math.MaxInt, Backoff: 1, MaxBackoff: 1, Window: time.Duration(math.MaxInt64)}.Unreachable())
	assert.True(t, Policy{MaxRestarts: math.MaxInt, Backoff: 1, MaxBackoff: 1, Window: time.Hour}.Unreachable())
	assert.Less(t, time.Since(start), time.Second)
}
