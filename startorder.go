package servicemesh

import (
	"sync"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Inits of services without dependencies begin in the order the services
// were added: programs written for the original library rely on it (a
// configuration service added first is initialized first). The lifecycles
// of such services run one after another, in the order added, on one
// goroutine of the mesh, the lane: an Init that returns quickly is over
// before the next service's lifecycle begins.
//
// A service may run its loop inside Init, and a handler may wait for
// something that only a later service provides, so the lane never waits on
// one service for long: when the service it runs has been in Init for 2 to
// 3 ms (timing.LaneInitTicks), or inside SetLogger or its event handlers without
// progress for about 50 ms (timing.LaneStuckTicks), the lane moves on to a new
// goroutine and leaves that service to finish on the old one. That is what
// may still let a later Init begin before an earlier one has returned, or
// (for a handler that waits) before it has begun; the mesh says so at level
// Debug. A handler that merely takes a while delays the later services for
// as long.
//
// A service with dependencies runs its lifecycle on a goroutine of its own
// and begins its Init whenever its dependencies are resolved; so does a
// service added again while its previous lifecycle still runs.

// lane runs lifecycles in the order added. Its fields are guarded by mu,
// which is never held while service code runs.
type lane struct {
	mu      sync.Mutex
	queue   []*entry // waiting to run, in the order added
	head    int      // queue[head:] are waiting
	running bool     // a lane goroutine owns the queue
	gen     uint64   // the owner's generation; bumped at each hand-on
	cur     *entry   // the entry the owner runs, if any
	seen    uint32   // cur's steps at the last tick
	ticks   int      // ticks cur has spent in Init, or stuck
	ticking bool     // the watchdog is armed
	dog     *time.Timer
	closed  bool           // the shutdown completed: no more ticks
	tickWG  sync.WaitGroup // armed or running ticks
}

// enqueue adds e to the lane, starting a lane goroutine if none runs.
func (m *mesh) enqueue(e *entry) {
	l := &m.lane
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, e)
	if !l.running {
		m.startLane()
	}
	m.armLaneWatchdog()
}

// startLane starts a lane goroutine of a new generation. The caller holds
// lane.mu.
func (m *mesh) startLane() {
	l := &m.lane
	l.running = true
	l.gen++
	l.cur = nil
	go m.runLane(l.gen)
}

// runLane runs queued lifecycles while it owns the lane. It is counted in
// busy through the entries it runs: each entry's count, taken by Add, is
// released here once its lifecycle is over (and by the lifecycle itself
// while Init runs), so that the goroutine ends right after the last one.
func (m *mesh) runLane(gen uint64) {
	l := &m.lane
	var done *entry // the entry whose count is still held
	returned := false
	defer func() {
		if returned {
			return
		}
		// Service code called runtime.Goexit on the lane (its lifecycle
		// reported it): the count of the entry it ran is released, and
		// the lane goes on on a new goroutine.
		m.busyDone()
		l.mu.Lock()
		if l.gen == gen {
			m.handOn()
		}
		l.mu.Unlock()
	}()
	for {
		l.mu.Lock()
		switch {
		case l.gen != gen: // handed on while the last service ran
			l.mu.Unlock()
			m.busyDone()
			returned = true
			return
		case l.head == len(l.queue):
			l.queue, l.head = l.queue[:0], 0
			l.running, l.cur = false, nil
			m.idleLaneWatchdog()
			l.mu.Unlock()
			if done != nil {
				m.busyDone()
			}
			returned = true
			return
		}
		e := l.queue[l.head]
		l.queue[l.head] = nil
		l.head++
		l.cur, l.seen, l.ticks = e, e.steps.Load(), 0
		l.mu.Unlock()
		if done != nil {
			m.busyDone()
		}
		m.lifecycle(e)
		done = e
	}
}

// armLaneWatchdog arms the watchdog's next tick unless armed. The caller
// holds lane.mu.
func (m *mesh) armLaneWatchdog() {
	if m.lane.ticking {
		return
	}
	if m.lane.closed {
		return
	}
	m.lane.ticking = true
	m.lane.tickWG.Add(1) // an armed tick is waited for by closeLane
	if m.lane.dog == nil {
		m.lane.dog = time.AfterFunc(timing.LaneTick, m.laneWatchdog)
	} else {
		m.lane.dog.Reset(timing.LaneTick)
	}
}

// idleLaneWatchdog stops the tick when the lane goes idle. The caller holds lane.mu.
func (m *mesh) idleLaneWatchdog() {
	if m.lane.ticking && m.lane.dog.Stop() {
		m.lane.ticking = false
		m.lane.tickWG.Done()
	}
}

// closeLane stops the lane's watchdog for good once the shutdown has
// stopped the services, and waits for a tick under way.
func (m *mesh) closeLane() {
	l := &m.lane
	l.mu.Lock()
	l.closed = true
	m.idleLaneWatchdog()
	l.mu.Unlock()
	l.tickWG.Wait()
}

// laneWatchdog hands the lane on to a new goroutine when the service it
// runs is in Init for timing.LaneInitTicks, or stuck in service code for
// timing.LaneStuckTicks.
func (m *mesh) laneWatchdog() {
	defer m.lane.tickWG.Done()
	var left, why string // what to log, after the lock: the log handler is the application's
	l := &m.lane
	l.mu.Lock()
	l.ticking = false
	if !l.running {
		l.mu.Unlock()
		return
	}
	if e := l.cur; e != nil {
		switch now := e.steps.Load(); {
		case e.inInit.Load():
			l.ticks++
			if l.ticks >= timing.LaneInitTicks {
				left, why = e.name, "its Init has not returned"
				m.handOn()
			}
		case e.inUserCode.Load() && now == l.seen:
			l.ticks++
			if l.ticks >= timing.LaneStuckTicks {
				left, why = e.name, "it is stuck in SetLogger or its event handlers"
				m.handOn()
			}
		default:
			l.seen, l.ticks = now, 0
		}
	}
	m.armLaneWatchdog()
	l.mu.Unlock()
	if left != "" {
		m.debug("later services go ahead of one that is still on its way", "subject", left, "because", why)
	}
}

// handOn leaves the current service to its goroutine and lets a new one run
// the rest of the queue. The caller holds lane.mu.
func (m *mesh) handOn() {
	l := &m.lane
	if l.head < len(l.queue) {
		m.startLane()
		return
	}
	l.running, l.cur = false, nil
	l.gen++
	m.idleLaneWatchdog()
}
