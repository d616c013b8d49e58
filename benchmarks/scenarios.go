// Package benchmarks compares servicemesh with two other ways of wiring the
// services of one process: go.uber.org/fx and github.com/samber/do/v2.
//
// Each peer has a file (servicemesh.go, fx.go, do.go) implementing the same
// scenarios; scenarios_test.go runs every scenario for every peer as
// sub-benchmarks (BenchmarkS1/servicemesh, BenchmarkS1/fx, ...) and checks
// that each one does what it claims. See README.md.
//
// This is a separate module so that fx and do never enter the library's
// go.mod.
package benchmarks

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sizes of the scenarios.
const (
	S1Services      = 1000                 // S1: independent services, each with a logger
	S1LargeServices = 10_000               // S1Large: S1 with ten times the services
	S2Depth         = 100                  // S2: length of the dependency chain
	S3Dependents    = 200                  // S3: services that all need the db
	S4Services      = 50                   // S4: services with a slow stop hook
	S4StopDelay     = 2 * time.Millisecond // S4: how long each stop hook sleeps
	S5Depth         = 100                  // S5: length of the chain whose shutdown is timed

	RequireChainDepth      = 100    // RequireChain: length of the chain declared with Require
	RequireFanInDependents = 200    // RequireFanIn: services requiring the db, added last
	RequireWaiting         = 10_000 // RequireWaiters: services waiting on a Require never filled
)

// Peer is one system under test. Every scenario function runs the whole
// cycle it describes and returns an error if the cycle did not do what it
// should (a service not initialized, initialized too early, not stopped...),
// so the benchmarked code is the verified code.
type Peer struct {
	Name string

	// S1 creates a container, adds n independent services that each get a
	// logger, initializes them all and shuts down.
	S1 func(n int) error

	// S2 runs a chain of depth services where service i needs service i+1
	// and may only be initialized once that one's Init has finished.
	S2 func(depth int) error

	// S3 runs n services that all need one db service, added last.
	S3 func(n int) error

	// S4 sets up n initialized services whose stop hook sleeps delay and
	// returns the function that shuts them down, the part S4 times.
	S4 func(n int, delay time.Duration) (stop func() error, err error)

	// S5 sets up a chain of depth services in which service i holds (and
	// so depends on) service i-1, each with a stop hook that records its
	// position in a stopOrder, and returns the function that shuts them
	// down, the part S5 times. That function fails unless the stops ran
	// one at a time in the order depth-1, ..., 1, 0 (stopOrder.check).
	S5 func(depth int) (stop func() error, err error)

	// RequireChain is S2 with each link declaring what it needs:
	// servicemesh.Require on servicemesh, whose S2 uses the resolver loop
	// (HasDependencies). fx and do have one way to declare a dependency,
	// so theirs is their S2.
	RequireChain func(depth int) error

	// RequireFanIn is S3 declared with servicemesh.Require on servicemesh;
	// fx and do run their S3.
	RequireFanIn func(n int) error
}

// Peers lists the systems compared, servicemesh first: it is the baseline
// of every ratio.
var Peers = []Peer{ServiceMesh, Fx, Do}

var (
	namesMu sync.Mutex
	names   []string
)

// serviceNames returns at least n distinct names, "s0", "s1", ... They are
// made once and shared by every peer, so no peer pays for formatting them.
func serviceNames(n int) []string {
	namesMu.Lock()
	defer namesMu.Unlock()
	for i := len(names); i < n; i++ {
		names = append(names, "s"+strconv.Itoa(i))
	}
	return names[:n:n]
}

// order records the order in which services were initialized, and whether
// one was initialized before what it needs.
type order struct {
	mu    sync.Mutex
	ids   []int
	early []int
}

func newOrder(n int) *order { return &order{ids: make([]int, 0, n)} }

// add records that service i was initialized; ready tells whether what it
// needs had finished its own initialization by then.
func (o *order) add(i int, ready bool) {
	o.mu.Lock()
	o.ids = append(o.ids, i)
	if !ready {
		o.early = append(o.early, i)
	}
	o.mu.Unlock()
}

// checkChain verifies a chain of depth services was initialized from the
// end: depth-1 first, 0 last, none before its dependency.
func (o *order) checkChain(depth int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.countLocked(depth); err != nil {
		return err
	}
	for k, id := range o.ids {
		if id != depth-1-k {
			return fmt.Errorf("initialization %d was service %d, want %d (order %v)", k, id, depth-1-k, o.ids)
		}
	}
	return nil
}

// checkCount verifies that want services were initialized, none early.
func (o *order) checkCount(want int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.countLocked(want)
}

// countLocked is checkCount with o.mu held.
func (o *order) countLocked(want int) error {
	if len(o.early) > 0 {
		return fmt.Errorf("services %v were initialized before their dependency", o.early)
	}
	if len(o.ids) != want {
		return fmt.Errorf("%d services initialized, want %d", len(o.ids), want)
	}
	return nil
}

// expect reports an error unless got equals want.
func expect(what string, got int64, want int) error {
	if got != int64(want) {
		return fmt.Errorf("%d %s, want %d", got, what, want)
	}
	return nil
}

// stopOrder records the stops of a chain of n services in which service i
// holds service i-1 (service 0 holds nothing). Each stop hook calls stop
// with its position. A service may stop only once the service that holds
// it, i+1, has finished stopping, and the stops of a chain leave nothing
// to run side by side, so the one right record is n-1, n-2, ..., 0, one
// stop at a time.
type stopOrder struct {
	mu       sync.Mutex
	n        int
	ids      []int    // positions, in the order their stops began
	finished []bool   // whether the stop of each position has returned
	running  int      // stops begun and not returned
	bad      []string // what went wrong, the first maxStopFaults
}

// maxStopFaults bounds the faults a stopOrder keeps.
const maxStopFaults = 5

func newStopOrder(n int) *stopOrder {
	return &stopOrder{n: n, ids: make([]int, 0, n), finished: make([]bool, n)}
}

// stop is the stop hook of the service at position i.
func (s *stopOrder) stop(i int) {
	s.begin(i)
	s.end(i)
}

// begin records that the stop of position i began, and whether it began
// too early: while another stop was running, or before position i+1, which
// holds it, had finished stopping.
func (s *stopOrder) begin(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running++
	switch {
	case i < 0 || i >= s.n:
		s.faultLocked("a stop at position %d, outside the chain of %d", i, s.n)
	case s.finished[i]:
		s.faultLocked("service %d stopped twice", i)
	case s.running > 1:
		s.faultLocked("service %d began to stop while %d other stop(s) were running", i, s.running-1)
	case i+1 < s.n && !s.finished[i+1]:
		s.faultLocked("service %d began to stop before service %d, which holds it, had stopped", i, i+1)
	}
	s.ids = append(s.ids, i)
}

// end records that the stop of position i returned.
func (s *stopOrder) end(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	if i >= 0 && i < s.n {
		s.finished[i] = true
	}
}

func (s *stopOrder) faultLocked(format string, args ...any) {
	if len(s.bad) < maxStopFaults {
		s.bad = append(s.bad, fmt.Sprintf(format, args...))
	}
}

// check verifies, once the shutdown is over, that every service of the
// chain stopped exactly once, one at a time, in the order n-1, ..., 0.
func (s *stopOrder) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		return fmt.Errorf("stop order: %s (order %v)", strings.Join(s.bad, "; "), s.ids)
	}
	if s.running != 0 {
		return fmt.Errorf("stop order: %d stops still running", s.running)
	}
	if len(s.ids) != s.n {
		return fmt.Errorf("stop order: %d services stopped, want %d (order %v)", len(s.ids), s.n, s.ids)
	}
	for k, id := range s.ids {
		if id != s.n-1-k {
			return fmt.Errorf("stop order: stop %d was service %d, want %d (order %v)", k, id, s.n-1-k, s.ids)
		}
	}
	return nil
}
