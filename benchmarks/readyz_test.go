package benchmarks

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
)

// readyzServices is the size of the mesh BenchmarkReadyz probes.
const readyzServices = 100

// BenchmarkReadyz times one GET /readyz, served by health.Handler into an
// httptest.ResponseRecorder, against a mesh of readyzServices running
// services: one in five with Ready, one in five with a HealthCheck that
// passes at once (servicemesh only).
//
//   - cache=warm: probe after probe. A HealthCheck's result is used for a
//     second, so almost every probe is answered from the cache; about once
//     a second of wall time one probe runs the checks again, a cost spread
//     over every probe of that second.
//   - cache=cold: before each probe, untimed, the services with a
//     HealthCheck are removed and new ones added in their place, so the
//     probe finds no cached result and runs every check, in parallel, and
//     waits for them. It also drops the mesh's records of the removed
//     services. Waiting out the cache's second instead would make each op
//     last a second.
func BenchmarkReadyz(b *testing.B) {
	for _, cache := range []string{"warm", "cold"} {
		b.Run(fmt.Sprintf("%s/services=%d/cache=%s", ServiceMesh.Name, readyzServices, cache), func(b *testing.B) {
			b.ReportAllocs()
			b.StopTimer()
			r, err := NewReadyzBench(readyzServices)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			if err := r.Probe(); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			before := r.Checks()
			start := time.Now()
			b.ResetTimer()
			if cache == "warm" {
				b.StartTimer()
				for range b.N {
					if err := r.Probe(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				// The cache bounds the checks: one per service per second,
				// with one more for a second begun.
				limit := int64(r.Checked()) * (int64(time.Since(start)/time.Second) + 2)
				if got := r.Checks() - before; got > limit {
					b.Fatalf("%d HealthChecks in %v of probes, more than %d", got, time.Since(start), limit)
				}
				return
			}
			for range b.N {
				r.Chill()
				b.StartTimer()
				err := r.Probe()
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
			}
			// Every cold probe ran every check (each check is made once).
			if got, want := r.Checks()-before, int64(b.N*r.Checked()); got != want {
				b.Fatalf("%d HealthChecks in %d cold probes of %d checked services, want %d", got, b.N, r.Checked(), want)
			}
		})
	}
}

// TestReadyz checks what BenchmarkReadyz relies on: the probe passes on a
// ready mesh; a probe right after another runs no check; one after Chill
// runs every check once; and the probe fails once the shutdown begins.
func TestReadyz(t *testing.T) {
	r, err := NewReadyzBench(readyzServices)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Checked() != readyzServices/5 {
		t.Fatalf("%d services with a HealthCheck, want %d", r.Checked(), readyzServices/5)
	}
	if err := r.Probe(); err != nil {
		t.Fatal(err)
	}
	before := r.Checks()
	if err := r.Probe(); err != nil {
		t.Fatal(err)
	}
	// A second may have passed under -race on a slow machine.
	if got := r.Checks() - before; got != 0 && got != int64(r.Checked()) {
		t.Errorf("a warm probe ran %d checks", got)
	}
	for range 3 {
		r.Chill()
		before = r.Checks()
		if err := r.Probe(); err != nil {
			t.Fatal(err)
		}
		if got := r.Checks() - before; got != int64(r.Checked()) {
			t.Errorf("a cold probe ran %d checks, want %d", got, r.Checked())
		}
	}
	if n := len(r.m.Services()) - 1; n != readyzServices {
		t.Errorf("the mesh has %d services, want %d", n, readyzServices)
	}
	r.m.Shutdown()
	if r.Probe() == nil {
		t.Error("/readyz passed once the shutdown had begun")
	}
	if servicemesh.Ready(r.m) {
		t.Error("the mesh is ready once the shutdown has begun")
	}
}
