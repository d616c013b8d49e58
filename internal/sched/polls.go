package sched

// Polls: the waiters by when their next poll is due, in buckets by due
// time. Guarded by Scheduler.mu.

import (
	"container/heap"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// alignPoll returns how long to wait for w's next poll: at most poll,
// ending on the grid of w's phase, poll apart. Aligned, the polls of many
// waiting services fall due together and the scheduler wakes once for all
// of them. With 2*pollSlotSize waiting or more, they are spread over up to
// maxPollSlots phases (one per pollSlotSize waiting), so that services
// whose outside dependency appears are not all found in one pass with
// their Inits queued behind each other: each is found within its own
// poll, however many wait. The caller holds mu.
func (s *Scheduler[D]) alignPoll(w *Waiter[D], now time.Time, poll time.Duration) time.Duration {
	since := now.Sub(s.cfg.Epoch)
	if slots := min(s.nwaiting.Load()/pollSlotSize, maxPollSlots); slots > 1 {
		since -= time.Duration(int64(w.seq)/pollSlotSize%slots) * (timing.MaxPoll / time.Duration(slots))
	}
	wait := poll - since%poll
	if wait > poll { // since was negative
		wait -= poll
	}
	if wait <= 0 {
		wait = poll
	}
	return wait
}

const (
	// pollSlotSize is how many waiting services share one phase of polls.
	pollSlotSize = 512
	// maxPollSlots bounds the phases, so that the scheduler wakes for polls
	// at most every timing.MaxPoll/maxPollSlots (1 ms).
	maxPollSlots = 40
)

// pollBuckets keeps waiters by when their next poll is due. Polls
// are aligned on a grid, so thousands of waiters share a few due times: each
// due time has a bucket, found through a min-heap of the due times, and a
// waiter is added to, removed from, and taken with its bucket in constant
// time. Guarded by Scheduler.mu.
type pollBuckets[D any] struct {
	buckets map[int64]*bucket[D] // by due time (UnixNano)
	times   dueTimes             // the due times that have a bucket
	spare   []*bucket[D]         // emptied buckets, kept for reuse: no garbage per poll
	// last is the bucket added to last, and lastKey its due time: the
	// waiters of one poll mostly go to the same next bucket, without a
	// map lookup each.
	last    *bucket[D]
	lastKey int64
}

// bucket is the waiters whose poll is due at one time; Waiter.pollIndex is
// a waiter's index in it.
type bucket[D any] struct{ waiters []*Waiter[D] }

func (p *pollBuckets[D]) add(w *Waiter[D]) {
	k := w.due
	b := p.last
	if b == nil || k != p.lastKey {
		if p.buckets == nil {
			p.buckets = make(map[int64]*bucket[D])
		}
		var ok bool
		if b, ok = p.buckets[k]; !ok {
			heap.Push(&p.times, k)
			if n := len(p.spare); n > 0 {
				b, p.spare = p.spare[n-1], p.spare[:n-1]
			} else {
				b = new(bucket[D])
			}
			p.buckets[k] = b
		}
		p.last, p.lastKey = b, k
	}
	w.pollIndex = len(b.waiters)
	b.waiters = append(b.waiters, w)
}

// remove takes w out of its bucket, if it is in one; an emptied bucket stays
// until its time comes (takeDue drops it).
func (p *pollBuckets[D]) remove(w *Waiter[D]) {
	if w.pollIndex < 0 {
		return
	}
	k := w.due
	b := p.last
	if b == nil || k != p.lastKey {
		b = p.buckets[k]
	}
	last := len(b.waiters) - 1
	b.waiters[w.pollIndex] = b.waiters[last]
	b.waiters[w.pollIndex].pollIndex = w.pollIndex
	b.waiters[last] = nil
	b.waiters = b.waiters[:last]
	w.pollIndex = -1
}

// next returns the earliest due time of a non-empty bucket.
func (p *pollBuckets[D]) next() (time.Time, bool) {
	for len(p.times) > 0 {
		k := p.times[0]
		if len(p.buckets[k].waiters) > 0 {
			return time.Unix(0, k), true
		}
		heap.Pop(&p.times)
		p.drop(k)
	}
	return time.Time{}, false
}

// takeDue removes every waiter due by now and passes each to got, which
// must not add to p.
func (p *pollBuckets[D]) takeDue(now time.Time, got func(*Waiter[D])) {
	n := now.UnixNano()
	for len(p.times) > 0 && p.times[0] <= n {
		k := heap.Pop(&p.times).(int64)
		b := p.buckets[k]
		// Out of the map first: got may add waiters, never to a due time
		// already past, so never to b.
		p.drop(k)
		for i, w := range b.waiters {
			w.pollIndex = -1
			b.waiters[i] = nil
			got(w)
		}
		b.waiters = b.waiters[:0]
		if len(p.spare) < 8 {
			p.spare = append(p.spare, b)
		}
	}
}

// drop forgets the bucket of due time k, which has left the heap.
func (p *pollBuckets[D]) drop(k int64) {
	if p.last != nil && p.lastKey == k {
		p.last = nil
	}
	delete(p.buckets, k)
}

// dueTimes is a min-heap of due times.
type dueTimes []int64

func (h dueTimes) Len() int { return len(h) }

func (h dueTimes) Less(i, j int) bool { return h[i] < h[j] }

func (h dueTimes) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *dueTimes) Push(x any) { *h = append(*h, x.(int64)) }

func (h *dueTimes) Pop() any {
	old := *h
	k := old[len(old)-1]
	*h = old[:len(old)-1]
	return k
}
