package servicemesh

// Subscribe: a typed stream of every lifecycle step of every service, and of
// the mesh's own readiness, to each subscriber in order on a goroutine of
// its own. The hub's fields are guarded by hub.mu, a leaf lock (nothing is
// locked under it but a subscriber's own mu, and no service code runs under
// either); a subscriber's queue by its mu.

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// maxBehind is how many changes a subscriber may have waiting before the
// next ones are counted as lost.
const maxBehind = 10_000

// Subscribe calls fn with every state change of every service of m (every
// step of its lifecycle, StateBackingOff, restarts and failures with their
// error), and of m itself: whenever Ready(m) changes — before Run too, and
// for changes from HasReadiness or a HealthCheck, looked at again every
// health-check cache period (a second) — and when the shutdown begins and
// when it has completed. It returns cancel, which stops the calls (a call
// under way finishes); cancel may be called more than once, and from fn.
//
// Each subscriber gets the changes in the order they happened, on a
// goroutine of its own: fn never blocks the mesh. A subscriber that falls
// more than 10,000 changes behind loses the ones after, and is then told
// how many (a Change whose Err wraps ErrChangesLost). A subscriber's first
// change is the mesh's state as last known, if any was. A panic in fn is
// recovered and logged, and the next change is delivered. Once the mesh has
// stopped, its last changes are delivered (the shutdown waits for them for
// at most a second) and the subscriber's goroutine ends.
//
// For a nil fn, a Mesh not made by New, or a mesh whose shutdown has
// completed, it does nothing and returns a cancel that does nothing.
func Subscribe(m Mesh, fn func(Change)) (cancel func()) {
	mm, ok := m.(*mesh)
	if !ok || fn == nil {
		return func() {}
	}
	return mm.hub.subscribe(mm, fn)
}

// changeHub is the mesh's part for Subscribe.
type changeHub struct {
	// subs is the subscribers, copied on write under mu; nil while there
	// are none, so that a step costs one load then.
	subs atomic.Pointer[[]*subscriber]
	mu   sync.Mutex // serializes a step with its telling while subscribers exist
	// Guarded by mu:
	mesh     MeshState // what subscribers were last told of the mesh, once told
	told     bool      // mesh was told once
	closed   bool      // the mesh has stopped: no more subscribers
	watching bool      // the readiness watcher runs
	// wake wakes the readiness watcher (cap 1): a step, or the end of a
	// lifecycle, may have changed Ready. Made by New.
	wake chan struct{}
}

// subscriber is one Subscribe.
type subscriber struct {
	fn     func(Change)
	mu     sync.Mutex // guards queue, lost, ended
	queue  []Change
	lost   int
	ended  bool          // no more changes come: leave once the queue is empty
	wake   chan struct{} // cap 1
	done   chan struct{} // closed by cancel
	exited chan struct{} // closed when its goroutine has ended
	once   sync.Once
}

func (h *changeHub) subscribe(m *mesh, fn func(Change)) func() {
	s := &subscriber{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return func() {}
	}
	old := h.subs.Load()
	var next []*subscriber
	if old != nil {
		next = append(next, *old...)
	}
	next = append(next, s)
	h.subs.Store(&next)
	if h.told { // the mesh's state as last known comes first
		s.queue = append(s.queue, Change{Time: time.Now(), Mesh: h.mesh})
	}
	startWatcher := !h.watching
	h.watching = true
	h.mu.Unlock()
	go m.deliverChanges(s)
	if startWatcher {
		m.busy.Add(1) // before stopping is read, as in startCheck
		if m.stopping.Load() {
			m.busyDone()
		} else {
			go m.watchMeshState()
		}
	}
	return func() { s.once.Do(func() { h.drop(s) }) }
}

// drop takes s out of the hub and ends its goroutine once fn returns.
func (h *changeHub) drop(s *subscriber) {
	h.mu.Lock()
	if old := h.subs.Load(); old != nil {
		var next []*subscriber
		for _, x := range *old {
			if x != s {
				next = append(next, x)
			}
		}
		if len(next) == 0 {
			h.subs.Store(nil)
		} else {
			h.subs.Store(&next)
		}
	}
	h.mu.Unlock()
	close(s.done)
}

// tellLocked queues c for every subscriber. The caller holds h.mu.
func (h *changeHub) tellLocked(c Change) {
	subs := h.subs.Load()
	if subs == nil {
		return
	}
	for _, s := range *subs {
		s.mu.Lock()
		switch {
		case len(s.queue) >= maxBehind && !(c.Service == "" && c.Mesh == MeshStopped):
			// The last change, that the mesh stopped, is always queued,
			// after the count of what was lost: a subscriber that fell
			// behind learns both.
			s.lost++
		default:
			if s.lost > 0 {
				s.queue = append(s.queue, lostChange(c.Time, s.lost))
				s.lost = 0
			}
			s.queue = append(s.queue, c)
		}
		s.mu.Unlock()
		poke(s.wake)
	}
	if c.Service != "" {
		poke(h.wake) // the mesh's readiness may have changed
	}
}

func lostChange(at time.Time, n int) Change {
	return Change{Time: at, Err: fmt.Errorf("servicemesh: a subscriber fell behind: %w: %d", ErrChangesLost, n)}
}

// stepTold is step and stepFrom's path while subscribers exist: the step
// and its telling under hub.mu, so every subscriber sees the steps of a
// service in the order they were taken. err is why, for a failure.
func (m *mesh) stepTold(e *entry, to State, err error, from ...State) bool {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var was State
	ok := false
	if len(from) == 0 {
		was, ok = e.lc.To(to)
	} else {
		for _, f := range from {
			if e.lc.Step(f, to) {
				was, ok = f, true
				break
			}
		}
	}
	if ok {
		h.tellLocked(Change{Time: time.Now(), Service: e.name, From: was, To: to, Err: err})
	}
	return ok
}

// tellMesh tells subscribers that the mesh is now in state s, unless they
// were told so last (nothing but stopped follows shutting down).
func (m *mesh) tellMesh(s MeshState) {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.told && (h.mesh == s || h.mesh == MeshStopped || (h.mesh == MeshShuttingDown && s != MeshStopped)) {
		return
	}
	h.mesh, h.told = s, true
	h.tellLocked(Change{Time: time.Now(), Mesh: s})
}

// watchMeshState tells subscribers when Ready(m) changes: after any step
// of a service, and every health-check cache period for changes the mesh
// hears of only by asking (HasReadiness, HealthCheck). It runs from the
// first Subscribe until the shutdown begins, counted in busy.
func (m *mesh) watchMeshState() {
	defer m.busyDone()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		if m.readyNow(m.ctx, false) {
			m.tellMesh(MeshReady)
		} else if !m.stopping.Load() {
			m.tellMesh(MeshNotReady)
		}
		t.Reset(timing.HealthCacheTTL)
		select {
		case <-m.down:
			return
		case <-m.hub.wake:
		case <-t.C:
		}
	}
}

// deliverChanges is a subscriber's goroutine: it calls fn with each change
// in order until canceled, or until the mesh has stopped and the queue is
// empty.
func (m *mesh) deliverChanges(s *subscriber) {
	defer close(s.exited)
	for {
		s.mu.Lock()
		batch, ended := s.queue, s.ended
		s.queue = nil
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case <-s.done:
				return
			default:
			}
			_ = m.guard("subscriber", "Subscribe's function", func() { s.fn(c) })
		}
		if len(batch) > 0 {
			continue
		}
		if ended {
			return
		}
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
	}
}

// closeHub tells subscribers that the mesh has stopped, lets their last
// changes be delivered (at most timing.TellBound for all of them), and ends
// their goroutines. Called once by the shutdown, as it completes.
func (m *mesh) closeHub() {
	m.tellMesh(MeshStopped)
	h := &m.hub
	h.mu.Lock()
	h.closed = true
	var subs []*subscriber
	if p := h.subs.Load(); p != nil {
		subs = *p
	}
	h.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	for _, s := range subs {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
		poke(s.wake)
	}
	t := time.NewTimer(timing.TellBound)
	defer t.Stop()
	for _, s := range subs {
		select {
		case <-s.exited:
		case <-s.done:
		case <-t.C:
			m.logger.Error("shutdown leaves behind a subscriber that has not returned", "waited", timing.TellBound)
			return
		}
	}
}
