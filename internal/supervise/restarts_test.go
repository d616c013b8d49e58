package supervise

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var errServe = errors.New("serve failed")

// step is one failure of a Serve in a table of Restarts: when its call
// began and when it failed, both from t0, and what Restarts says.
type step struct {
	began, failed time.Duration
	giveUp        bool
	within        int           // restarts counted within the window after Failed
	wait          time.Duration // the wait returned by Restart, when not giving up
}

func TestRestartsWindowAccounting(t *testing.T) {
	p := Policy{MaxRestarts: 3, Window: 10 * time.Second, Backoff: time.Second, MaxBackoff: 3 * time.Second, Jitter: -1}.WithDefaults()
	tests := []struct {
		name  string
		p     Policy
		steps []step
	}{
		{"gives up after MaxRestarts within the window, the backoff doubling to its cap", p, []step{
			{0, 0, false, 0, time.Second},
			{1 * time.Second, 1 * time.Second, false, 1, 2 * time.Second},
			{3 * time.Second, 3 * time.Second, false, 2, 3 * time.Second},
			{6 * time.Second, 6 * time.Second, true, 3, 0},
		}},
		{"restarts older than the window no longer count", p, []step{
			{0, 0, false, 0, time.Second},
			{1 * time.Second, 1 * time.Second, false, 1, 2 * time.Second},
			{3 * time.Second, 3 * time.Second, false, 2, 3 * time.Second},
			// 11 s after the first restart and 10 s after the second: the
			// first no longer counts, the second still does.
			{6 * time.Second, 11 * time.Second, false, 2, 3 * time.Second},
			{12 * time.Second, 12 * time.Second, false, 2, 3 * time.Second}, // the second is out
			{13 * time.Second, 13 * time.Second, true, 3, 0},                // 10 s after the third
		}},
		{"a Serve that ran longer than the window starts a clean count and the first backoff", p, []step{
			{0, 0, false, 0, time.Second},
			{1 * time.Second, 1 * time.Second, false, 1, 2 * time.Second},
			{3 * time.Second, 3 * time.Second, false, 2, 3 * time.Second},
			{6 * time.Second, 17 * time.Second, false, 0, time.Second},
			{18 * time.Second, 18 * time.Second, false, 1, 2 * time.Second},
		}},
		{"a run of exactly the window is no long run", Policy{MaxRestarts: 1, Window: 10 * time.Second, Backoff: time.Second, Jitter: -1}.WithDefaults(), []step{
			{0, 5 * time.Second, false, 0, time.Second},
			{5 * time.Second, 15 * time.Second, true, 1, 0}, // ran 10 s; the restart 10 s ago counts
		}},
		{"a policy that allows no restart gives up at once", Policy{MaxRestarts: -1}.WithDefaults(), []step{
			{0, time.Hour, true, 0, 0},
		}},
	}
	t0 := time.Unix(1_700_000_000, 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRestarts(tc.p)
			for i, s := range tc.steps {
				now := t0.Add(s.failed)
				assert.Equal(t, s.giveUp, r.Failed(t0.Add(s.began), now), "step %d: give up", i)
				assert.Len(t, r.at, s.within, "step %d: restarts within the window", i)
				if s.giveUp {
					break
				}
				assert.Equal(t, s.wait, r.Restart(now), "step %d: wait", i)
			}
		})
	}
}

func TestRestartsGiveUpError(t *testing.T) {
	r := NewRestarts(Policy{MaxRestarts: 2, Window: time.Minute, Jitter: -1}.WithDefaults())
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		now := t0.Add(time.Duration(i) * time.Second)
		if r.Failed(now, now) {
			break
		}
		r.Restart(now)
	}
	err := r.GiveUpError(errServe)
	assert.ErrorIs(t, err, errServe)
	assert.EqualError(t, err, "gave up after 2 restarts within 1m0s: serve failed")

	never := NewRestarts(Policy{MaxRestarts: -1}.WithDefaults())
	assert.True(t, never.Failed(t0, t0))
	err = never.GiveUpError(errServe)
	assert.ErrorIs(t, err, errServe)
	assert.EqualError(t, err, "gave up: its policy allows no restart: serve failed")
}

// The wait is jittered within the policy's fraction, and never zero.
func TestRestartsWaitIsJittered(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	for range 100 {
		r := NewRestarts(Policy{MaxRestarts: 100, Backoff: time.Second, Jitter: 0.5}.WithDefaults())
		r.Failed(t0, t0)
		w := r.Restart(t0)
		assert.GreaterOrEqual(t, w, 500*time.Millisecond)
		assert.LessOrEqual(t, w, 1500*time.Millisecond)
	}
}
