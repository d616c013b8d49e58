package leader_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failoverRuns is how many fail-overs of each kind TestFailoverTimes
// measures (§11: 20).
const failoverRuns = 20

// crashBatch is how many crash fail-overs run at once, each in an election
// of its own: a crash fail-over waits for a lease to expire (about a TTL),
// so running them one after the other would take 20 TTLs.
const crashBatch = 10

// TestFailoverTimes measures 20 fail-overs by resignation and 20 by crash
// and logs the median and the worst of each (docs/replicas.md quotes them):
//
//	go test -run TestFailoverTimes -v ./leader/
//
// A resignation is timed from the old leader's Serve returning to the new
// one's starting (the resign, the watch telling the next in line, and its
// Serve starting); a crash from the old leader's client being closed to
// the new leader's Serve starting. The resignations also check that no
// two of 21 terms overlap and that their tokens strictly increase.
func TestFailoverTimes(t *testing.T) {
	endpoint := startEtcd(t)

	// Resign: three replicas whose job hands over after 30 ms.
	tr := newTracker()
	for _, name := range []string{"a", "b", "c"} {
		newReplica(t, name, endpoint, "/failover-times/resign/", &handingOver{job{replica: name, tr: tr, hold: 30 * time.Millisecond}})
	}
	for range failoverRuns + 1 {
		next(t, tr.started, 10*time.Second, "the next term")
	}
	terms, most := tr.snapshot()
	terms = terms[:failoverRuns+1]
	if terms[failoverRuns].end.IsZero() {
		x := next(t, tr.ended, 10*time.Second, "the last term's end")
		terms[failoverRuns].end = x.end
	}
	assert.Equal(t, 1, most, "one Serve at a time")
	requireNoOverlap(t, terms)
	var resign []time.Duration
	for i := 1; i < len(terms); i++ {
		resign = append(resign, terms[i].start.Sub(terms[i-1].end))
	}
	median, worst := stats(resign)
	t.Logf("resign: %d fail-overs: median %v, worst %v", len(resign), median, worst)
	assert.LessOrEqual(t, worst, resignBound)

	// Crash: pairs of replicas, each pair an election of its own; the
	// leader's client is closed without resigning.
	var crash []time.Duration
	var ttl time.Duration
	for batch := 0; batch < failoverRuns; batch += crashBatch {
		type run struct {
			tr      *tracker
			leader  *term
			crasher *replica // the leader's replica
			crashed time.Time
		}
		var runs []*run
		for i := batch; i < batch+crashBatch; i++ {
			r := &run{tr: newTracker()}
			prefix := fmt.Sprintf("/failover-times/crash/%d/", i)
			pair := []*replica{
				newReplica(t, "x", endpoint, prefix, &job{replica: "x", tr: r.tr}),
				newReplica(t, "y", endpoint, prefix, &job{replica: "y", tr: r.tr}),
			}
			ttl = grantedTTL(t, pair[0].client)
			r.leader = next(t, r.tr.started, 10*time.Second, "a first leader")
			r.crasher = byName(t, pair, r.leader.replica)
			runs = append(runs, r)
		}
		for _, r := range runs {
			r.crashed = time.Now()
			require.NoError(t, r.crasher.client.Close())
		}
		for _, r := range runs {
			for {
				x := next(t, r.tr.started, ttl+5*time.Second, "a new leader after a crash")
				if x.replica != r.leader.replica {
					crash = append(crash, x.start.Sub(r.crashed))
					break
				}
			}
			terms, most := r.tr.snapshot()
			assert.Equal(t, 1, most)
			requireNoOverlap(t, terms)
		}
	}
	median, worst = stats(crash)
	t.Logf("crash: %d fail-overs: median %v, worst %v (TTL %v)", len(crash), median, worst, ttl)
	assert.LessOrEqual(t, worst, ttl+time.Second)
}

// stats returns the median and the largest of ds.
func stats(ds []time.Duration) (median, worst time.Duration) {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2], s[len(s)-1]
}
