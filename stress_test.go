package servicemesh_test

// A randomized, model-checking stress test (design §3). Each round builds a
// mesh and drives it from several goroutines at once with a random mix of
// Add (services of many kinds), duplicate Add, Remove, Services, SetLogLevel
// and Shutdown, while the services record what the mesh does to them in one
// sequenced log. After the round the log is checked against the invariants
// that must hold in every interleaving. stress_serve_test.go adds services
// with a Serve, and stress_extra_test.go services removed and added again
// and zero-size ones, with their operations and invariants.
//
// The seed is logged. STRESS_SEED=<n> replays a run's plans (the services
// and each goroutine's operations; the scheduling is the runtime's), with
// STRESS_ROUND=<r> only round r's; STRESS_ROUNDS=<n> runs exactly n rounds
// instead of as many as fit in the time budget.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
)

// stressWaitBound bounds every wait of the test, so that a hang fails it.
const stressWaitBound = 10 * time.Second

func TestStressRandomOperations(t *testing.T) {
	seed := rand.Uint64()
	if s, ok := os.LookupEnv("STRESS_SEED"); ok {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STRESS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	maxRounds, budget := 600, 3*time.Second
	if testing.Short() {
		maxRounds, budget = 40, 700*time.Millisecond
	}
	if s, ok := os.LookupEnv("STRESS_ROUNDS"); ok {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("STRESS_ROUNDS=%q: want a positive number", s)
		}
		maxRounds, budget = v, 0
	}
	firstRound := 0
	if s, ok := os.LookupEnv("STRESS_ROUND"); ok {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			t.Fatalf("STRESS_ROUND=%q: want a round number", s)
		}
		firstRound, maxRounds, budget = v, v+1, 0
	}
	t.Logf("seed %d (replay with STRESS_SEED=%d)", seed, seed)

	start := time.Now()
	rounds := 0
	var stats stressStats
	for round := firstRound; round < maxRounds; round++ {
		if budget > 0 && rounds > 0 && time.Since(start) > budget {
			break
		}
		rounds++
		faults := stressRunRound(t, seed, round, testing.Short(), &stats)
		if len(faults) > 0 {
			const maxShown = 25
			shown := faults[:min(len(faults), maxShown)]
			t.Errorf("round %d failed (replay with STRESS_SEED=%d STRESS_ROUND=%d); %d violation(s):\n  %s",
				round, seed, round, len(faults), strings.Join(shown, "\n  "))
			break
		}
	}
	t.Logf("%d rounds in %v: %d services added (%d initialized, %d Init panics, %d OnShutdown), %d removed, %d snapshots, %d resolutions canceled, %d adds ignored after shutdown began; checked %d ordered stop pairs, %d exactly-once handler calls",
		rounds, time.Since(start).Round(time.Millisecond), stats.accepted, stats.initialized, stats.panicked,
		stats.stopped, stats.removes, stats.snapshots, stats.canceled, stats.lateAdds,
		stats.orderedPairs, stats.handlerChecks)
	t.Logf("Serve: %d runs, %d calls, %d restarts, %d seen to get past their failures; %d services added again (%d Inits again); %d zero-size Inits",
		stats.runs, stats.serves, stats.restarts, stats.awaited, stats.readds, stats.reinits, stats.zeroInits)
}

// stressStats sums what the rounds exercised, so that the log shows the test
// is not vacuous.
type stressStats struct {
	accepted, initialized, panicked, stopped, removes, snapshots, canceled, lateAdds int
	orderedPairs, handlerChecks                                                      int
	stressMoreStats                                                                  // stress_serve_test.go
}

// stressEv is the kind of a record in a round's log.
type stressEv uint8

const (
	stressEvAddCall        stressEv = iota // the service's first Add is about to be called
	stressEvAddReturn                      // its first Add returned
	stressEvDupAdd                         // a duplicate Add of it is about to be called
	stressEvSetLogger                      // SetLogger was called on it
	stressEvRemoveCall                     // a Remove of it is about to be called
	stressEvRemoveReturn                   // a Remove of it returned
	stressEvResolved                       // its DependenciesResolved is about to return true
	stressEvInitStart                      // its Init began
	stressEvInitEnd                        // its Init is about to return normally
	stressEvInitPanic                      // its Init is about to panic
	stressEvStopStart                      // its OnShutdown began
	stressEvStopEnd                        // its OnShutdown is about to return
	stressEvOnAdded                        // its OnServiceAdded(subj) ran
	stressEvOnInitialized                  // its OnServiceInitialized(subj) ran
	stressEvOnRemoved                      // its OnServiceRemoved(subj) ran
	stressEvOnFailed                       // its OnDependencyResolutionFailed(subj, err) ran
	stressEvShutdownCall                   // Shutdown is about to be called
	stressEvShutdownReturn                 // Shutdown returned
	stressEvShutdownWaited                 // Shutdown's WaitGroup is done
	stressEvSnapStart                      // Services is about to be called
	stressEvSnapEnd                        // Services returned
)

// stressRecord is one entry of a round's log; its index is its sequence
// number.
type stressRecord struct {
	ev   stressEv
	svc  *stressSvc // whose record it is; nil for mesh-wide ones
	subj *stressSvc // a handler's subject
	err  error
	aux  *stressAux // records of stress_serve_test.go
}

// stressSnap is one Services() result and when it was taken.
type stressSnap struct {
	start, end int
	list       []servicemesh.Service
}

// stressWG is a WaitGroup the mesh returned, with what returned it.
type stressWG struct {
	what string
	wg   *sync.WaitGroup
}

// stressRound is the state of one round.
type stressRound struct {
	mesh servicemesh.Mesh

	mu          sync.Mutex
	log         []stressRecord
	snaps       []stressSnap
	wgs         []stressWG
	shutdownWGs []*sync.WaitGroup
	eligible    []*stressSvc // services whose first Add returned: targets of duplicate Add and Remove
	all         []*stressSvc // every service made, children included
	faults      []string     // violations seen from inside callbacks

	// outside is a dependency from outside the mesh, set by stressOpOutside:
	// the services that wait for it are found by the scheduler's polls.
	outside atomic.Bool

	more stressMore // stress_serve_test.go
}

// rec appends a record to the log and returns its sequence number.
func (r *stressRound) rec(ev stressEv, svc, subj *stressSvc, err error) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, stressRecord{ev: ev, svc: svc, subj: subj, err: err})
	return len(r.log) - 1
}

func (r *stressRound) fault(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, fmt.Sprintf(format, args...))
}

func (r *stressRound) keepWG(what string, wg *sync.WaitGroup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wgs = append(r.wgs, stressWG{what, wg})
}

// coreOf returns the test service behind a handler's subject, or nil.
func (r *stressRound) coreOf(s servicemesh.Service) *stressSvc {
	if c, ok := s.(interface{ stressCore() *stressSvc }); ok {
		return c.stressCore()
	}
	return nil
}

// add makes the first Add of c and returns its WaitGroup.
func (r *stressRound) add(c *stressSvc) *sync.WaitGroup {
	r.rec(stressEvAddCall, c, nil, nil)
	wg := r.mesh.Add(c.svc)
	r.rec(stressEvAddReturn, c, nil, nil)
	r.mu.Lock()
	r.wgs = append(r.wgs, stressWG{"Add(" + c.name + ")", wg})
	r.eligible = append(r.eligible, c)
	r.mu.Unlock()
	return wg
}

// dupAdd adds c again, unless a Remove of it was asked for: a removed
// service may legitimately be added (and initialized) again, which this test
// does not model.
func (r *stressRound) dupAdd(c *stressSvc) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.removing {
		return
	}
	r.rec(stressEvDupAdd, c, nil, nil)
	r.keepWG("duplicate Add("+c.name+")", r.mesh.Add(c.svc))
}

func (r *stressRound) remove(c *stressSvc) {
	c.opMu.Lock()
	c.removing = true
	c.opMu.Unlock()
	c.srv.noteRemoved()
	r.rec(stressEvRemoveCall, c, nil, nil)
	wg := r.mesh.Remove(c.svc)
	r.rec(stressEvRemoveReturn, c, nil, nil)
	r.keepWG("Remove("+c.name+")", wg)
}

func (r *stressRound) shutdown() *sync.WaitGroup {
	r.rec(stressEvShutdownCall, nil, nil, nil)
	r.more.once.Do(func() { close(r.more.down) })
	wg := r.mesh.Shutdown()
	r.rec(stressEvShutdownReturn, nil, nil, nil)
	r.mu.Lock()
	r.shutdownWGs = append(r.shutdownWGs, wg)
	r.mu.Unlock()
	return wg
}

func (r *stressRound) snapshot() []servicemesh.Service {
	start := r.rec(stressEvSnapStart, nil, nil, nil)
	list := r.mesh.Services()
	end := r.rec(stressEvSnapEnd, nil, nil, nil)
	r.mu.Lock()
	r.snaps = append(r.snaps, stressSnap{start, end, list})
	r.mu.Unlock()
	return list
}

// pick returns an eligible service chosen by n, or nil if there is none.
func (r *stressRound) pick(n uint64) *stressSvc {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.eligible) == 0 {
		return nil
	}
	return r.eligible[n%uint64(len(r.eligible))]
}

// stressSvc is the state shared by every kind of test service; the mesh is
// handed one of the wrappers below, which add the optional interfaces.
type stressSvc struct {
	r        *stressRound
	name     string
	svc      servicemesh.Service // the wrapper the mesh is given
	hasDeps  bool
	deps     []string // names of the services it depends on
	stops    bool     // implements HasGracefulShutdown
	handlers bool     // implements the service added/initialized/removed handlers
	panics   bool     // Init panics
	outside  bool     // also waits for the round's outside flag (polled, see stressOpOutside)
	child    *stressSvc
	srv      *stressServer // its Serve, nil if it has none (stress_serve_test.go)
	initWork time.Duration // < 0: yield; 0: nothing; > 0: sleep
	stopWork time.Duration

	logger   atomic.Pointer[slog.Logger]
	initDone atomic.Bool // Init returned normally (set after stressEvInitEnd)
	resolved atomic.Bool // DependenciesResolved returned true
	// holds is the service it holds in its wrapper's first field once
	// resolved: the mesh stops it before that one.
	holds atomic.Pointer[stressSvc]

	opMu     sync.Mutex
	removing bool // a Remove was asked for; guarded by opMu
}

func (c *stressSvc) stressCore() *stressSvc { return c }
func (c *stressSvc) Name() string           { return c.name }
func (c *stressSvc) Logger() *slog.Logger   { return c.logger.Load() }

func (c *stressSvc) SetLogger(l *slog.Logger) {
	c.r.rec(stressEvSetLogger, c, nil, nil)
	c.logger.Store(l)
}

func (c *stressSvc) Init(m servicemesh.Mesh) {
	r := c.r
	r.rec(stressEvInitStart, c, nil, nil)
	if c.outside && !r.outside.Load() {
		r.fault("%s: Init ran before its outside dependency was there", c.name)
	}
	if m != r.mesh {
		r.fault("%s: Init was handed a mesh other than the one it was added to", c.name)
	}
	if l := c.logger.Load(); l != nil {
		l.Debug("init", "deps", len(c.deps))
		l.Info("init")
	} else {
		r.fault("%s: Init ran before SetLogger", c.name)
	}
	stressWork(c.initWork)
	if c.child != nil {
		r.add(c.child).Wait() // the mesh is the one to bound this: the parent's WaitGroup is bounded
	}
	if c.panics {
		r.rec(stressEvInitPanic, c, nil, nil)
		panic("stress: Init of " + c.name + " panics")
	}
	r.rec(stressEvInitEnd, c, nil, nil)
	c.initDone.Store(true)
}

func (c *stressSvc) onShutdown() {
	c.r.rec(stressEvStopStart, c, nil, nil)
	stressWork(c.stopWork)
	c.r.rec(stressEvStopEnd, c, nil, nil)
}

// resolve keeps, of services, those that c depends on.
func (c *stressSvc) resolve(services []servicemesh.Service) []servicemesh.Service {
	var held []servicemesh.Service
	for _, s := range services {
		d := c.r.coreOf(s)
		if d == nil || d == c {
			continue
		}
		for _, name := range c.deps {
			if d.name == name {
				held = append(held, s)
				break
			}
		}
	}
	return held
}

// dependenciesResolved reports whether every dependency is held and its Init
// has returned. Once true it stays true.
func (c *stressSvc) dependenciesResolved(held []servicemesh.Service) bool {
	if c.resolved.Load() {
		return true
	}
	if c.outside && !c.r.outside.Load() {
		return false
	}
	for _, name := range c.deps {
		found := false
		for _, s := range held {
			if d := c.r.coreOf(s); d != nil && d.name == name && d.initDone.Load() {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(held) > 0 {
		c.holds.Store(c.r.coreOf(held[0]))
	}
	c.r.rec(stressEvResolved, c, nil, nil)
	c.resolved.Store(true)
	return true
}

func stressWork(d time.Duration) {
	switch {
	case d < 0:
		runtime.Gosched()
	case d > 0:
		time.Sleep(d)
	}
}

// The optional interfaces, as mixins over the shared state.

type stressStopMix struct{ c *stressSvc }

func (x stressStopMix) OnShutdown() { x.c.onShutdown() }

type stressHandlerMix struct{ c *stressSvc }

func (x stressHandlerMix) OnServiceAdded(s servicemesh.Service) {
	x.c.r.recHandler(stressEvOnAdded, x.c, s)
}

func (x stressHandlerMix) OnServiceInitialized(s servicemesh.Service) {
	x.c.r.recHandler(stressEvOnInitialized, x.c, s)
}

func (x stressHandlerMix) OnServiceRemoved(s servicemesh.Service) {
	x.c.r.recHandler(stressEvOnRemoved, x.c, s)
}

// stressDepsMix implements HasDependencies. The services found are kept in
// the wrapper's own field (held points to it), where the mesh can see what
// the resolver holds.
type stressDepsMix struct {
	c     *stressSvc
	held  *[]servicemesh.Service
	first *servicemesh.Service // a field of the wrapper: the mesh sees it held
}

func (x stressDepsMix) ResolveDependencies(services []servicemesh.Service) {
	*x.held = x.c.resolve(services)
	*x.first = nil
	if len(*x.held) > 0 {
		*x.first = (*x.held)[0]
	}
}

func (x stressDepsMix) DependenciesResolved() bool { return x.c.dependenciesResolved(*x.held) }

func (x stressDepsMix) OnDependencyResolutionFailed(s servicemesh.Service, err error) {
	x.c.r.rec(stressEvOnFailed, x.c, x.c.r.coreOf(s), err)
}

type (
	stressPlain struct{ *stressSvc }
	stressStop  struct {
		*stressSvc
		stressStopMix
	}
	stressHandler struct {
		*stressSvc
		stressHandlerMix
	}
	stressStopHandler struct {
		*stressSvc
		stressStopMix
		stressHandlerMix
	}
	stressDeps struct {
		*stressSvc
		stressDepsMix
		found []servicemesh.Service
		first servicemesh.Service
	}
	stressDepsStop struct {
		*stressSvc
		stressDepsMix
		stressStopMix
		found []servicemesh.Service
		first servicemesh.Service
	}
	stressDepsHandler struct {
		*stressSvc
		stressDepsMix
		stressHandlerMix
		found []servicemesh.Service
		first servicemesh.Service
	}
	stressDepsStopHandler struct {
		*stressSvc
		stressDepsMix
		stressStopMix
		stressHandlerMix
		found []servicemesh.Service
		first servicemesh.Service
	}
)

// wrap makes the service the mesh is given for c, implementing the optional
// interfaces c's kind calls for.
func (c *stressSvc) wrap() servicemesh.Service {
	if c.srv != nil {
		return c.wrapServe()
	}
	stop, hand := stressStopMix{c}, stressHandlerMix{c}
	switch {
	case !c.hasDeps && c.stops && c.handlers:
		return &stressStopHandler{c, stop, hand}
	case !c.hasDeps && c.stops:
		return &stressStop{c, stop}
	case !c.hasDeps && c.handlers:
		return &stressHandler{c, hand}
	case !c.hasDeps:
		return &stressPlain{c}
	case c.stops && c.handlers:
		w := &stressDepsStopHandler{stressSvc: c, stressStopMix: stop, stressHandlerMix: hand}
		w.stressDepsMix = stressDepsMix{c, &w.found, &w.first}
		return w
	case c.stops:
		w := &stressDepsStop{stressSvc: c, stressStopMix: stop}
		w.stressDepsMix = stressDepsMix{c, &w.found, &w.first}
		return w
	case c.handlers:
		w := &stressDepsHandler{stressSvc: c, stressHandlerMix: hand}
		w.stressDepsMix = stressDepsMix{c, &w.found, &w.first}
		return w
	default:
		w := &stressDeps{stressSvc: c}
		w.stressDepsMix = stressDepsMix{c, &w.found, &w.first}
		return w
	}
}

// stressOpKind is what a worker does in one step.
type stressOpKind uint8

const (
	stressOpAdd stressOpKind = iota
	stressOpDupAdd
	stressOpRemove
	stressOpRemoveUnknown
	stressOpSnapshot
	stressOpLevel
	stressOpPause
	stressOpOutside
	stressOpShutdown
)

type stressOp struct {
	kind  stressOpKind
	svc   *stressSvc // for Add and RemoveUnknown
	n     uint64     // chooses the target of DupAdd and Remove
	level slog.Level
}

var stressLevels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

// newService makes a service of a random kind. names are the planned names
// it may depend on; it is names[idx] if idx >= 0. Most dependencies are on
// services planned before it, so that chains resolve; some are on services
// planned later, never added, or on no service at all.
func (r *stressRound) newService(rng *rand.Rand, name string, names []string, idx int, canHaveChild bool) *stressSvc {
	c := &stressSvc{
		r:        r,
		name:     name,
		stops:    rng.IntN(10) < 6,
		handlers: rng.IntN(10) < 3,
		panics:   rng.IntN(10) < 1,
		initWork: stressRandomWork(rng),
		stopWork: stressRandomWork(rng),
	}
	if names != nil && rng.IntN(10) < 4 {
		c.hasDeps = true
		c.outside = rng.IntN(10) < 2
		for range rng.IntN(4) {
			var d string
			switch n := rng.IntN(100); {
			case n < 8:
				d = "ghost" + strconv.Itoa(rng.IntN(3))
			case n < 70 && idx > 0:
				d = names[rng.IntN(idx)]
			default:
				d = names[rng.IntN(len(names))]
			}
			if d != name && !slices.Contains(c.deps, d) {
				c.deps = append(c.deps, d)
			}
		}
	}
	if canHaveChild && rng.IntN(100) < 15 {
		c.child = r.newService(rng, name+"/child", nil, -1, false)
	}
	c.srv = r.newServer(rng, !c.hasDeps)
	c.svc = c.wrap()
	r.all = append(r.all, c)
	return c
}

func stressRandomWork(rng *rand.Rand) time.Duration {
	switch n := rng.IntN(10); {
	case n < 5:
		return 0
	case n < 8:
		return -1
	default:
		return time.Duration(20+rng.IntN(300)) * time.Microsecond
	}
}

// stressRunRound plays one round and returns the violations found.
func stressRunRound(t *testing.T, seed uint64, round int, short bool, stats *stressStats) []string {
	rng := rand.New(rand.NewPCG(seed, uint64(round)))
	m := servicemesh.New("stress", "round", strconv.Itoa(round))
	m.SetLogDestination(io.Discard)
	m.SetLogLevel(stressLevels[rng.IntN(len(stressLevels))])
	r := &stressRound{mesh: m}
	r.planServe(rng)

	// The plan: the services, some never added, and each worker's steps.
	nSvc := 8 + rng.IntN(28)
	if short {
		nSvc = 5 + rng.IntN(12)
	}
	names := make([]string, nSvc)
	for i := range names {
		names[i] = "s" + strconv.Itoa(i)
	}
	var ops []stressOp
	var strangers []*stressSvc // never added: unknown to Remove
	for i, name := range names {
		c := r.newService(rng, name, names, i, true)
		if rng.IntN(100) < 12 {
			strangers = append(strangers, c)
			continue
		}
		ops = append(ops, stressOp{kind: stressOpAdd, svc: c})
	}
	strangers = append(strangers, r.newService(rng, "stranger", names, -1, false))
	for range nSvc/2 + rng.IntN(nSvc+1) {
		op := stressOp{n: rng.Uint64()}
		switch n := rng.IntN(100); {
		case n < 20:
			op.kind = stressOpDupAdd
		case n < 45:
			op.kind = stressOpRemove
		case n < 52:
			op.kind = stressOpRemoveUnknown
			op.svc = strangers[rng.IntN(len(strangers))]
		case n < 75:
			op.kind = stressOpSnapshot
		case n < 85:
			op.kind = stressOpLevel
			op.level = stressLevels[rng.IntN(len(stressLevels))]
		case n < 88:
			op.kind = stressOpOutside
		default:
			op.kind = stressOpPause
		}
		ops = append(ops, op)
	}
	ops = append(ops, r.planMore(rng, nSvc)...)
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	workers := make([][]stressOp, 2+rng.IntN(3))
	for _, op := range ops {
		w := rng.IntN(len(workers))
		workers[w] = append(workers[w], op)
	}
	// Shutdown: after the workers, from one or two goroutines, or from
	// inside one or two workers while the others go on adding.
	mode := rng.IntN(4)
	if mode >= 2 {
		for _, w := range rng.Perm(len(workers))[:mode-1] {
			at := rng.IntN(len(workers[w]) + 1)
			workers[w] = append(workers[w][:at], append([]stressOp{{kind: stressOpShutdown}}, workers[w][at:]...)...)
		}
	}
	late := r.newService(rng, "late", names, -1, true) // added after shutdown

	var wg sync.WaitGroup
	for _, steps := range workers {
		wg.Go(func() {
			for _, op := range steps {
				r.do(op)
			}
		})
	}
	if !stressWait(&wg, stressWaitBound) {
		t.Fatalf("round %d (STRESS_SEED=%d): the workers did not finish within %v", round, seed, stressWaitBound)
	}
	if mode < 2 && rng.IntN(3) == 0 {
		// Let resolutions and Inits settle a little, so that more services
		// are initialized when shutdown begins.
		r.mu.Lock()
		wgs := append([]stressWG(nil), r.wgs...)
		r.mu.Unlock()
		stressWait(stressJoin(wgs), 3*time.Millisecond)
	}
	if mode < 2 {
		var sd sync.WaitGroup
		for range mode + 1 {
			sd.Go(func() { r.shutdown() })
		}
		sd.Wait()
	}
	down := r.shutdown()
	if !stressWait(down, stressWaitBound) {
		t.Fatalf("round %d (STRESS_SEED=%d): Shutdown's WaitGroup not done within %v", round, seed, stressWaitBound)
	}
	r.rec(stressEvShutdownWaited, nil, nil, nil)
	r.mu.Lock()
	wgs := append([]stressWG(nil), r.wgs...)
	r.mu.Unlock()
	if pending := stressWaitAll(wgs, stressWaitBound); len(pending) > 0 {
		t.Fatalf("round %d (STRESS_SEED=%d): WaitGroups not done within %v: %s", round, seed, stressWaitBound, strings.Join(pending, ", "))
	}

	// After shutdown: Add is ignored, its WaitGroup already done.
	lateWG := r.add(late)
	if !stressWait(lateWG, time.Second) {
		r.fault("Add after Shutdown completed: its WaitGroup is not done")
	}
	if c := r.pick(rng.Uint64()); c != nil {
		r.dupAdd(c)
	}
	r.lateMore()
	r.mu.Lock()
	wgs = append([]stressWG(nil), r.wgs...)
	r.mu.Unlock()
	if pending := stressWaitAll(wgs, stressWaitBound); len(pending) > 0 {
		t.Fatalf("round %d (STRESS_SEED=%d): WaitGroups not done within %v: %s", round, seed, stressWaitBound, strings.Join(pending, ", "))
	}
	stressRounds.Store(nil) // the round is over: no callback of it may follow
	final := r.snapshot()

	return r.check(late, final, stats)
}

// do performs one step of a worker.
func (r *stressRound) do(op stressOp) {
	switch op.kind {
	case stressOpAdd:
		r.add(op.svc)
	case stressOpDupAdd:
		if c := r.pick(op.n); c != nil {
			r.dupAdd(c)
		}
	case stressOpRemove:
		if c := r.pick(op.n); c != nil {
			r.remove(c)
		}
	case stressOpRemoveUnknown:
		r.remove(op.svc)
	case stressOpSnapshot:
		r.snapshot()
	case stressOpLevel:
		r.mesh.SetLogLevel(op.level)
	case stressOpPause:
		if op.n%4 == 0 {
			time.Sleep(time.Duration(op.n%200) * time.Microsecond)
		} else {
			runtime.Gosched()
		}
	case stressOpOutside:
		r.outside.Store(true)
	case stressOpShutdown:
		r.shutdown()
	default:
		r.doMore(op)
	}
}

// stressWait reports whether wg is done within d.
func stressWait(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// stressJoin returns a WaitGroup done when every one of wgs is.
func stressJoin(wgs []stressWG) *sync.WaitGroup {
	var all sync.WaitGroup
	for _, w := range wgs {
		all.Go(w.wg.Wait)
	}
	return &all
}

// stressWaitAll waits, within d in all, for every WaitGroup, and returns
// what returned those that are not done.
func stressWaitAll(wgs []stressWG, d time.Duration) []string {
	if stressWait(stressJoin(wgs), d) {
		return nil
	}
	var pending []string
	for _, w := range wgs {
		if !stressWait(w.wg, time.Millisecond) {
			pending = append(pending, w.what)
		}
	}
	return pending
}

// stressFacts is what the log says about one service.
type stressFacts struct {
	addCall, addReturn       int // of its first Add
	setLogger                []int
	removeCall, removeReturn int // the first of each
	resolved                 int
	initStart                []int
	initEnd, initPanic       int
	stopStart, stopEnd       []int
	failed                   []int // OnDependencyResolutionFailed about itself, by itself
}

func (f *stressFacts) accepted() bool    { return len(f.setLogger) > 0 }
func (f *stressFacts) removed() bool     { return f.removeCall >= 0 }
func (f *stressFacts) initialized() bool { return f.initEnd >= 0 }

// check verifies the round's log against what design §3 guarantees in every
// interleaving:
//   - Add: SetLogger at most once, during the first Add; a duplicate Add, or
//     an Add after a Shutdown call returned, is ignored (no SetLogger, no Init).
//   - Init at most once, only for an accepted service, after SetLogger and,
//     with dependencies, after DependenciesResolved returned true; a service
//     depending on one never added is never initialized, and if never
//     removed is told once that its resolution was canceled, after Shutdown.
//   - OnShutdown at most once, only if Init began (shutdown does not wait
//     for Inits: an Init may still run while its service is stopped); exactly once if the service was initialized
//     and never removed; never if a Remove of it returned before Shutdown
//     was called (a Remove racing with Shutdown may go either way); only
//     after Shutdown was called and before its WaitGroup is done.
//   - Order: the mesh orders by when Inits began. Of never-removed services
//     X and Y, Y surely began after X when X's Init-start record precedes a
//     record surely before Y's Init began (Y's first Add being called, or
//     its DependenciesResolved returning true). Then Y's OnShutdown ends
//     before X's begins if X or Y has dependencies, or a service with
//     dependencies surely began between them; consecutive dependency-free
//     services may stop concurrently, so nothing else is asserted. A service
//     with dependencies stops alone: no OnShutdown overlaps its own.
//   - Handlers: at most once per event and subject, only for accepted
//     subjects, in lifecycle order; exactly once for a never-removed handler
//     bound before the subject's Add (or the subject's Remove).
//   - Services(): the mesh first, no duplicates, only accepted services, in
//     the order added (consistently across snapshots); lists what was surely
//     added and not removed, and nothing surely removed.
func (r *stressRound) check(late *stressSvc, final []servicemesh.Service, stats *stressStats) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	faults := append([]string(nil), r.faults...)
	fail := func(format string, args ...any) { faults = append(faults, fmt.Sprintf(format, args...)) }

	facts := make(map[*stressSvc]*stressFacts, len(r.all))
	for _, c := range r.all {
		facts[c] = &stressFacts{addCall: -1, addReturn: -1, removeCall: -1, removeReturn: -1, resolved: -1, initEnd: -1, initPanic: -1}
	}
	first := func(p *int, seq int) {
		if *p < 0 {
			*p = seq
		}
	}
	type handlerKey struct {
		ev        stressEv
		owner, of *stressSvc
	}
	handled := make(map[handlerKey][]int)
	firstShutdownCall, firstShutdownReturn, shutdownWaited := -1, -1, -1
	for seq, rec := range r.log {
		f := facts[rec.svc]
		switch rec.ev {
		case stressEvAddCall:
			first(&f.addCall, seq)
		case stressEvAddReturn:
			first(&f.addReturn, seq)
		case stressEvSetLogger:
			f.setLogger = append(f.setLogger, seq)
		case stressEvRemoveCall:
			first(&f.removeCall, seq)
		case stressEvRemoveReturn:
			first(&f.removeReturn, seq)
		case stressEvResolved:
			first(&f.resolved, seq)
		case stressEvInitStart:
			f.initStart = append(f.initStart, seq)
		case stressEvInitEnd:
			first(&f.initEnd, seq)
		case stressEvInitPanic:
			first(&f.initPanic, seq)
		case stressEvStopStart:
			f.stopStart = append(f.stopStart, seq)
		case stressEvStopEnd:
			f.stopEnd = append(f.stopEnd, seq)
		case stressEvOnAdded, stressEvOnInitialized, stressEvOnRemoved, stressEvOnFailed:
			if rec.subj == nil {
				fail("%s: a handler was called with a subject that is not a service of the test", rec.svc.name)
				continue
			}
			k := handlerKey{rec.ev, rec.svc, rec.subj}
			handled[k] = append(handled[k], seq)
			if rec.ev == stressEvOnFailed && rec.subj == rec.svc {
				f.failed = append(f.failed, seq)
			}
		case stressEvShutdownCall:
			first(&firstShutdownCall, seq)
		case stressEvShutdownReturn:
			first(&firstShutdownReturn, seq)
		case stressEvShutdownWaited:
			first(&shutdownWaited, seq)
		}
	}

	// Shutdown: every call returns the same WaitGroup.
	for _, wg := range r.shutdownWGs {
		if wg != r.shutdownWGs[0] {
			fail("Shutdown returned different WaitGroups")
			break
		}
	}

	accepted := make(map[*stressSvc]bool)
	for _, c := range r.all {
		f := facts[c]
		if f.accepted() {
			accepted[c] = true
		}
	}

	// Per service: Add, SetLogger, resolution, Init, OnShutdown.
	for _, c := range r.all {
		f := facts[c]
		if len(f.setLogger) > 1 {
			fail("%s: SetLogger called %d times", c.name, len(f.setLogger))
		}
		if f.accepted() {
			if !(f.addCall < f.setLogger[0] && f.setLogger[0] < f.addReturn) {
				fail("%s: SetLogger was not called during its first Add (add %d..%d, SetLogger %d)", c.name, f.addCall, f.addReturn, f.setLogger[0])
			}
			if firstShutdownReturn >= 0 && f.addCall > firstShutdownReturn {
				fail("%s: accepted although its Add began after a Shutdown call returned", c.name)
			}
			stats.accepted++
		} else if f.addCall >= 0 {
			stats.lateAdds++
		}
		if c == late && (f.accepted() || len(f.initStart) > 0) {
			fail("%s: Add after Shutdown completed was not ignored (SetLogger %d, Init %d)", c.name, len(f.setLogger), len(f.initStart))
		}
		if len(f.initStart) > 1 {
			fail("%s: Init ran %d times", c.name, len(f.initStart))
		}
		if len(f.initStart) > 0 {
			is := f.initStart[0]
			if !f.accepted() {
				fail("%s: Init ran although it was never accepted (no SetLogger)", c.name)
			} else if is < f.setLogger[0] {
				fail("%s: Init began before SetLogger", c.name)
			}
			if c.hasDeps && (f.resolved < 0 || f.resolved > is) {
				fail("%s: Init began (%d) before DependenciesResolved returned true (%d)", c.name, is, f.resolved)
			}
			if c.panics != (f.initPanic >= 0) || c.panics == (f.initEnd >= 0) {
				fail("%s: Init ended inconsistently (panics %v, panic record %d, end record %d)", c.name, c.panics, f.initPanic, f.initEnd)
			}
			if c.panics {
				stats.panicked++
			} else {
				stats.initialized++
			}
		}
		for _, d := range c.deps {
			var dep *stressSvc
			for _, x := range r.all {
				if x.name == d {
					dep = x
				}
			}
			if (dep == nil || !accepted[dep]) && len(f.initStart) > 0 {
				fail("%s: Init ran although its dependency %s was never added", c.name, d)
			}
		}

		// Resolution failures reported to the service itself.
		if len(f.failed) > 1 {
			fail("%s: told %d times that its resolution failed", c.name, len(f.failed))
		}
		if c.hasDeps && f.accepted() {
			switch {
			case len(f.initStart) > 0 || f.resolved >= 0:
				if len(f.failed) > 0 {
					fail("%s: resolution reported failed although DependenciesResolved returned true: %v", c.name, r.log[f.failed[0]].err)
				}
			case !f.removed():
				if len(f.failed) != 1 {
					fail("%s: never resolved, never removed, but told %d times that its resolution failed", c.name, len(f.failed))
					break
				}
				stats.canceled++
				if err := r.log[f.failed[0]].err; !errors.Is(err, servicemesh.ErrDependencyResolutionCanceled) {
					fail("%s: resolution failed with %v, want an error wrapping ErrDependencyResolutionCanceled", c.name, err)
				}
				if seq := f.failed[0]; firstShutdownCall < 0 || seq < firstShutdownCall {
					fail("%s: resolution canceled (%d) before Shutdown was called (%d)", c.name, seq, firstShutdownCall)
				}
			}
		}

		// OnShutdown.
		if len(f.stopStart) != len(f.stopEnd) {
			fail("%s: OnShutdown began %d times but ended %d times", c.name, len(f.stopStart), len(f.stopEnd))
		}
		switch {
		case len(f.stopStart) > 1:
			fail("%s: OnShutdown ran %d times", c.name, len(f.stopStart))
		case len(f.stopStart) == 1 && len(f.initStart) == 0:
			// An Init that panics while shutdown begins may or may not be
			// seen as failed in time; one that never began is never stopped.
			fail("%s: OnShutdown ran although Init never began", c.name)
		case len(f.stopStart) == 0 && c.stops && f.accepted() && f.initialized() && !f.removed():
			fail("%s: initialized, never removed, but OnShutdown never ran", c.name)
		case len(f.stopStart) == 1 && f.removeReturn >= 0 && f.removeReturn < firstShutdownCall:
			// A Remove racing with Shutdown may go either way; one that
			// returned before Shutdown was called may not.
			fail("%s: OnShutdown ran although it was removed (%d) before Shutdown was called (%d)", c.name, f.removeReturn, firstShutdownCall)
		}
		if len(f.stopStart) > 0 {
			stats.stopped++
			if s := f.stopStart[0]; s < firstShutdownCall {
				fail("%s: OnShutdown began (%d) before Shutdown was called (%d)", c.name, s, firstShutdownCall)
			}
		}
		if len(f.stopEnd) > 0 && f.stopEnd[0] > shutdownWaited {
			fail("%s: OnShutdown ended (%d) after Shutdown's WaitGroup was done (%d)", c.name, f.stopEnd[0], shutdownWaited)
		}
		if f.removed() {
			stats.removes++
		}
	}

	// Stop order. A service that holds another in a field (a resolved
	// service holds its first dependency) stops before it: its OnShutdown
	// ends before the held one's begins. Nothing else is ordered.
	for _, x := range r.all {
		y := x.holds.Load()
		if y == nil {
			continue
		}
		fx, fy := facts[x], facts[y]
		if len(fx.stopEnd) != 1 || len(fy.stopStart) != 1 {
			continue // one of them was not stopped (removed, failed, or no OnShutdown)
		}
		stats.orderedPairs++
		if fy.stopStart[0] < fx.stopEnd[0] {
			fail("%s holds %s but its OnShutdown ended (%d) after %s's began (%d)",
				x.name, y.name, fx.stopEnd[0], y.name, fy.stopStart[0])
		}
	}

	// Handlers.
	for k, seqs := range handled {
		fo := facts[k.of]
		what := map[stressEv]string{stressEvOnAdded: "OnServiceAdded", stressEvOnInitialized: "OnServiceInitialized",
			stressEvOnRemoved: "OnServiceRemoved", stressEvOnFailed: "OnDependencyResolutionFailed"}[k.ev]
		if len(seqs) > 1 {
			fail("%s: %s(%s) called %d times", k.owner.name, what, k.of.name, len(seqs))
		}
		if !fo.accepted() {
			fail("%s: %s(%s) called for a service never added", k.owner.name, what, k.of.name)
			continue
		}
		s := seqs[0]
		switch k.ev {
		case stressEvOnAdded:
			if len(fo.initStart) > 0 && s > fo.initStart[0] {
				fail("%s: OnServiceAdded(%s) ran (%d) after %s's Init began (%d)", k.owner.name, k.of.name, s, k.of.name, fo.initStart[0])
			}
		case stressEvOnInitialized:
			if !fo.initialized() || s < fo.initEnd {
				fail("%s: OnServiceInitialized(%s) ran (%d) but its Init did not return normally before (%d)", k.owner.name, k.of.name, s, fo.initEnd)
			}
		case stressEvOnRemoved:
			if !fo.removed() || s < fo.removeCall {
				fail("%s: OnServiceRemoved(%s) ran (%d) before any Remove of it (%d)", k.owner.name, k.of.name, s, fo.removeCall)
			}
		case stressEvOnFailed:
			if !k.of.hasDeps || len(fo.initStart) > 0 {
				fail("%s: OnDependencyResolutionFailed(%s) although it has no dependencies or its Init ran", k.owner.name, k.of.name)
			}
		}
	}
	for _, h := range r.all {
		fh := facts[h]
		if !h.handlers || !fh.accepted() || fh.removed() {
			continue
		}
		for _, s := range r.all {
			fs := facts[s]
			if !fs.accepted() {
				continue
			}
			boundFirst := s == h || fh.addReturn < fs.addCall
			if boundFirst || fs.removed() && fh.addReturn < fs.removeCall {
				stats.handlerChecks++
			}
			if !fs.removed() && boundFirst {
				if n := len(handled[handlerKey{stressEvOnAdded, h, s}]); n != 1 {
					fail("%s: OnServiceAdded(%s) called %d times, want 1", h.name, s.name, n)
				}
				// An Init that returns once the shutdown began may do so
				// after it completed: then nothing is told (DESIGN §8).
				// So may one whose return the log records just before the
				// shutdown is called: the mesh notices the return a moment
				// after the record, and a shutdown that completes in that
				// moment (its lifecycle goroutine preempted, as under the
				// race detector on a busy machine) leaves it behind.
				late := firstShutdownCall >= 0
				if n := len(handled[handlerKey{stressEvOnInitialized, h, s}]); fs.initialized() && (n > 1 || n == 0 && !late) {
					fail("%s: OnServiceInitialized(%s) called %d times, want 1", h.name, s.name, n)
				}
			}
			if fs.removed() && fh.addReturn < fs.removeCall {
				// A Remove after the shutdown began may come after it
				// completed, when no event is told any more (DESIGN §8).
				late := firstShutdownCall >= 0 && fs.removeCall > firstShutdownCall
				if n := len(handled[handlerKey{stressEvOnRemoved, h, s}]); n > 1 || n == 0 && !late {
					fail("%s: OnServiceRemoved(%s) called %d times, want 1", h.name, s.name, n)
				}
			}
		}
	}

	// Services() snapshots.
	order := make(map[[2]*stressSvc]bool) // {a, b}: a was listed before b
	for _, sn := range r.snaps {
		stats.snapshots++
		if len(sn.list) == 0 || any(sn.list[0]) != any(r.mesh) {
			fail("Services() (%d) does not start with the mesh", sn.start)
			continue
		}
		listed := make(map[*stressSvc]int)
		var cores []*stressSvc
		for j, s := range sn.list[1:] {
			c := r.coreOf(s)
			if c == nil {
				if !stressIsExtra(s) { // extras are checked by checkExtras
					fail("Services() (%d) lists %v, not a service of the test", sn.start, s)
				}
				continue
			}
			if _, dup := listed[c]; dup {
				fail("Services() (%d) lists %s twice", sn.start, c.name)
				continue
			}
			listed[c] = j
			cores = append(cores, c)
			if !facts[c].accepted() {
				fail("Services() (%d) lists %s, which was never accepted", sn.start, c.name)
			}
			if f := facts[c]; f.removeReturn >= 0 && f.removeReturn < sn.start {
				fail("Services() (%d) lists %s, removed before (%d)", sn.start, c.name, f.removeReturn)
			}
		}
		for a, ca := range cores {
			for _, cb := range cores[a+1:] {
				if order[[2]*stressSvc{cb, ca}] {
					fail("Services() (%d) lists %s before %s; an earlier snapshot had them the other way", sn.start, ca.name, cb.name)
				}
				order[[2]*stressSvc{ca, cb}] = true
				if facts[cb].addReturn < facts[ca].addCall {
					fail("Services() (%d) lists %s before %s, which was added first", sn.start, ca.name, cb.name)
				}
			}
		}
		for _, c := range r.all {
			f := facts[c]
			if _, ok := listed[c]; !ok && f.accepted() && f.addReturn < sn.start && (!f.removed() || f.removeCall > sn.end) {
				fail("Services() (%d) misses %s, added (%d) and not removed", sn.start, c.name, f.addReturn)
			}
		}
	}
	r.checkServes(facts, shutdownWaited, stats, fail)                                                // stress_serve_test.go
	r.checkExtras(facts, firstShutdownCall, firstShutdownReturn, shutdownWaited, final, stats, fail) // stress_extra_test.go

	// After everything: exactly the services accepted and not removed.
	want := 1
	for _, c := range r.all {
		if f := facts[c]; f.accepted() && !f.removed() {
			want++
		}
	}
	if n := len(stressWithoutExtras(final)); n != want {
		fail("Services() after shutdown lists %d services, want %d (the mesh, and those added and not removed)", n, want)
	}
	return faults
}
