package fanout

// Delivery of one event to its listeners: one after another on the
// emitting goroutine, with a watchdog that hands the rest on to another
// goroutine when one listener stalls.

import (
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh/internal/timing"
)

// Deliver calls every listener in ls with args and returns when all have
// returned. It calls them one after another on this goroutine; when one
// takes longer than one to two timing.HandlerStall, the rest go on on another
// goroutine, and so on, so that a listener that waits for something that a
// later listener of the same event does (or that blocks for long) holds up
// the others for that long only. It does not recover panics: each Fn is
// guarded by whoever made it.
func Deliver(ls []*Listener, args []any) {
	switch len(ls) {
	case 0:
		return
	case 1:
		ls[0].Fn(args...)
		return
	}
	d := &delivery{ls: ls, args: args, done: make(chan struct{}), seen: -1}
	d.left.Store(int64(len(ls)))
	d.timer.Store(time.AfterFunc(timing.HandlerStall, d.check))
	d.work()
	<-d.done
	d.over.Store(true)
	d.timer.Load().Stop()
}

// delivery is one call of Deliver. Its counters are shared by the goroutines
// that work on it and its watchdog.
type delivery struct {
	ls   []*Listener
	args []any
	next atomic.Int64 // the next listener to call
	left atomic.Int64 // listeners not yet returned
	done chan struct{}

	over  atomic.Bool                // Deliver has returned
	timer atomic.Pointer[time.Timer] // the watchdog's next check
	seen  int64                      // next at the last check; only check uses it
}

// work calls listeners until none is left to call.
func (d *delivery) work() {
	for {
		i := int(d.next.Add(1) - 1)
		if i >= len(d.ls) {
			return
		}
		d.ls[i].Fn(d.args...)
		if d.left.Add(-1) == 0 {
			close(d.done)
		}
	}
}

// check is the watchdog: when no listener was taken up since the last check
// and some remain, another goroutine goes on with them.
func (d *delivery) check() {
	if d.over.Load() || d.left.Load() == 0 {
		return
	}
	if n := d.next.Load(); n == d.seen && int(n) < len(d.ls) {
		go d.work()
	} else {
		d.seen = n
	}
	d.timer.Store(time.AfterFunc(timing.HandlerStall, d.check))
}
