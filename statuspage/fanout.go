package statuspage

// fanout shares one subscription (servicemesh.Subscribe) among every
// events stream of a Handler: each change is encoded once, appended to a
// log, and each stream copies what it has not sent yet, at its own pace.
// So a change costs the mesh one subscriber and one encoding however many
// pages are open, and a slow client holds back no one but itself. The
// subscription is made when the first stream opens and canceled when the
// last one ends, so an idle handler holds nothing.

import (
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/gravestench/servicemesh"
)

const (
	// maxBehind is how many changes a stream may have to send before the
	// oldest are dropped for it (and it is told how many): as many as
	// servicemesh.Subscribe keeps for a subscriber.
	maxBehind = 10_000
	// trimEvery is how many changes are appended between two trims of the
	// log, each of which looks at every stream: its cost is spread thin.
	trimEvery = 1024
)

type fanout struct {
	m      servicemesh.Mesh
	errors bool // encode the errors of changes (ShowErrors)

	mu      sync.Mutex
	members []*stream
	cancel  func() // of the subscription; nil while there is none
	gen     uint64 // of the subscription: a late call of an old one is ignored
	heard   bool   // the subscription told something
	lagged  bool   // the subscription lost changes (servicemesh.ErrChangesLost)
	stopped bool   // "stopped" is in the log: nothing follows it
	meshMsg []byte // the last change of the mesh itself, encoded
	appends int    // since the last trim

	// The log: changes first, first+1, ... encoded back to back in data;
	// ends[i] is where change first+i ends in data.
	first uint64
	data  []byte
	ends  []int

	notify   chan struct{} // closed at the next append, if taken
	notified bool          // notify was taken by a waiting stream
}

// join adds s, its cursor at the end of the log, and subscribes if s is
// the first. It returns the mesh's state as last known, encoded, which s
// sends first (after its status), or nil.
func (f *fanout) join(s *stream) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = append(f.members, s)
	s.cursor = f.first + uint64(len(f.ends))
	if f.cancel == nil {
		f.gen++
		gen := f.gen
		// Subscribe calls fn on a goroutine of its own, never from here:
		// holding mu meanwhile only makes the first change wait for join.
		f.cancel = servicemesh.Subscribe(f.m, func(c servicemesh.Change) { f.tell(gen, c) })
	}
	return append([]byte(nil), f.meshMsg...)
}

// leave takes s out; the last one out cancels the subscription and clears
// the log.
func (f *fanout) leave(s *stream) {
	f.mu.Lock()
	for i, x := range f.members {
		if x == s {
			last := len(f.members) - 1
			f.members[i] = f.members[last]
			f.members[last] = nil
			f.members = f.members[:last]
			break
		}
	}
	var cancel func()
	if len(f.members) == 0 {
		cancel = f.cancel
		f.cancel = nil
		f.gen++
		f.heard, f.lagged, f.stopped = false, false, false
		f.meshMsg = nil
		f.first += uint64(len(f.ends))
		f.data, f.ends = nil, nil
	}
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// tell appends c to the log and wakes the streams that wait for it.
func (f *fanout) tell(gen uint64, c servicemesh.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.gen || f.stopped {
		return
	}
	f.heard = true
	if c.Err != nil && errors.Is(c.Err, servicemesh.ErrChangesLost) {
		f.lagged = true
	}
	start := len(f.data)
	f.data = appendMessage(f.data, c, f.errors)
	f.ends = append(f.ends, len(f.data))
	if c.Service == "" && c.Err == nil {
		f.meshMsg = append(f.meshMsg[:0], f.data[start:]...)
		f.stopped = c.Mesh == servicemesh.MeshStopped
	}
	if f.notified {
		close(f.notify)
		f.notify, f.notified = nil, false
	}
	if f.appends++; f.appends >= trimEvery {
		f.appends = 0
		f.trimLocked()
	}
}

// trimLocked drops the changes every stream has sent, and for a stream
// more than maxBehind changes behind, the oldest it has not: it learns
// how many when it next reads.
func (f *fanout) trimLocked() {
	last := f.first + uint64(len(f.ends))
	keep := last
	for _, s := range f.members {
		keep = min(keep, s.cursor)
	}
	if last-keep > maxBehind {
		keep = last - maxBehind
	}
	if keep <= f.first {
		return
	}
	drop := int(keep - f.first)
	off := f.ends[drop-1]
	f.data = f.data[:copy(f.data, f.data[off:])]
	n := copy(f.ends, f.ends[drop:])
	f.ends = f.ends[:n]
	for i := range f.ends {
		f.ends[i] -= off
	}
	f.first = keep
}

// wait returns a channel closed when s has something to read, or nil if
// it has now.
func (f *fanout) wait(s *stream) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || s.cursor < f.first+uint64(len(f.ends)) {
		return nil
	}
	if f.notify == nil {
		f.notify = make(chan struct{})
	}
	f.notified = true
	return f.notify
}

// read appends to dst what s has not sent yet, whole messages, about
// limit bytes at most (one message at least), after a message telling how
// many changes it lost if it fell too far behind, and reports whether the
// stream is over: it sent "stopped", the last change.
func (f *fanout) read(s *stream, dst []byte, limit int) (_ []byte, end bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.cursor < f.first {
		dst = appendLost(dst, f.first-s.cursor, time.Now())
		s.cursor = f.first
	}
	last := f.first + uint64(len(f.ends))
	if s.cursor < last {
		i := int(s.cursor - f.first)
		start := 0
		if i > 0 {
			start = f.ends[i-1]
		}
		rest := f.ends[i:]
		n := max(1, sort.Search(len(rest), func(k int) bool { return rest[k]-start > limit }))
		dst = append(dst, f.data[start:rest[n-1]]...)
		s.cursor += uint64(n)
	}
	return dst, f.stopped && s.cursor == last
}

// mayHaveMissedEnd reports whether the mesh may have stopped without the
// log being told. A live subscription is told the mesh's state at once,
// so one that told nothing was never made: the mesh was not made by New,
// or its shutdown completed between Subscribe and Status. And one that
// fell too far behind may have lost the mesh's last changes, "stopped"
// among them, for which Subscribe tells no loss once the mesh has stopped.
func (f *fanout) mayHaveMissedEnd() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.heard || f.lagged
}
