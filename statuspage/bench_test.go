package statuspage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/statuspage"
)

// BenchmarkEventsPerChange measures what a change costs with the page's
// streams attached: a service is added and removed over and over (three
// changes each time: added→starting, starting→running, running→removed)
// while clients read /events over loopback HTTP. Every 500 rounds, and at
// the end, it waits, the clock stopped, until every client has read every
// change, so that no client lags (none is ever told of a loss: the
// benchmark fails if one is). The mesh's own readiness changes, told too,
// are not counted as changes.
//
//   - ns/change is the time per change of a service while the streams are
//     attached: what the mesh's callers see.
//   - cpu-ns/change is the CPU time of the whole process per change, the
//     waits for the clients included, so the work of every stream and of
//     the clients' reading too: the whole cost of a change.
//
// For comparison, mesh-alone has no subscriber, and bare-subscriber one
// Subscribe whose function does nothing: what the mesh itself spends on a
// subscriber.
func BenchmarkEventsPerChange(b *testing.B) {
	b.Run("mesh-alone", func(b *testing.B) { benchChanges(b, -1) })
	b.Run("bare-subscriber", func(b *testing.B) { benchChanges(b, 0) })
	for _, clients := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchChanges(b, clients) })
	}
}

// benchChanges runs BenchmarkEventsPerChange with clients reading
// /events, or with a bare subscriber (0), or with nothing (-1).
func benchChanges(b *testing.B, clients int) {
	m := servicemesh.New("bench")
	m.SetLogDestination(io.Discard)
	if clients == 0 {
		defer servicemesh.Subscribe(m, func(servicemesh.Change) {})()
	}
	clients = max(clients, 0)
	srv := httptest.NewServer(statuspage.Handler(m))
	ctx, cancel := context.WithCancel(context.Background())
	readers := make([]*benchReader, clients)
	var wg sync.WaitGroup
	for i := range readers {
		readers[i] = openBenchReader(b, ctx, srv, &wg)
	}
	caughtUp := func(n int) {
		b.StopTimer()
		defer b.StartTimer()
		for _, r := range readers {
			for r.removed.Load() < int64(n) && r.err.Load() == nil {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	svc := &plain{name: "svc"}
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	for i := range b.N {
		m.Add(svc).Wait()
		m.Remove(svc).Wait()
		if (i+1)%500 == 0 {
			caughtUp(i + 1)
		}
	}
	caughtUp(b.N)
	b.StopTimer()
	cpu1, _ := processCPU()
	changes := float64(3 * b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/changes, "ns/change")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/changes, "cpu-ns/change")
	}
	cancel()
	wg.Wait()
	for _, r := range readers {
		if err := r.err.Load(); err != nil {
			b.Fatal(*err)
		}
	}
	m.Shutdown().Wait()
	srv.Close()
}

// benchReader is one client of /events that counts the removals it reads.
type benchReader struct {
	removed atomic.Int64
	err     atomic.Pointer[string]
}

var (
	benchRemoved = []byte(`"to":"removed"`)
	benchLost    = []byte(`"lost":`)
)

func openBenchReader(b *testing.B, ctx context.Context, srv *httptest.Server, wg *sync.WaitGroup) *benchReader {
	b.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	r := &benchReader{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer resp.Body.Close()
		buf := make([]byte, 64<<10)
		keep := 0 // bytes of the last read kept, for a pattern cut in two
		for {
			n, err := resp.Body.Read(buf[keep:])
			if n > 0 {
				chunk := buf[:keep+n]
				r.removed.Add(int64(bytes.Count(chunk, benchRemoved)))
				if bytes.Contains(chunk, benchLost) {
					msg := "a client lagged"
					r.err.Store(&msg)
					return
				}
				keep = min(len(benchRemoved)-1, len(chunk))
				copy(buf, chunk[len(chunk)-keep:])
			}
			if err != nil {
				return // canceled at the end
			}
		}
	}()
	return r
}
