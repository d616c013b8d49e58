package servicemesh_test

// Extras in the randomized stress test (stress_test.go): services removed
// and added again (the very same pointer, sometimes while the removal is
// still being told), and services of zero size (pointers to empty structs,
// which are never duplicates of each other: design §3). Both may serve
// (stress_serve_test.go). They are recorded in the round's log with their
// own events and checked by checkExtras, not by check's model of the other
// services, which skips them.

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

const (
	stressOpReAdd      stressOpKind = stressOpAwaitServe + 1 + iota // remove an extra if added, add it again
	stressOpZeroAdd                                                 // add a zero-size service
	stressOpZeroRemove                                              // remove a zero-size service
)

const (
	stressEvXAddCall      stressEv = stressEvServeEnd + 1 + iota // an extra's Add is about to be called
	stressEvXAddReturn                                           // it returned
	stressEvXAddWaited                                           // its WaitGroup is done
	stressEvXRemoveCall                                          // an extra's Remove is about to be called
	stressEvXRemoveReturn                                        // it returned
	stressEvXSetLogger                                           // an extra's SetLogger was called
	stressEvXInitStart                                           // an extra's Init began
	stressEvXInitEnd                                             // it is about to return normally
	stressEvXInitPanic                                           // it is about to panic
	stressEvXStopStart                                           // an extra's OnShutdown began
	stressEvXStopEnd                                             // it is about to return
	stressEvXHeardAdded                                          // a handler (svc) heard one added again added
	stressEvXHeardRemoved                                        // a handler (svc) heard one added again removed
)

// stressX is an extra: a service added again after removal (zero 0; the
// mesh is handed svc each time), or a kind of zero-size service (zero 1 or
// 2), which stands for every service of that kind in the round.
type stressX struct {
	r       *stressRound
	name    string
	zero    int
	panics  bool          // Init panics
	work    time.Duration // in Init, as stressSvc's initWork
	srv     *stressServer // nil: no Serve
	svc     servicemesh.Service
	logger  atomic.Pointer[slog.Logger]
	busy    atomic.Int32 // SetLogger or Init running
	serving atomic.Int32 // Serves running
	opMu    sync.Mutex
	added   bool // its last operation was an Add; guarded by opMu
}

type (
	stressXPlain     struct{ *stressX }
	stressXServe     struct{ *stressX }
	stressZeroServe  struct{}
	stressZeroRemove struct{}
)

func (x stressXServe) Serve(ctx context.Context) error { return x.srv.serve(ctx, x.r, nil, x.stressX) }

// stressRounds is the round under way, for the callbacks of zero-size
// services, which can keep nothing; stressStray counts those that come
// after their round.
var (
	stressRounds atomic.Pointer[stressRound]
	stressStray  atomic.Int64
)

func stressZero(k int) *stressX {
	if r := stressRounds.Load(); r != nil {
		return r.more.zeros[k]
	}
	stressStray.Add(1)
	return nil
}

func (*stressZeroServe) Name() string  { return "zero-serve" }
func (*stressZeroServe) stressExtra()  {}
func (*stressZeroRemove) Name() string { return "zero-remove" }
func (*stressZeroRemove) stressExtra() {}

func (*stressZeroServe) Init(m servicemesh.Mesh) {
	if x := stressZero(1); x != nil {
		x.Init(m)
	}
}

func (*stressZeroServe) OnShutdown() {
	if x := stressZero(1); x != nil {
		x.OnShutdown()
	}
}

func (*stressZeroServe) Serve(ctx context.Context) error {
	if x := stressZero(1); x != nil {
		return x.srv.serve(ctx, x.r, nil, x)
	}
	return nil
}

func (*stressZeroRemove) Init(m servicemesh.Mesh) {
	if x := stressZero(2); x != nil {
		x.Init(m)
	}
}

func (*stressZeroRemove) OnShutdown() {
	if x := stressZero(2); x != nil {
		x.OnShutdown()
	}
}

func (x *stressX) stressExtra()         {}
func (x *stressX) Name() string         { return x.name }
func (x *stressX) Logger() *slog.Logger { return x.logger.Load() }

// enter notes that a method of x, added again, runs. SetLogger and Init
// never run concurrently with each other (OnShutdown may run with Init:
// shutdown does not wait for Inits), and none of them while a Serve of an
// earlier Add still runs: "its methods never run concurrently with
// themselves" (Mesh.Add).
func (x *stressX) enter(what string) func() {
	if x.zero != 0 {
		return func() {}
	}
	exclusive := what != "OnShutdown"
	if exclusive && x.busy.Add(1) > 1 {
		x.r.fault("%s: %s ran concurrently with its SetLogger or Init", x.name, what)
	}
	if x.serving.Load() > 0 {
		x.r.fault("%s: %s ran while a Serve of it still ran (it was added again after a removal)", x.name, what)
	}
	return func() {
		if exclusive {
			x.busy.Add(-1)
		}
	}
}

func (x *stressX) SetLogger(l *slog.Logger) {
	defer x.enter("SetLogger")()
	x.r.recAux(stressEvXSetLogger, nil, &stressAux{x: x})
	x.logger.Store(l)
}

func (x *stressX) Init(m servicemesh.Mesh) {
	defer x.enter("Init")()
	x.r.recAux(stressEvXInitStart, nil, &stressAux{x: x})
	if m != x.r.mesh {
		x.r.fault("%s: Init was handed a mesh other than the one it was added to", x.name)
	}
	if x.panics {
		x.r.recAux(stressEvXInitPanic, nil, &stressAux{x: x})
		panic("stress: Init of " + x.name + " panics")
	}
	stressWork(x.work)
	x.r.recAux(stressEvXInitEnd, nil, &stressAux{x: x})
}

func (x *stressX) OnShutdown() {
	defer x.enter("OnShutdown")()
	x.r.recAux(stressEvXStopStart, nil, &stressAux{x: x})
	stressWork(-1)
	x.r.recAux(stressEvXStopEnd, nil, &stressAux{x: x})
}

// recHandler records a handler's call; of one about an extra, only that a
// service added again was heard added or removed.
func (r *stressRound) recHandler(ev stressEv, owner *stressSvc, s servicemesh.Service) {
	if !stressIsExtra(s) {
		r.rec(ev, owner, r.coreOf(s), nil)
		return
	}
	for _, x := range r.more.readd {
		switch {
		case s != x.svc:
		case ev == stressEvOnAdded:
			r.recAux(stressEvXHeardAdded, owner, &stressAux{x: x})
		case ev == stressEvOnRemoved:
			r.recAux(stressEvXHeardRemoved, owner, &stressAux{x: x})
		}
	}
}

func stressIsExtra(s servicemesh.Service) bool {
	_, ok := s.(interface{ stressExtra() })
	return ok
}

// stressWithoutExtras returns the services of list that are not extras.
func stressWithoutExtras(list []servicemesh.Service) []servicemesh.Service {
	var out []servicemesh.Service
	for _, s := range list {
		if !stressIsExtra(s) {
			out = append(out, s)
		}
	}
	return out
}

// planMore makes the round's extras and returns the operations on them and
// those of stress_serve_test.go.
func (r *stressRound) planMore(rng *rand.Rand, nSvc int) []stressOp {
	r.more.zeros[1] = &stressX{r: r, name: "zero-serve", zero: 1, srv: &stressServer{
		plan: []stressOutcome{stressServeBlock}, blocking: make(chan struct{}), sups: map[context.Context]*[2]int{}}}
	r.more.zeros[2] = &stressX{r: r, name: "zero-remove", zero: 2}
	stressRounds.Store(r)
	var ops []stressOp
	for i := range 1 + rng.IntN(3) {
		x := &stressX{r: r, name: "again" + strconv.Itoa(i), panics: rng.IntN(8) == 0, work: stressRandomWork(rng)}
		if rng.IntN(3) == 0 { // an Init long enough to be removed, and added again, while it runs
			x.work = time.Duration(500+rng.IntN(1500)) * time.Microsecond
		}
		x.svc = &stressXPlain{x}
		if x.srv = r.newServer(rng, false); x.srv != nil {
			x.svc = &stressXServe{x}
		}
		r.more.readd = append(r.more.readd, x)
		for range 1 + rng.IntN(5) {
			ops = append(ops, stressOp{kind: stressOpReAdd, n: uint64(i) | rng.Uint64()<<8})
		}
	}
	for range rng.IntN(4) + rng.IntN(4) {
		ops = append(ops, stressOp{kind: stressOpZeroAdd, n: rng.Uint64()})
	}
	for range rng.IntN(3) {
		ops = append(ops, stressOp{kind: stressOpZeroRemove})
	}
	for range rng.IntN(nSvc/3 + 1) {
		ops = append(ops, stressOp{kind: stressOpAwaitServe, n: rng.Uint64()})
	}
	return ops
}

// addX adds svc, which x stands for, and waits for its WaitGroup if wait.
func (r *stressRound) addX(x *stressX, svc servicemesh.Service, wait bool) {
	r.recAux(stressEvXAddCall, nil, &stressAux{x: x})
	wg := r.mesh.Add(svc)
	r.recAux(stressEvXAddReturn, nil, &stressAux{x: x})
	r.keepWG("Add("+x.name+")", wg)
	if !wait {
		return
	}
	if !stressWait(wg, stressWaitBound) {
		r.fault("%s: Add's WaitGroup not done within %v", x.name, stressWaitBound)
		return
	}
	r.recAux(stressEvXAddWaited, nil, &stressAux{x: x})
}

// reAdd removes x if it was added and, unless n says to leave it removed,
// adds it again: at once, or once the removal is over; sometimes twice.
func (r *stressRound) reAdd(x *stressX, n uint64) {
	x.opMu.Lock()
	defer x.opMu.Unlock()
	for range n / 12 % 2 {
		r.reAddLocked(x, 2)
	}
	r.reAddLocked(x, n)
}

// reAddLocked is reAdd once; the caller holds x.opMu.
func (r *stressRound) reAddLocked(x *stressX, n uint64) {
	if x.added {
		x.added = false
		r.recAux(stressEvXRemoveCall, nil, &stressAux{x: x})
		wg := r.mesh.Remove(x.svc)
		r.recAux(stressEvXRemoveReturn, nil, &stressAux{x: x})
		r.keepWG("Remove("+x.name+")", wg)
		switch n % 4 {
		case 0:
			return
		case 1:
			stressWait(wg, stressWaitBound)
		}
	}
	x.added = true
	r.addX(x, x.svc, n/4%3 == 0)
}

// lateMore adds extras after shutdown completed: they are ignored.
func (r *stressRound) lateMore() {
	r.addX(r.more.zeros[1], &stressZeroServe{}, true)
	r.reAdd(r.more.readd[0], 1)
}

// stressXFacts is what the log says about one extra.
type stressXFacts struct {
	adds, addsLive, surely, waited, sets, inits, initEnds, stops, removes, runs int
	removeCalls                                                                 []int
	lastAddCall, lastInitStart, lastInitEnd, lastRemove, firstStop, lastOpSeq   int
	initSinceSet, lastInitOK                                                    bool
	lastOp                                                                      stressEv
}

// checkExtras verifies the extras against what the README and design §3
// guarantee in every interleaving:
//   - Added again: SetLogger at most once per Add, never once OnShutdown
//     began; one Init at most after each SetLogger; an Add waited for
//     before shutdown had an Init; OnShutdown at most once and only after
//     an Init began, never if it was removed before Shutdown was called,
//     exactly once if it was last added, waited for and initialized before
//     it; a Serve never sees its context live after a Remove returned with
//     no Init since, nor once OnShutdown began; a Serve run only after an
//     Init returned; no handler hears it added again before it heard it
//     removed (unless that removal began while the handler's own Add was
//     binding it); listed once at most after shutdown, never after removal.
//   - Zero size: never more Inits than Adds; the Adds waited for before
//     shutdown each had an Init, and a Serve run, of their own; each one
//     whose Init began stopped once, removed ones aside; as many listed
//     after shutdown as were accepted, removed ones aside; no callback
//     after the round.
func (r *stressRound) checkExtras(facts map[*stressSvc]*stressFacts, firstShutdownCall, firstShutdownReturn, shutdownWaited int,
	final []servicemesh.Service, stats *stressStats, fail func(string, ...any)) {
	if n := stressStray.Swap(0); n > 0 {
		fail("%d callbacks of zero-size services ran after their round was over", n)
	}
	stats.awaited += r.more.awaited
	type heardKey struct {
		h *stressSvc
		x *stressX
	}
	heard := make(map[heardKey]*[2]int) // times heard added, removed
	xf := make(map[*stressX]*stressXFacts)
	for _, x := range append(r.more.readd, r.more.zeros[1:]...) {
		xf[x] = &stressXFacts{lastAddCall: -1, lastInitStart: -1, lastInitEnd: -1, lastRemove: -1, firstStop: -1, lastOpSeq: -1}
	}
	for seq, rec := range r.log {
		if rec.aux == nil || rec.aux.x == nil {
			continue
		}
		x, f, readd := rec.aux.x, xf[rec.aux.x], rec.aux.x.zero == 0
		switch rec.ev {
		case stressEvXAddCall, stressEvXAddWaited, stressEvXRemoveCall, stressEvXRemoveReturn:
			if seq > shutdownWaited {
				break
			}
			f.lastOp, f.lastOpSeq = rec.ev, seq
		}
		switch rec.ev {
		case stressEvXHeardAdded, stressEvXHeardRemoved:
			k := heardKey{rec.svc, x}
			if heard[k] == nil {
				heard[k] = new([2]int)
			}
			n := heard[k]
			if rec.ev == stressEvXHeardRemoved {
				n[1]++
				break
			}
			// Its handlers are bound one by one during its Add: it may
			// miss a removal that began before its Add returned, no other.
			missable := 0
			for _, rc := range f.removeCalls {
				if ar := facts[rec.svc].addReturn; ar < 0 || ar > seq || rc < ar {
					missable++
				}
			}
			if n[1]+missable < n[0] {
				fail("%s: heard %s added again (%d) before it heard it removed (added %d, removed %d times)", rec.svc.name, x.name, seq, n[0], n[1])
			}
			n[0]++
		case stressEvXAddCall:
			f.adds++
			if seq < firstShutdownReturn {
				f.addsLive++
			}
			f.lastAddCall = seq
		case stressEvXAddReturn:
			if seq < firstShutdownCall {
				f.surely++
			}
		case stressEvXAddWaited:
			if seq > firstShutdownCall {
				break
			}
			f.waited++
			if readd && f.lastInitStart < f.lastAddCall {
				fail("%s: added (%d), its WaitGroup done (%d) before shutdown, but no Init began in between", x.name, f.lastAddCall, seq)
			}
			if !readd && f.removes == 0 && f.initEnds < f.waited {
				fail("%s: %d of its Adds were waited for (%d) but only %d Inits returned: Adds shared an Init", x.name, f.waited, seq, f.initEnds)
			}
		case stressEvXRemoveCall:
			f.removes++
			f.removeCalls = append(f.removeCalls, seq)
		case stressEvXRemoveReturn:
			f.lastRemove = seq
		case stressEvXSetLogger:
			if f.firstStop >= 0 || seq > shutdownWaited {
				fail("%s: SetLogger ran (%d) after its OnShutdown began (%d) or shutdown completed (%d)", x.name, seq, f.firstStop, shutdownWaited)
			}
			if f.sets++; f.sets > f.adds {
				fail("%s: SetLogger called %d times, for %d Adds", x.name, f.sets, f.adds)
			}
			f.initSinceSet = false
		case stressEvXInitStart:
			if f.inits++; !readd && f.inits > f.adds {
				fail("%s: %d Inits began (%d), for %d Adds", x.name, f.inits, seq, f.adds)
			}
			if readd && (f.sets == 0 || f.initSinceSet) {
				fail("%s: Init began (%d) without a SetLogger of its own Add before it", x.name, seq)
			}
			f.initSinceSet, f.lastInitStart = true, seq
		case stressEvXInitEnd:
			f.initEnds++
			f.lastInitEnd, f.lastInitOK = seq, true
		case stressEvXInitPanic:
			f.lastInitOK = false
		case stressEvXStopStart:
			if f.stops++; f.firstStop < 0 {
				f.firstStop = seq
			}
			if seq < firstShutdownCall {
				fail("%s: OnShutdown began (%d) before Shutdown was called (%d)", x.name, seq, firstShutdownCall)
			}
		case stressEvXStopEnd:
			if seq > shutdownWaited {
				fail("%s: OnShutdown ended (%d) after Shutdown's WaitGroup was done (%d)", x.name, seq, shutdownWaited)
			}
		case stressEvServeStart:
			if rec.aux.call > 0 {
				break
			}
			if f.runs++; f.runs > f.initEnds {
				fail("%s: Serve run %d began (%d) with only %d Inits returned", x.name, f.runs, seq, f.initEnds)
			}
		case stressEvServeLive:
			if readd && (f.lastRemove > f.lastInitEnd || f.firstStop >= 0) {
				fail("%s: a Serve saw its context live (%d) after Remove returned (%d) with no Init since, or after OnShutdown began (%d)", x.name, seq, f.lastRemove, f.firstStop)
			}
		}
	}

	listed := make(map[any]int)
	for _, s := range final {
		switch s.(type) {
		case *stressZeroServe:
			listed[1]++
		case *stressZeroRemove:
			listed[2]++
		default:
			listed[s]++
		}
	}
	for x, f := range xf {
		if x.zero == 0 {
			stats.readds += max(f.adds-1, 0)
			stats.reinits += max(f.inits-1, 0)
			lastAdded := f.lastOp == stressEvXAddWaited && f.lastOpSeq < firstShutdownCall
			switch n := listed[x.svc]; {
			case f.stops > 1 || f.stops > 0 && f.inits == 0:
				fail("%s: OnShutdown ran %d times, for %d Inits", x.name, f.stops, f.inits)
			case f.stops == 1 && f.lastOp == stressEvXRemoveReturn && f.lastOpSeq < firstShutdownCall:
				fail("%s: OnShutdown ran although it was removed (%d) before Shutdown was called (%d)", x.name, f.lastOpSeq, firstShutdownCall)
			case f.stops == 0 && lastAdded && f.lastInitOK:
				fail("%s: added again, initialized, never removed, but OnShutdown never ran", x.name)
			case n > 1, n > 0 && (x == r.more.readd[0] || f.lastOp == stressEvXRemoveReturn), n == 0 && lastAdded && x != r.more.readd[0]:
				fail("%s: listed %d times after shutdown (last operation: record %d)", x.name, n, f.lastOpSeq)
			}
			continue
		}
		stats.zeroInits += f.inits
		n, least := listed[x.zero], f.surely
		if x.zero == 2 {
			least -= f.removes
		}
		if n < least || n > f.addsLive || x.zero == 1 && n < f.inits {
			fail("%s: %d listed after shutdown; %d surely accepted, %d removes, %d Adds before shutdown, %d Inits", x.name, n, f.surely, f.removes, f.addsLive, f.inits)
		}
		if x.zero == 1 && (f.stops != f.inits || f.runs < f.waited) {
			fail("%s: %d Inits began, %d OnShutdowns ran, %d Serve runs for %d Adds waited for", x.name, f.inits, f.stops, f.runs, f.waited)
		}
		if x.zero == 2 && (f.stops > f.inits || f.stops < f.inits-f.removes) {
			fail("%s: %d Inits began, %d OnShutdowns ran, %d removes", x.name, f.inits, f.stops, f.removes)
		}
	}
}
