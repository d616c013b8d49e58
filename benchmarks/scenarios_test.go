package benchmarks

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
)

// Settings of the servicemesh-only measurements.
const (
	o1Warmup = 250 * time.Millisecond // let the resolvers' polling back off first
	o1Window = time.Second

	o2Services = 20
	o2Wait     = time.Second             // the polling has long reached its ceiling by then
	o2Spacing  = 2700 * time.Microsecond // 20 flags spread over more than one 40 ms poll period
)

// o1Sizes are the numbers of waiting services of BenchmarkO1.
var o1Sizes = []int{1000, 10_000}

// scaleSizes are the sizes of BenchmarkScale; the bar is on the ratio of
// their times.
var scaleSizes = []int{10_000, 100_000}

// Sizes of BenchmarkRemove and BenchmarkFanOut.
const (
	removeServices = 100_000 // services in the mesh
	removeBatch    = 1000    // Removes timed between two untimed refills
	fanOutHandlers = 1000    // services handling EventServiceAdded
	fanOutTrim     = 1000    // services added between two untimed trims
)

// forPeers runs bench once per peer, as sub-benchmarks named after the peer.
func forPeers(b *testing.B, bench func(b *testing.B, p Peer)) {
	for _, p := range Peers {
		b.Run(p.Name, func(b *testing.B) {
			b.ReportAllocs()
			bench(b, p)
		})
	}
}

// BenchmarkS1 runs S1Services independent services with loggers through a
// whole cycle: create, add, initialize, shut down.
func BenchmarkS1(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for b.Loop() {
			if err := p.S1(S1Services); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkS1Large is S1 with S1LargeServices services.
func BenchmarkS1Large(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 services per peer: skipped in short mode")
	}
	forPeers(b, func(b *testing.B, p Peer) {
		for b.Loop() {
			if err := p.S1(S1LargeServices); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkS2 runs a chain of S2Depth services through a whole cycle.
func BenchmarkS2(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for b.Loop() {
			if err := p.S2(S2Depth); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkS3 runs S3Dependents services needing one db, added last,
// through a whole cycle.
func BenchmarkS3(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for b.Loop() {
			if err := p.S3(S3Dependents); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkS4 times only the shutdown of S4Services services whose stop
// hook sleeps S4StopDelay; setting them up is not timed.
func BenchmarkS4(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for range b.N {
			b.StopTimer()
			stop, err := p.S4(S4Services, S4StopDelay)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := stop(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkS5 times only the shutdown of a chain of S5Depth services in
// which each holds the one before it; setting it up is not timed. Each
// shutdown must stop the chain one service at a time, from its end.
func BenchmarkS5(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for range b.N {
			b.StopTimer()
			stop, err := p.S5(S5Depth)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := stop(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequireChain runs a chain of RequireChainDepth services declared
// with servicemesh.Require through a whole cycle; fx and do run their S2.
func BenchmarkRequireChain(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for b.Loop() {
			if err := p.RequireChain(RequireChainDepth); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequireFanIn runs RequireFanInDependents services requiring one
// db, added last, declared with servicemesh.Require, through a whole cycle;
// fx and do run their S3.
func BenchmarkRequireFanIn(b *testing.B) {
	forPeers(b, func(b *testing.B, p Peer) {
		for b.Loop() {
			if err := p.RequireFanIn(RequireFanInDependents); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequireWaiters measures RequireWaiting services waiting on a
// requirement no service fills (servicemesh only: in fx and do a missing
// dependency is an error, not a wait), with RequireWaiters:
//   - B/waiter: the growth of the live heap per waiting service (mean);
//   - goroutines: the growth of runtime.NumGoroutine while they wait (max);
//   - add-ms: the wall time to add them until each waits (mean).
//
// The ns/op is the whole run, the mesh's 100 ms of settling before it names
// the missing requirements included, and means nothing.
func BenchmarkRequireWaiters(b *testing.B) {
	b.Run(fmt.Sprintf("%s/services=%d", ServiceMesh.Name, RequireWaiting), func(b *testing.B) {
		var bytes, add float64
		goroutines := 0
		for range b.N {
			res, err := RequireWaiters(RequireWaiting)
			if err != nil {
				b.Fatal(err)
			}
			bytes += res.BytesPerWaiter
			add += ms(res.Add)
			goroutines = max(goroutines, res.Goroutines)
		}
		b.ReportMetric(bytes/float64(b.N), "B/waiter")
		b.ReportMetric(float64(goroutines), "goroutines")
		b.ReportMetric(add/float64(b.N), "add-ms")
	})
}

// BenchmarkO1 measures, for each size in o1Sizes, services that wait for a
// dependency from outside the mesh (servicemesh only: the others have no
// such waiting), with Outside:
//   - cpu-%-of-core: the CPU the whole process uses while they wait, after
//     o1Warmup of settling, over o1Window (mean over the iterations);
//   - add-ms: the wall time to add them all until each is waiting (mean);
//   - max-wake-ms: the longest delay from the one flag they all wait for
//     being set to a service's Init starting (max over the iterations).
//
// The ns/op is the whole run, settling and window included, and means
// nothing.
func BenchmarkO1(b *testing.B) {
	for _, n := range o1Sizes {
		b.Run(fmt.Sprintf("%s/services=%d", ServiceMesh.Name, n), func(b *testing.B) {
			if n > 1000 {
				if testing.Short() {
					b.Skip("skipped in short mode")
				}
			}
			var cpu float64
			var add, wake time.Duration
			for range b.N {
				// Start from a collected heap, so that garbage left by an
				// earlier benchmark is not collected in the window.
				runtime.GC()
				res, err := Outside(n, o1Warmup, o1Window)
				if err != nil {
					b.Fatal(err)
				}
				cpu += res.CPU
				add += res.Add
				wake = max(wake, res.MaxWake)
			}
			b.ReportMetric(100*cpu/float64(b.N), "cpu-%-of-core")
			b.ReportMetric(ms(add)/float64(b.N), "add-ms")
			b.ReportMetric(ms(wake), "max-wake-ms")
		})
	}
}

// BenchmarkO2 reports the delay from an outside dependency arriving to the
// waiting service's Init starting, after o2Wait of waiting, as the p50 and
// max over o2Services services per iteration (servicemesh only).
func BenchmarkO2(b *testing.B) {
	b.Run(ServiceMesh.Name, func(b *testing.B) {
		var all []time.Duration
		for range b.N {
			lat, err := WakeLatency(o2Services, o2Wait, o2Spacing)
			if err != nil {
				b.Fatal(err)
			}
			all = append(all, lat...)
		}
		slices.Sort(all)
		b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
		b.ReportMetric(ms(all[len(all)-1]), "max-ms")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkScale runs add+init+shutdown of many independent services
// (servicemesh only); time(100k)/time(10k) shows how the mesh scales.
func BenchmarkScale(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("%s/services=%d", ServiceMesh.Name, n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				// Start each run from a collected heap, so that garbage
				// left by the previous run or benchmark is not charged
				// to this one.
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				if err := Scale(n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/service")
		})
	}
}

// BenchmarkRemove times Remove in a mesh of removeServices initialized
// services (servicemesh only): each op is one Remove of a service taken at
// random from the whole mesh, with the wait on its WaitGroup. The Removes
// are timed in batches of removeBatch; between batches, untimed, as many
// new services are added and initialized, so the mesh keeps between
// removeServices-removeBatch and removeServices services.
func BenchmarkRemove(b *testing.B) {
	b.Run(fmt.Sprintf("%s/services=%d", ServiceMesh.Name, removeServices), func(b *testing.B) {
		if testing.Short() {
			b.Skip("100,000 services: skipped in short mode")
		}
		b.ReportAllocs()
		b.StopTimer()
		r, err := NewRemoveBench(removeServices)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.ResetTimer()
		for done := 0; done < b.N && err == nil; {
			k := min(removeBatch, b.N-done)
			b.StartTimer()
			err = r.Remove(k)
			b.StopTimer()
			r.Refill()
			done += k
		}
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFanOut times adding one independent service to a mesh of
// fanOutHandlers services implementing EventHandlerServiceAdded, until its
// Init, which follows its EventServiceAdded having reached every handler
// (servicemesh only). ns/handler-call is the time per op divided by
// fanOutHandlers; it includes the rest of the added service's lifecycle.
// Every fanOutTrim ops the added services are removed, untimed.
func BenchmarkFanOut(b *testing.B) {
	b.Run(fmt.Sprintf("%s/handlers=%d", ServiceMesh.Name, fanOutHandlers), func(b *testing.B) {
		b.ReportAllocs()
		b.StopTimer()
		f, err := NewFanOutBench(fanOutHandlers)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.ResetTimer()
		b.StartTimer()
		for i := range b.N {
			if i > 0 && i%fanOutTrim == 0 {
				b.StopTimer()
				f.Trim()
				b.StartTimer()
			}
			f.Add()
		}
		b.StopTimer()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanOutHandlers), "ns/handler-call")
	})
}

// TestScenarios checks that every scenario does what it claims for every
// peer: all services initialized, the chain in order, the db first, every
// stop hook run. Each scenario function verifies its own cycle.
func TestScenarios(t *testing.T) {
	for _, p := range Peers {
		t.Run(p.Name, func(t *testing.T) {
			t.Run("S1", func(t *testing.T) {
				if err := p.S1(S1Services); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("S2", func(t *testing.T) {
				if err := p.S2(S2Depth); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("S3", func(t *testing.T) {
				if err := p.S3(S3Dependents); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("S4", func(t *testing.T) {
				stop, err := p.S4(S4Services, S4StopDelay)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); took < S4StopDelay {
					t.Fatalf("shutdown took %v, less than one stop hook's %v", took, S4StopDelay)
				}
			})
			t.Run("S5", func(t *testing.T) {
				stop, err := p.S5(S5Depth)
				if err != nil {
					t.Fatal(err)
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("RequireChain", func(t *testing.T) {
				if err := p.RequireChain(RequireChainDepth); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("RequireFanIn", func(t *testing.T) {
				if err := p.RequireFanIn(RequireFanInDependents); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestOrderChecks makes sure the checks the scenarios rely on catch a
// wrong order.
func TestOrderChecks(t *testing.T) {
	o := newOrder(3)
	o.add(2, true)
	o.add(0, true)
	o.add(1, true)
	if o.checkChain(3) == nil {
		t.Error("checkChain accepted the order 2, 0, 1")
	}
	o = newOrder(2)
	o.add(0, false)
	o.add(1, true)
	if o.checkCount(2) == nil {
		t.Error("checkCount accepted a service initialized before its dependency")
	}
}

// TestStopOrderCheck makes sure the check S5 relies on accepts only the
// stop of the chain one at a time from its end.
func TestStopOrderCheck(t *testing.T) {
	const n = 4
	cases := []struct {
		name string
		run  func(s *stopOrder)
		ok   bool
	}{
		{"from the end", func(s *stopOrder) {
			for i := n - 1; i >= 0; i-- {
				s.stop(i)
			}
		}, true},
		{"from the start", func(s *stopOrder) {
			for i := range n {
				s.stop(i)
			}
		}, false},
		{"one missing", func(s *stopOrder) {
			for i := n - 1; i >= 1; i-- {
				s.stop(i)
			}
		}, false},
		{"one twice", func(s *stopOrder) {
			for i := n - 1; i >= 0; i-- {
				s.stop(i)
			}
			s.stop(0)
		}, false},
		{"two at once, in order", func(s *stopOrder) {
			s.stop(3)
			s.begin(2)
			s.begin(1)
			s.end(2)
			s.end(1)
			s.stop(0)
		}, false},
		{"before its holder", func(s *stopOrder) {
			s.stop(3)
			s.stop(1)
			s.stop(2)
			s.stop(0)
		}, false},
		{"while its holder stops", func(s *stopOrder) {
			s.stop(3)
			s.begin(2)
			s.stop(1)
			s.end(2)
			s.stop(0)
		}, false},
		{"outside the chain", func(s *stopOrder) {
			for i := n; i >= 0; i-- {
				s.stop(i)
			}
		}, false},
	}
	for _, c := range cases {
		s := newStopOrder(n)
		c.run(s)
		if err := s.check(); (err == nil) != c.ok {
			t.Errorf("%s: check returned %v", c.name, err)
		}
	}
}

// TestS5Graph checks that the mesh sees the S5 chain: service i depends on
// service i-1 and on nothing else.
func TestS5Graph(t *testing.T) {
	m, stops := newMeshChain(S5Depth)
	g := servicemesh.Graph(m)
	m.Shutdown().Wait()
	if err := stops.check(); err != nil {
		t.Error(err)
	}
	name := make(map[int]string, len(g.Nodes))
	for _, n := range g.Nodes {
		name[n.ID] = n.Name
	}
	ns := serviceNames(S5Depth)
	want := make(map[[2]string]bool, S5Depth-1)
	for i := 1; i < S5Depth; i++ {
		want[[2]string{ns[i], ns[i-1]}] = true
	}
	for _, e := range g.Edges {
		k := [2]string{name[e.From], name[e.To]}
		if !want[k] || e.Mesh {
			t.Errorf("unexpected edge %s -> %s (mesh: %v)", k[0], k[1], e.Mesh)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("%d edges of the chain are missing from the graph", len(want))
	}
}

// TestRequireChainGraph checks that the mesh sees the RequireChain chain as
// declared: service i depends on service i+1 and on nothing else, each edge
// marked declared.
func TestRequireChainGraph(t *testing.T) {
	m, o, err := newMeshRequireChain(RequireChainDepth)
	if err != nil {
		t.Fatal(err)
	}
	g := servicemesh.Graph(m)
	m.Shutdown().Wait()
	if err := o.checkChain(RequireChainDepth); err != nil {
		t.Error(err)
	}
	name := make(map[int]string, len(g.Nodes))
	for _, n := range g.Nodes {
		name[n.ID] = n.Name
	}
	ns := serviceNames(RequireChainDepth)
	want := make(map[[2]string]bool, RequireChainDepth-1)
	for i := range RequireChainDepth - 1 {
		want[[2]string{ns[i], ns[i+1]}] = true
	}
	for _, e := range g.Edges {
		k := [2]string{name[e.From], name[e.To]}
		if !want[k] || !e.Declared || e.Mesh {
			t.Errorf("unexpected edge %s -> %s (declared: %v, mesh: %v)", k[0], k[1], e.Declared, e.Mesh)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("%d edges of the chain are missing from the graph", len(want))
	}
}

// TestOutsiders runs small versions of O1 and O2: every waiting service is
// initialized once its flag is set, not before. The bars are checked on the
// benchmark runs, not here (this test may run under the race detector).
func TestOutsiders(t *testing.T) {
	res, err := Outside(200, 100*time.Millisecond, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("O1 (200 services, 200 ms): %.2f%% of a core, added in %v, max wake %v", 100*res.CPU, res.Add, res.MaxWake)
	if res.Add <= 0 || res.MaxWake <= 0 {
		t.Errorf("add time %v and wake delay %v should be positive", res.Add, res.MaxWake)
	}
	if res.MaxWake > time.Second {
		t.Errorf("an outside dependency took %v to be noticed", res.MaxWake)
	}
	lat, err := WakeLatency(5, 300*time.Millisecond, o2Spacing)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("O2 (5 services): latencies %v", lat)
	if max := lat[len(lat)-1]; max > time.Second {
		t.Errorf("an outside dependency took %v to be noticed", max)
	}
}

// TestRemove runs a small version of BenchmarkRemove, and makes sure its
// final check catches a removed service that is back in the mesh.
func TestRemove(t *testing.T) {
	r, err := NewRemoveBench(2000)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 999, 1000} {
		if err := r.Remove(k); err != nil {
			r.Close()
			t.Fatal(err)
		}
		r.Refill()
	}
	if err := r.Remove(2000); err != nil {
		r.Close()
		t.Fatal(err)
	}
	if err := r.Remove(1); err == nil {
		t.Error("Remove took more services than the mesh holds")
	}
	r.Refill()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r, err = NewRemoveBench(10)
	if err != nil {
		t.Fatal(err)
	}
	gone := r.slots[r.order[0]]
	if err := r.Remove(1); err != nil {
		r.Close()
		t.Fatal(err)
	}
	r.Refill()
	r.m.Add(gone).Wait()
	if r.Close() == nil {
		t.Error("Close accepted a removed service back in the mesh")
	}
}

// TestFanOut runs a small version of BenchmarkFanOut: every handler hears
// of every added service.
func TestFanOut(t *testing.T) {
	f, err := NewFanOutBench(100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if i > 0 && i%20 == 0 {
			f.Trim()
		}
		f.Add()
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestScale runs the scale scenario at a size the race detector allows
// (it limits the number of live goroutines).
func TestScale(t *testing.T) {
	if err := Scale(2000); err != nil {
		t.Fatal(err)
	}
}

// Bounds of TestRequireWaiters (DESIGN §7): a service waiting on a Require
// costs the mesh a record, not a goroutine.
const (
	maxBytesPerWaiter = 1024
	maxWaiterRoutines = 100
)

// TestRequireWaiters checks that RequireWaiting services waiting on a
// requirement no service fills cost the mesh at most maxBytesPerWaiter of
// heap each and at most maxWaiterRoutines goroutines in all, with the race
// detector too: a waiting service is a record, not a goroutine (its
// memory is not on the Go heap).
func TestRequireWaiters(t *testing.T) {
	n := RequireWaiting
	res, err := RequireWaiters(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d waiters: %.0f B each, %d goroutines, added in %v", n, res.BytesPerWaiter, res.Goroutines, res.Add)
	if res.BytesPerWaiter > maxBytesPerWaiter {
		t.Errorf("%.0f B of heap per waiting service, want at most %d", res.BytesPerWaiter, maxBytesPerWaiter)
	}
	if res.Goroutines > maxWaiterRoutines {
		t.Errorf("%d goroutines while %d services wait, want at most %d", res.Goroutines, n, maxWaiterRoutines)
	}
}
