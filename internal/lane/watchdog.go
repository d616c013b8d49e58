package lane

import (
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// The watchdog: one reusable timer that ticks every timing.LaneTick while
// the lane has work, and hands the lane on when the item it runs has been
// in Init for timing.LaneInitTicks ticks, or in code that may wait without
// progress for timing.LaneStuckTicks. An armed or running tick is counted
// in tickWG, so that Close can wait for it: after Close, no tick is armed
// and none runs.

// arm arms the watchdog's next tick unless armed or closed. The caller
// holds mu.
func (l *Lane[T]) arm() {
	if l.ticking || l.closed {
		return
	}
	l.ticking = true
	l.tickWG.Add(1) // an armed tick is waited for by Close
	if l.dog == nil {
		l.dog = time.AfterFunc(timing.LaneTick, l.tick)
	} else {
		l.dog.Reset(timing.LaneTick)
	}
}

// idle stops the tick when the lane goes idle. The caller holds mu.
func (l *Lane[T]) idle() {
	if l.ticking && l.dog.Stop() {
		l.ticking = false
		l.tickWG.Done()
	}
}

// Close stops the watchdog for good, and waits for a tick under way: once
// it returns, no timer of the lane is armed and no tick runs. Items still
// queued or running go on (the lane just no longer moves on from a stuck
// one); Add after Close runs items without a watchdog. Close may be called
// more than once.
func (l *Lane[T]) Close() {
	l.mu.Lock()
	l.closed = true
	l.idle()
	l.mu.Unlock()
	l.tickWG.Wait()
}

// Armed reports whether the watchdog's next tick is armed: false once the
// lane is idle or closed.
func (l *Lane[T]) Armed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ticking
}

// tick hands the lane on to a new goroutine when the item it runs is in
// Init for timing.LaneInitTicks, or stuck for timing.LaneStuckTicks, and
// arms the next tick. HandedOn is called after the lock is released: it
// may log through the application's handler.
func (l *Lane[T]) tick() {
	defer l.tickWG.Done()
	var left T // what to tell, after the lock
	var why Why
	l.mu.Lock()
	l.ticking = false
	if !l.running {
		l.mu.Unlock()
		return
	}
	if p := l.curP; p != nil {
		switch now := p.Steps.Load(); {
		case p.InInit.Load():
			l.ticks++
			if l.ticks >= timing.LaneInitTicks {
				left, why = l.cur, WhyInit
				l.handOn()
			}
		case p.InUserCode.Load() && now == l.seen:
			l.ticks++
			if l.ticks >= timing.LaneStuckTicks {
				left, why = l.cur, WhyStuck
				l.handOn()
			}
		default:
			l.seen, l.ticks = now, 0
		}
	}
	l.arm()
	l.mu.Unlock()
	if why != 0 && l.funcs.HandedOn != nil {
		l.funcs.HandedOn(left, why)
	}
}
