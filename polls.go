package servicemesh

// Polls: the waiting resolvers by when their next poll is due, in buckets
// by due time. Guarded by scheduler.mu (scheduler.go).

import (
	"container/heap"
	"time"
)

// alignPoll returns how long to wait for the next poll: at most poll, ending
// on a multiple of poll since the mesh was made. Aligned, the polls of a
// thousand waiting services fall due together and the scheduler wakes once
// for all of them.
func (m *mesh) alignPoll(now time.Time, poll time.Duration) time.Duration {
	since := now.Sub(m.epoch)
	wait := poll - since%poll
	if wait <= 0 {
		wait = poll
	}
	return wait
}

// pollBuckets keeps waiting entries by when their next poll is due. Polls
// are aligned on a grid, so thousands of entries share a few due times: each
// due time has a bucket, found through a min-heap of the due times, and an
// entry is added to, removed from, and taken with its bucket in constant
// time. Guarded by scheduler.mu.
type pollBuckets struct {
	buckets map[int64][]*entry // by due time (UnixNano); entry.pollIndex is its index there
	times   dueTimes           // the due times that have a bucket
	spare   [][]*entry         // emptied buckets, kept for reuse: no garbage per poll
}

func (p *pollBuckets) add(e *entry) {
	if p.buckets == nil {
		p.buckets = make(map[int64][]*entry)
	}
	k := e.due.UnixNano()
	b, ok := p.buckets[k]
	if !ok {
		heap.Push(&p.times, k)
		if n := len(p.spare); n > 0 {
			b, p.spare = p.spare[n-1], p.spare[:n-1]
		}
	}
	e.pollIndex = len(b)
	p.buckets[k] = append(b, e)
}

// remove takes e out of its bucket, if it is in one; an emptied bucket stays
// until its time comes (takeDue drops it).
func (p *pollBuckets) remove(e *entry) {
	if e.pollIndex < 0 {
		return
	}
	k := e.due.UnixNano()
	b := p.buckets[k]
	last := len(b) - 1
	b[e.pollIndex] = b[last]
	b[e.pollIndex].pollIndex = e.pollIndex
	b[last] = nil
	p.buckets[k] = b[:last]
	e.pollIndex = -1
}

// next returns the earliest due time of a non-empty bucket.
func (p *pollBuckets) next() (time.Time, bool) {
	for len(p.times) > 0 {
		k := p.times[0]
		if len(p.buckets[k]) > 0 {
			return time.Unix(0, k), true
		}
		heap.Pop(&p.times)
		delete(p.buckets, k)
	}
	return time.Time{}, false
}

// takeDue removes every entry due by now and passes each to got, which
// must not add to p.
func (p *pollBuckets) takeDue(now time.Time, got func(*entry)) {
	n := now.UnixNano()
	for len(p.times) > 0 && p.times[0] <= n {
		k := heap.Pop(&p.times).(int64)
		b := p.buckets[k]
		delete(p.buckets, k)
		for i, e := range b {
			e.pollIndex = -1
			b[i] = nil
			got(e)
		}
		if cap(b) > 0 && len(p.spare) < 8 {
			p.spare = append(p.spare, b[:0])
		}
	}
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
