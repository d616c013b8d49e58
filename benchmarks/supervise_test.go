package benchmarks

import (
	"runtime"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
)

// backoffWindow is how long BenchmarkServeBackoff measures, from the first
// restart on. With the default policy the backoffs are 100 ms, 200 ms,
// 400 ms, 800 ms (±10 %), so the window holds the restarts after the
// second and third waits, and the run takes about 1.2 s.
const backoffWindow = time.Second

// BenchmarkServeBackoff reports the CPU the whole process uses while one
// service's Serve fails at once, every time, under the default restart
// policy, over backoffWindow from its first restart on (servicemesh only):
//
//   - cpu-%-of-core: the process's CPU time (getrusage) over the window, as
//     a share of one core; the mesh waits out a backoff on a timer, so this
//     should be nearly nothing;
//   - serves: how many times Serve was called in the window.
//
// The ns/op is the whole run and means nothing.
func BenchmarkServeBackoff(b *testing.B) {
	b.Run(ServiceMesh.Name, func(b *testing.B) {
		var cpu float64
		var calls int64
		for range b.N {
			runtime.GC()
			res, err := BackoffCPU(servicemesh.RestartPolicy{}, backoffWindow)
			if err != nil {
				b.Fatal(err)
			}
			cpu += res.CPU
			calls += res.Calls
		}
		b.ReportMetric(100*cpu/float64(b.N), "cpu-%-of-core")
		b.ReportMetric(float64(calls)/float64(b.N), "serves")
	})
}

// BenchmarkRestart reports the time one restart of a failing Serve takes,
// with a backoff of 1 ns (servicemesh only): one op is one restart, and
// ns/restart is measured from the first Serve call to the last, without
// setting the mesh up or shutting it down (which ns/op includes).
func BenchmarkRestart(b *testing.B) {
	b.Run(ServiceMesh.Name, func(b *testing.B) {
		b.ReportAllocs()
		per, err := RestartCost(b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(per, "ns/restart")
	})
}

// TestServeBackoff checks what BenchmarkServeBackoff relies on, over a
// shorter window: Serve is restarted, after a backoff (not at once), and
// the mesh has not given up on it.
func TestServeBackoff(t *testing.T) {
	res, err := BackoffCPU(servicemesh.RestartPolicy{}, 400*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The second call began the window at about 100 ms; the third comes
	// about 200 ms later, the fourth 400 ms after that. A slow machine may
	// oversleep the window; a restart without a backoff would make
	// thousands of calls.
	if res.Calls < 2 || res.Calls > 10 {
		t.Errorf("Serve was called %d times in 400 ms from its first restart, want 2 or 3", res.Calls)
	}
	if res.CPU < 0 || res.CPU > 1 {
		t.Errorf("the process used %.2f cores", res.CPU)
	}
}

// TestRestartCost checks what BenchmarkRestart relies on: n restarts, all
// counted, none given up on, each within a reasonable time.
func TestRestartCost(t *testing.T) {
	for _, n := range []int{1, 10, 1000} {
		per, err := RestartCost(n)
		if err != nil {
			t.Fatalf("%d restarts: %v", n, err)
		}
		if per <= 0 || per > float64(50*time.Millisecond) {
			t.Errorf("%d restarts: %.0f ns each", n, per)
		}
	}
}
