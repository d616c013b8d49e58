package benchmarks

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// Settings of the servicemesh-only measurements.
const (
	o1Services = 1000
	o1Warmup   = 250 * time.Millisecond // let the resolvers' polling back off first
	o1Window   = time.Second

	o2Services = 20
	o2Wait     = time.Second             // the polling has long reached its ceiling by then
	o2Spacing  = 2700 * time.Microsecond // 20 flags spread over more than one 40 ms poll period
)

// scaleSizes are the sizes of BenchmarkScale; the bar is on the ratio of
// their times.
var scaleSizes = []int{10_000, 100_000}

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

// BenchmarkO1 reports, as cpu-%-of-core, the CPU the whole process uses
// while o1Services services wait for dependencies that come from outside
// the mesh (servicemesh only: the others have no such waiting).
func BenchmarkO1(b *testing.B) {
	b.Run(ServiceMesh.Name, func(b *testing.B) {
		var sum float64
		for range b.N {
			frac, err := IdleCPU(o1Services, o1Warmup, o1Window)
			if err != nil {
				b.Fatal(err)
			}
			sum += frac
		}
		b.ReportMetric(100*sum/float64(b.N), "cpu-%-of-core")
	})
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

// TestOutsiders runs small versions of O1 and O2: every waiting service is
// initialized once its flag is set. The bars are checked on the benchmark
// runs, not here (this test may run under the race detector).
func TestOutsiders(t *testing.T) {
	frac, err := IdleCPU(100, 100*time.Millisecond, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("O1 (100 services, 200 ms): %.2f%% of a core", 100*frac)
	lat, err := WakeLatency(5, 300*time.Millisecond, o2Spacing)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("O2 (5 services): latencies %v", lat)
	if max := lat[len(lat)-1]; max > time.Second {
		t.Errorf("an outside dependency took %v to be noticed", max)
	}
}

// TestScale runs the scale scenario at a size the race detector allows
// (it limits the number of live goroutines).
func TestScale(t *testing.T) {
	if err := Scale(2000); err != nil {
		t.Fatal(err)
	}
}
