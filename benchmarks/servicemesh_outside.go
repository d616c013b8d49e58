package benchmarks

// Servicemesh-only measurements of services waiting for a dependency from
// outside the mesh: CPU while they wait, how long adding them takes, and how
// soon they notice it (O1, O2).

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gravestench/servicemesh"
)

// meshOutsider waits for a flag that something outside the mesh sets: its
// own, or one shared by many services.
type meshOutsider struct {
	name     string
	ready    *atomic.Bool  // the outside flag
	epoch    time.Time     // what initedAt counts from
	initedAt atomic.Int64  // time since epoch at the start of Init, -1 before
	inits    atomic.Int32  // Init calls
	early    atomic.Bool   // Init began while the flag was not set
	waiting  atomic.Bool   // ResolveDependencies has been called
	counter  *startCounter // told of the first ResolveDependencies call, if not nil
}

func newOutsider(name string, ready *atomic.Bool, epoch time.Time, counter *startCounter) *meshOutsider {
	s := &meshOutsider{name: name, ready: ready, epoch: epoch, counter: counter}
	s.initedAt.Store(-1)
	return s
}

func (s *meshOutsider) Name() string { return s.name }

func (s *meshOutsider) Init(servicemesh.Mesh) {
	if s.inits.Add(1) == 1 {
		s.initedAt.Store(int64(time.Since(s.epoch)))
	}
	if !s.ready.Load() {
		s.early.Store(true)
	}
}

func (s *meshOutsider) DependenciesResolved() bool { return s.ready.Load() }

// ResolveDependencies has nothing to find in the mesh; its first call tells
// that the service has been found unresolved once and now waits.
func (s *meshOutsider) ResolveDependencies([]servicemesh.Service) {
	if s.counter != nil && !s.waiting.Load() && s.waiting.CompareAndSwap(false, true) {
		s.counter.started()
	}
}

// check reports an error unless s was initialized exactly once, after its
// flag was set.
func (s *meshOutsider) check() error {
	switch n := s.inits.Load(); {
	case n == 0:
		return fmt.Errorf("service %s was not initialized", s.name)
	case n > 1:
		return fmt.Errorf("service %s was initialized %d times", s.name, n)
	case s.early.Load():
		return fmt.Errorf("service %s was initialized before its outside dependency was set", s.name)
	}
	return nil
}

// startCounter closes all once n services have started waiting.
type startCounter struct {
	n     int64
	count atomic.Int64
	all   chan struct{}
}

func newStartCounter(n int) *startCounter {
	return &startCounter{n: int64(n), all: make(chan struct{})}
}

func (c *startCounter) started() {
	if c.count.Add(1) == c.n {
		close(c.all)
	}
}

// Outside settings: how long every service may take to start waiting, and
// how long it may take to be initialized once its dependency is set, before
// the run counts as failed.
const (
	outsideStartLimit = 2 * time.Minute
	outsideWakeLimit  = time.Minute
)

// OutsideResult is what Outside measures.
type OutsideResult struct {
	// Add is the wall time from the first Add to the moment every Add has
	// returned and every service has called ResolveDependencies once, that
	// is, found its dependency missing and started waiting.
	Add time.Duration
	// CPU is the CPU time of the whole process (user+system, getrusage)
	// over the measuring window, divided by the window's wall time: the
	// share of one core the waiting costs.
	CPU float64
	// MaxWake is the longest delay, over the services, from the one flag
	// they all wait for being set to the service's Init starting.
	MaxWake time.Duration
}

// Outside adds n services to a new mesh whose dependency is one atomic.Bool
// shared by all of them and set by no service (an outside dependency), and
// measures the time to add them all until each is waiting; after warmup, so
// that their polling has backed off, the CPU the process uses over window;
// then it sets the flag and measures the delay until each service's Init
// starts. It checks that every service was initialized exactly once, none
// before the flag was set, and shuts the mesh down.
func Outside(n int, warmup, window time.Duration) (OutsideResult, error) {
	var res OutsideResult
	if n <= 0 {
		return res, errors.New("no services")
	}
	ns := serviceNames(n)
	ready := new(atomic.Bool)
	counter := newStartCounter(n)
	epoch := time.Now()
	svcs := make([]*meshOutsider, n)
	for i := range n {
		svcs[i] = newOutsider(ns[i], ready, epoch, counter)
	}
	wgs := make([]*sync.WaitGroup, n)
	m := newMesh("outsiders")
	// No timeout: on a slow machine, adding them all may take long enough
	// for the first ones to time out, which is not what is measured here.
	m.SetDependencyResolutionTimeout(0)
	abandon := func(err error) (OutsideResult, error) {
		ready.Store(true)
		m.Shutdown().Wait()
		return res, err
	}

	start := time.Now()
	for i, s := range svcs {
		wgs[i] = m.Add(s)
	}
	select {
	case <-counter.all:
		res.Add = time.Since(start)
	case <-time.After(outsideStartLimit):
		return abandon(fmt.Errorf("%d of %d services started waiting within %v", counter.count.Load(), n, outsideStartLimit))
	}

	time.Sleep(warmup)
	cpu0, err := processCPU()
	if err != nil {
		return abandon(err)
	}
	t0 := time.Now()
	time.Sleep(window)
	cpu1, err := processCPU()
	wall := time.Since(t0)
	if err != nil {
		return abandon(err)
	}
	res.CPU = float64(cpu1-cpu0) / float64(wall)

	setAt := time.Since(epoch)
	ready.Store(true)
	if !waitAllWithin(wgs, outsideWakeLimit) {
		return abandon(fmt.Errorf("the services were not all initialized within %v of their dependency being set", outsideWakeLimit))
	}
	m.Shutdown().Wait()
	for _, s := range svcs {
		if err := s.check(); err != nil {
			return res, err
		}
		res.MaxWake = max(res.MaxWake, time.Duration(s.initedAt.Load())-setAt)
	}
	return res, nil
}

// waitAllWithin waits on every WaitGroup, for at most limit in all, and
// reports whether they were all done in time.
func waitAllWithin(wgs []*sync.WaitGroup, limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		waitAll(wgs)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// WakeLatency adds n services each waiting for a flag of its own, waits for
// wait so that their polling has backed off to its ceiling, then sets the
// flags one by one, spacing apart, and returns for each service the delay
// from its flag being set to its Init starting, sorted.
func WakeLatency(n int, wait, spacing time.Duration) ([]time.Duration, error) {
	ns := serviceNames(n)
	epoch := time.Now()
	m := newMesh("outsiders")
	svcs := make([]*meshOutsider, n)
	wgs := make([]*sync.WaitGroup, n)
	for i := range n {
		svcs[i] = newOutsider(ns[i], new(atomic.Bool), epoch, nil)
		wgs[i] = m.Add(svcs[i])
	}
	time.Sleep(wait)
	setAt := make([]time.Duration, n)
	for i, s := range svcs {
		if i > 0 {
			time.Sleep(spacing)
		}
		setAt[i] = time.Since(epoch)
		s.ready.Store(true)
	}
	waitAll(wgs)
	m.Shutdown().Wait()
	lat := make([]time.Duration, n)
	for i, s := range svcs {
		if err := s.check(); err != nil {
			return nil, err
		}
		lat[i] = time.Duration(s.initedAt.Load()) - setAt[i]
	}
	slices.Sort(lat)
	return lat, nil
}
