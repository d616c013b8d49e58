package servicemesh_test

// Services with a Serve in the randomized stress test (stress_test.go): a
// quarter of its services serve, supervised and restarted by their restart
// policy, the mesh's (short, set for each round) or their own
// (HasRestartPolicy). Each Serve call does what the service's plan says:
// fail or panic a few times (more than the policy allows: a give-up), then
// block until its context ends (and return anything, or panic: no failure
// then), return nil or return ErrDoNotRestart. The calls are recorded in
// the round's log and checked by checkServes; stress_extra_test.go serves
// services added again after removal, and zero-size ones, the same way.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gravestench/servicemesh"
)

const (
	stressOpAwaitServe stressOpKind = stressOpShutdown + 1 // wait for a Serve to get past its failures
)

const (
	stressEvServeStart stressEv = stressEvSnapEnd + 1 + iota // a Serve began
	stressEvServeLive                                        // that Serve saw its context live, after ServeStart
	stressEvServeEnd                                         // a Serve is about to return or panic
)

// stressAux is what a record of stress_serve_test.go or stress_extra_test.go
// adds: whose it is if an extra's, and of a Serve, which run (supervisor,
// told apart by its context) and call, what the call does, and when.
type stressAux struct {
	x         *stressX
	sup, call int
	out       stressOutcome
	dead      bool // its context had ended when it returned
	at        time.Time
}

// stressOutcome is what one Serve call does.
type stressOutcome uint8

const (
	stressServeBlock     stressOutcome = iota // until its context ends; then what it does is no failure
	stressServeFail                           // returns an error: restarted
	stressServePanic                          // panics: restarted
	stressServeNil                            // returns nil: over
	stressServeNoRestart                      // returns ErrDoNotRestart: over
)

var stressOutcomes = []string{"blocked until its context ended", "failed", "panicked", "returned nil", "returned ErrDoNotRestart"}

// stressServer is the Serve of a service.
type stressServer struct {
	own      bool // its policy is its own (HasRestartPolicy), not the mesh's
	policy   servicemesh.RestartPolicy
	plan     []stressOutcome // call i of every run; calls past it block
	after    int             // what a blocking call does once its context ended
	windDown time.Duration   // how long it takes then, as stressSvc's initWork
	blocking chan struct{}   // closed when a call first blocks
	removed  chan struct{}   // closed at its service's first Remove
	onces    [2]sync.Once
	mu       sync.Mutex
	sups     map[context.Context]*[2]int // its runs: {run number, calls so far}
}

// stressMore is the round's state for stress_serve_test.go and
// stress_extra_test.go: set before the workers run, but for awaited
// (guarded by stressRound.mu) and down.
type stressMore struct {
	policy  servicemesh.RestartPolicy // the mesh's
	down    chan struct{}             // closed at the first Shutdown call
	once    sync.Once
	awaited int         // Serves seen to get past their failures
	readd   []*stressX  // services removed and added again
	zeros   [3]*stressX // zero-size services: 1 with a Serve, never removed; 2 removable
}

// stressMoreStats sums what the operations of this file and of
// stress_extra_test.go exercised.
type stressMoreStats struct{ serves, restarts, runs, awaited, readds, reinits, zeroInits int }

type (
	stressServeMix  struct{ c *stressSvc }
	stressPolicyMix struct{ c *stressSvc }
	stressServe     struct {
		*stressSvc
		stressServeMix
	}
	stressServeStop struct {
		*stressSvc
		stressStopMix
		stressServeMix
	}
	stressServeOwn struct {
		*stressSvc
		stressStopMix
		stressServeMix
		stressPolicyMix
	}
	stressDepsServe struct {
		*stressSvc
		stressDepsMix
		stressServeMix
		found []servicemesh.Service
		first servicemesh.Service
	}
	stressDepsServeStop struct {
		*stressSvc
		stressDepsMix
		stressServeMix
		stressStopMix
		found []servicemesh.Service
		first servicemesh.Service
	}
)

func (x stressServeMix) Serve(ctx context.Context) error { return x.c.srv.serve(ctx, x.c.r, x.c, nil) }

func (x stressPolicyMix) RestartPolicy() servicemesh.RestartPolicy { return x.c.srv.policy }

// wrapServe makes the service the mesh is given for c, which serves (and
// implements no handler interface).
func (c *stressSvc) wrapServe() servicemesh.Service {
	c.handlers = false
	switch {
	case c.hasDeps && c.stops:
		w := &stressDepsServeStop{stressSvc: c, stressServeMix: stressServeMix{c}, stressStopMix: stressStopMix{c}}
		w.stressDepsMix = stressDepsMix{c, &w.found, &w.first}
		return w
	case c.hasDeps:
		w := &stressDepsServe{stressSvc: c, stressServeMix: stressServeMix{c}}
		w.stressDepsMix = stressDepsMix{c, &w.found, &w.first}
		return w
	case c.srv.own:
		c.stops = true
		return &stressServeOwn{c, stressStopMix{c}, stressServeMix{c}, stressPolicyMix{c}}
	case c.stops:
		return &stressServeStop{c, stressStopMix{c}, stressServeMix{c}}
	}
	return &stressServe{c, stressServeMix{c}}
}

// stressPolicy returns a short random restart policy. KeepRunning: a
// give-up never shuts the mesh down behind the test's back.
func stressPolicy(rng *rand.Rand) servicemesh.RestartPolicy {
	return servicemesh.RestartPolicy{
		MaxRestarts: []int{-1, 0, 1, 2, 3}[rng.IntN(5)], // 0: the default, 5
		Backoff:     time.Duration(20+rng.IntN(200)) * time.Microsecond,
		MaxBackoff:  []time.Duration{0, 300 * time.Microsecond}[rng.IntN(2)],
		Jitter:      []float64{0, -1, 0.5}[rng.IntN(3)],
		KeepRunning: true,
	}
}

// stressAllowed returns how many restarts within its window p allows, and
// the least wait before restart i+1 (README, "Long-running services"). No
// run of the test is as long as the default window, 30 s.
func stressAllowed(p servicemesh.RestartPolicy, i int) (int, time.Duration) {
	n, j := p.MaxRestarts, p.Jitter
	if n == 0 {
		n = 5
	}
	if j == 0 {
		j = 0.1
	}
	d, maxB := p.Backoff, max(p.MaxBackoff, p.Backoff)
	if p.MaxBackoff <= 0 {
		maxB = 15 * time.Second
	}
	for range i {
		d = min(2*d, maxB)
	}
	return max(n, 0), time.Duration(float64(d)*(1-min(max(j, 0), 1))) - time.Microsecond
}

// planServe sets the round's restart policy, before anything is added.
func (r *stressRound) planServe(rng *rand.Rand) {
	r.more.down = make(chan struct{})
	r.more.policy = stressPolicy(rng)
	servicemesh.SetRestartPolicy(r.mesh, r.more.policy)
}

// newServer returns the Serve of a new service, for a quarter of them;
// with own, possibly with a policy of its own.
func (r *stressRound) newServer(rng *rand.Rand, own bool) *stressServer {
	if rng.IntN(4) != 0 {
		return nil
	}
	s := &stressServer{policy: r.more.policy, after: rng.IntN(6), windDown: stressRandomWork(rng),
		blocking: make(chan struct{}), removed: make(chan struct{}), sups: map[context.Context]*[2]int{}}
	if own && rng.IntN(3) == 0 {
		s.own, s.policy = true, stressPolicy(rng)
	}
	allowed, _ := stressAllowed(s.policy, 0)
	for range rng.IntN(allowed + 2) {
		s.plan = append(s.plan, stressServeFail+stressOutcome(rng.IntN(2)))
	}
	if len(s.plan) <= allowed {
		s.plan = append(s.plan, []stressOutcome{stressServeBlock, stressServeBlock, stressServeNil, stressServeNoRestart}[rng.IntN(4)])
	}
	return s
}

// noteRemoved notes that a Remove of its service was asked for.
func (s *stressServer) noteRemoved() {
	if s != nil {
		s.onces[1].Do(func() { close(s.removed) })
	}
}

// serve is one Serve call of c, or of the extra x.
func (s *stressServer) serve(ctx context.Context, r *stressRound, c *stressSvc, x *stressX) error {
	if x != nil {
		x.serving.Add(1)
		defer x.serving.Add(-1)
	}
	s.mu.Lock()
	sup := s.sups[ctx]
	if sup == nil {
		sup = &[2]int{len(s.sups) + 1, 0}
		s.sups[ctx] = sup
	}
	id, call := sup[0], sup[1]
	sup[1]++
	s.mu.Unlock()
	out := stressServeBlock
	if call < len(s.plan) {
		out = s.plan[call]
	}
	r.recAux(stressEvServeStart, c, &stressAux{x: x, sup: id, call: call, out: out, at: time.Now()})
	r.recLive(ctx, c, &stressAux{x: x, sup: id, call: call})
	var err error
	switch out {
	case stressServeBlock:
		s.onces[0].Do(func() { close(s.blocking) })
		<-ctx.Done()
		stressWork(s.windDown)
		err = []error{nil, ctx.Err(), errors.New("stress: over"), servicemesh.ErrDoNotRestart,
			fmt.Errorf("stress: %w", servicemesh.ErrShutdownMesh), nil}[s.after]
	case stressServeFail:
		err = errors.New("stress: Serve fails")
	case stressServeNoRestart:
		err = fmt.Errorf("stress: %w", servicemesh.ErrDoNotRestart)
	}
	dead := ctx.Err() != nil // then the supervisor sees it ended too
	r.recAux(stressEvServeEnd, c, &stressAux{x: x, sup: id, call: call, out: out, dead: dead, at: time.Now()})
	if out == stressServePanic || out == stressServeBlock && s.after == 5 {
		panic("stress: Serve panics")
	}
	return err
}

// recAux appends a record with aux to the log and returns its sequence number.
func (r *stressRound) recAux(ev stressEv, svc *stressSvc, aux *stressAux) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, stressRecord{ev: ev, svc: svc, aux: aux})
	return len(r.log) - 1
}

// recLive appends a ServeLive record if ctx is live, under the log's lock,
// so that the record precedes whatever is recorded once ctx has ended.
func (r *stressRound) recLive(ctx context.Context, svc *stressSvc, aux *stressAux) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() == nil {
		r.log = append(r.log, stressRecord{ev: stressEvServeLive, svc: svc, aux: aux})
	}
}

// awaitServe waits until a service without dependencies whose Serve ends
// up blocking gets there, through its failures and their backoffs, unless
// it is removed or shutdown begins meanwhile.
func (r *stressRound) awaitServe(n uint64) {
	var c *stressSvc
	r.mu.Lock()
	for i := range r.eligible {
		d := r.eligible[(uint64(i)+n)%uint64(len(r.eligible))]
		if d.srv != nil && !d.hasDeps && !d.panics && d.srv.plan[len(d.srv.plan)-1] == stressServeBlock {
			c = d
			break
		}
	}
	r.mu.Unlock()
	if c == nil {
		return
	}
	timer := time.NewTimer(stressWaitBound)
	defer timer.Stop()
	select {
	case <-c.srv.blocking:
		r.mu.Lock()
		r.more.awaited++
		r.mu.Unlock()
	case <-c.srv.removed:
	case <-r.more.down:
	case <-timer.C:
		r.fault("%s: its Serve did not get past its %d failures within %v", c.name, len(c.srv.plan)-1, stressWaitBound)
	}
}

// stressCall is one Serve call, by its records.
type stressCall struct {
	start, end                *stressAux
	startSeq, liveSeq, endSeq int
}

// checkRun checks the calls of one run of a Serve (one supervisor): each
// returns before Shutdown's WaitGroup is done; call i+1 follows only a call
// i that failed (error or panic) while its context was live, no more often
// than the policy allows, after call i returned and at least the policy's
// backoff, less its jitter, after it.
func checkRun(name string, p servicemesh.RestartPolicy, calls []stressCall, shutdownWaited int, fail func(string, ...any)) {
	allowed, _ := stressAllowed(p, 0)
	for i, cl := range calls {
		if cl.start == nil || cl.end == nil || cl.endSeq > shutdownWaited {
			fail("%s: Serve call %d did not return before Shutdown's WaitGroup was done (%d)", name, i, shutdownWaited)
			continue
		}
		prev := calls[max(i-1, 0)]
		if i == 0 || prev.end == nil {
			continue
		}
		_, least := stressAllowed(p, i-1)
		switch waited := cl.start.at.Sub(prev.end.at); {
		case i > allowed:
			fail("%s: Serve restarted %d times in one run; its policy allows %d", name, i, allowed)
		case prev.end.dead || prev.end.out != stressServeFail && prev.end.out != stressServePanic:
			fail("%s: Serve restarted (%d) after a call that %s (context ended: %v)", name, cl.startSeq, stressOutcomes[prev.end.out], prev.end.dead)
		case cl.startSeq < prev.endSeq:
			fail("%s: Serve restarted (%d) before the failed call returned (%d)", name, cl.startSeq, prev.endSeq)
		case waited < least:
			fail("%s: Serve restarted %v after failing; restart %d's backoff is at least %v", name, waited, i, least)
		}
	}
}

// checkServes verifies the Serves against what the README ("Long-running
// services") and design §5 and §6 guarantee in every interleaving: each run
// as checkRun says; a service of stressSvc (added once) has one run at most,
// begun after its Init returned (never after a panic), whose context is
// never seen live once the Removes of it have returned, and which is over
// before its OnShutdown begins.
func (r *stressRound) checkServes(facts map[*stressSvc]*stressFacts, shutdownWaited int, stats *stressStats, fail func(string, ...any)) {
	type runKey struct {
		c   *stressSvc
		x   *stressX
		sup int
	}
	runs := make(map[runKey][]stressCall)
	// removed: when every Remove of a service called so far had returned,
	// the first time. The first Remove to return may have found it being
	// removed by another, which had not yet ended its Serve's context.
	removing, removed := make(map[*stressSvc]int), make(map[*stressSvc]int)
	for seq, rec := range r.log {
		switch rec.ev {
		case stressEvRemoveCall:
			removing[rec.svc]++
		case stressEvRemoveReturn:
			if removing[rec.svc]--; removing[rec.svc] == 0 && removed[rec.svc] == 0 {
				removed[rec.svc] = seq
			}
		}
		a := rec.aux
		if a == nil || rec.ev != stressEvServeStart && rec.ev != stressEvServeLive && rec.ev != stressEvServeEnd {
			continue
		}
		k := runKey{rec.svc, a.x, a.sup}
		calls := runs[k]
		for len(calls) <= a.call {
			calls = append(calls, stressCall{startSeq: -1, liveSeq: -1, endSeq: -1})
		}
		switch cl := &calls[a.call]; rec.ev {
		case stressEvServeStart:
			cl.start, cl.startSeq = a, seq
		case stressEvServeLive:
			cl.liveSeq = seq
		default:
			cl.end, cl.endSeq = a, seq
		}
		runs[k] = calls
	}
	type served struct{ runs, first, last, live int }
	byService := make(map[*stressSvc]*served)
	for k, calls := range runs {
		name, p := "", servicemesh.RestartPolicy{}
		if k.x != nil {
			name, p = k.x.name, k.x.srv.policy
		} else {
			name, p = k.c.name, k.c.srv.policy
			s := byService[k.c]
			if s == nil {
				s = &served{first: calls[0].startSeq, last: -1, live: -1}
				byService[k.c] = s
			}
			s.runs++
			for _, cl := range calls {
				s.last, s.live = max(s.last, cl.startSeq, cl.endSeq), max(s.live, cl.liveSeq)
			}
		}
		checkRun(name, p, calls, shutdownWaited, fail)
		stats.runs++
		stats.serves += len(calls)
		stats.restarts += len(calls) - 1
	}
	for c, s := range byService {
		f := facts[c]
		switch {
		case s.runs > 1:
			fail("%s: Serve ran %d times from the start; its Init ran once", c.name, s.runs)
		case f.initEnd < 0 || s.first < f.initEnd:
			fail("%s: Serve began (%d) before its Init returned (%d)", c.name, s.first, f.initEnd)
		case len(f.stopStart) > 0 && s.last > f.stopStart[0]:
			fail("%s: Serve ran (%d) after its OnShutdown began (%d)", c.name, s.last, f.stopStart[0])
		case removed[c] > 0 && s.live > removed[c]:
			fail("%s: Serve saw its context live (%d) after its Removes returned (%d)", c.name, s.live, removed[c])
		}
	}
}

// doMore performs one step of the operations of this file and of
// stress_extra_test.go.
func (r *stressRound) doMore(op stressOp) {
	switch op.kind {
	case stressOpAwaitServe:
		r.awaitServe(op.n)
	case stressOpReAdd:
		r.reAdd(r.more.readd[int(op.n&0xff)%len(r.more.readd)], op.n>>8)
	case stressOpZeroAdd:
		kind := 1 + int(op.n%2)
		r.addX(r.more.zeros[kind], []servicemesh.Service{nil, &stressZeroServe{}, &stressZeroRemove{}}[kind], op.n/2%2 == 0)
	case stressOpZeroRemove:
		x := r.more.zeros[2]
		r.recAux(stressEvXRemoveCall, nil, &stressAux{x: x})
		r.keepWG("Remove(zero-remove)", r.mesh.Remove(&stressZeroRemove{}))
		r.recAux(stressEvXRemoveReturn, nil, &stressAux{x: x})
	}
}
