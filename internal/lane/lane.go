package lane

import (
	"sync"
	"sync/atomic"
	"time"
)

// Progress is what the lane reads of the item it runs, to tell a stuck item
// from a slow one. The item's runner writes it; the watchdog reads it
// without a lock. The zero value is an item that has not begun.
type Progress struct {
	// Steps is bumped at each step of the item's way (before and after each
	// call of code that may wait): the item is stuck while it stays still.
	Steps atomic.Uint32
	// InInit is set while the item is in a call that may run for as long as
	// it likes (a service's Init): the lane waits for it only
	// timing.LaneInitTicks ticks.
	InInit atomic.Bool
	// InUserCode is set while the item is in code that may wait (SetLogger,
	// event handlers): the lane waits timing.LaneStuckTicks ticks without
	// progress.
	InUserCode atomic.Bool
}

// Funcs are what a Lane calls. Run and Release are called on lane
// goroutines, HandedOn on the watchdog's, none of them with the lane's lock
// held; Progress is called with it held, and must only return a pointer.
type Funcs[T any] struct {
	// Run runs one item. It may end its goroutine with runtime.Goexit: the
	// lane goes on on a new goroutine.
	Run func(item T)
	// Progress returns the item's progress, which the item's runner writes
	// and the lane reads while the item runs.
	Progress func(item T) *Progress
	// Release is called once for each item run, once its Run is over: when
	// the lane goes on, after the next item has been taken off the queue,
	// so a caller that counts the items not yet released counts the lane's
	// goroutine too, without a gap. Nil: nothing is called.
	Release func()
	// HandedOn is told that the lane moved on without item, and why (for a
	// debug line). Nil: nothing is called.
	HandedOn func(item T, why Why)
}

// Why says why the lane moved on without the item it ran.
type Why uint8

const (
	// WhyInit: the item has been in Init (Progress.InInit) for
	// timing.LaneInitTicks ticks.
	WhyInit Why = iota + 1
	// WhyStuck: the item has been in code that may wait
	// (Progress.InUserCode) without progress for timing.LaneStuckTicks
	// ticks.
	WhyStuck
)

// Lane runs items in the order added (see the package comment). Set it up
// with Init before the first Add; its zero value is not ready. Its methods
// are safe for concurrent use; they never wait on an item.
//
// Its fields are guarded by mu, which is never held while Run, Release or
// HandedOn runs.
type Lane[T any] struct {
	funcs Funcs[T] // set by Init; read-only after

	mu      sync.Mutex
	queue   []T       // waiting to run, in the order added
	head    int       // queue[head:] are waiting
	running bool      // a lane goroutine owns the queue
	gen     uint64    // the owner's generation; bumped at each hand-on
	cur     T         // the item the owner runs, if any (curP != nil)
	curP    *Progress // cur's progress; nil when the owner runs none
	seen    uint32    // cur's steps at the last tick
	ticks   int       // ticks cur has spent in Init, or stuck
	ticking bool      // the watchdog is armed
	dog     *time.Timer
	closed  bool           // Close was called: no more ticks
	tickWG  sync.WaitGroup // armed or running ticks
}

// Init sets the functions the lane calls; Run and Progress are required.
// Call it once, before Add.
func (l *Lane[T]) Init(f Funcs[T]) {
	if f.Release == nil {
		f.Release = func() {}
	}
	l.funcs = f
}

// Add queues item, starting a lane goroutine if none runs, and arms the
// watchdog (unless closed).
func (l *Lane[T]) Add(item T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, item)
	if !l.running {
		l.start()
	}
	l.arm()
}

// start starts a lane goroutine of a new generation. The caller holds mu.
func (l *Lane[T]) start() {
	l.running = true
	l.gen++
	l.clearCur()
	go l.run(l.gen)
}

// run runs queued items while it owns the lane (its generation is the
// lane's), releasing each once the next is taken, and ends once the queue
// is empty or the lane was handed on.
func (l *Lane[T]) run(gen uint64) {
	var none T
	ran := false // an item was run whose Release is still due
	returned := false
	defer func() {
		if returned {
			return
		}
		// Run ended its goroutine with runtime.Goexit: its item is
		// released, and the lane goes on on a new goroutine.
		l.funcs.Release()
		l.mu.Lock()
		if l.gen == gen {
			l.handOn()
		}
		l.mu.Unlock()
	}()
	for {
		l.mu.Lock()
		switch {
		case l.gen != gen: // handed on while the last item ran
			l.mu.Unlock()
			l.funcs.Release()
			returned = true
			return
		case l.head == len(l.queue):
			l.queue, l.head = l.queue[:0], 0
			l.running = false
			l.clearCur()
			l.idle()
			l.mu.Unlock()
			if ran {
				l.funcs.Release()
			}
			returned = true
			return
		}
		item := l.queue[l.head]
		l.queue[l.head] = none // the queue keeps nothing alive
		l.head++
		l.cur, l.curP = item, l.funcs.Progress(item)
		l.seen, l.ticks = l.curP.Steps.Load(), 0
		l.mu.Unlock()
		if ran {
			l.funcs.Release()
		}
		l.funcs.Run(item)
		ran = true
	}
}

// handOn leaves the current item to its goroutine and lets a new one run
// the rest of the queue. The caller holds mu.
func (l *Lane[T]) handOn() {
	if l.head < len(l.queue) {
		l.start()
		return
	}
	l.running = false
	l.clearCur()
	l.gen++
	l.idle()
}

// clearCur records that the owner runs no item. The caller holds mu.
func (l *Lane[T]) clearCur() {
	var none T
	l.cur, l.curP = none, nil
}
