package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderBars checks which bars the table judges, and how: at each
// GOMAXPROCS up to the machine's cores, on servicemesh's time over fx's
// and do's, and the largest GOMAXPROCS over the smallest only where the
// machine has that many cores.
func TestRenderBars(t *testing.T) {
	cases := []struct {
		name       string
		mesh2      string // servicemesh's S1 ns/op at GOMAXPROCS 2
		cores      int
		wantFailed int
		want       []string // lines the section must have
	}{
		{"fast, 2 cores", "3000000", 2, 0, []string{
			"| S1: servicemesh ≤ 0.3 × do, -cpu 2 | 0.150 × do | pass |",
			"| S1: servicemesh ≤ 0.1 × fx, -cpu 2 | 0.075 × fx | pass |",
			"| S1: servicemesh ≤ 0.3 × do, -cpu 16 | 0.500 × do | not judged: GOMAXPROCS 16 on 2 cores |",
			"| S1: servicemesh at -cpu 16 ≤ 1.2 × at -cpu 2 | 3.33 × | not judged: GOMAXPROCS 16 on 2 cores |",
			"| S2: servicemesh ≤ 2 × do, -cpu 2 | — | not measured |",
			"| **S1**: 1000 independent services with loggers, whole cycle | servicemesh | 3 ms | 10 ms | 3.33 | — | — | 1,000 | 10 |",
			"|  | do | 20 ms | 20 ms | 1.00 | 0.150 | 0.500 | 2,000 | 20 |",
		}},
		{"slow, 2 cores", "8000000", 2, 2, []string{
			"| S1: servicemesh ≤ 0.3 × do, -cpu 2 | 0.400 × do | FAIL |",
			"| S1: servicemesh ≤ 0.1 × fx, -cpu 2 | 0.200 × fx | FAIL |",
		}},
		{"fast, 16 cores", "3000000", 16, 3, []string{
			"| S1: servicemesh ≤ 0.3 × do, -cpu 2 | 0.150 × do | pass |",
			"| S1: servicemesh ≤ 0.3 × do, -cpu 16 | 0.500 × do | FAIL |",
			"| S1: servicemesh ≤ 0.1 × fx, -cpu 16 | 0.250 × fx | FAIL |",
			"| S1: servicemesh at -cpu 16 ≤ 1.2 × at -cpu 2 | 3.33 × | FAIL |",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := strings.Join([]string{
				"BenchmarkS1/servicemesh-2 1 " + c.mesh2 + " ns/op 1000 B/op 10 allocs/op",
				"BenchmarkS1/servicemesh-16 1 10000000 ns/op 1000 B/op 10 allocs/op",
				"BenchmarkS1/fx-2 1 40000000 ns/op 3000 B/op 30 allocs/op",
				"BenchmarkS1/fx-16 1 40000000 ns/op 3000 B/op 30 allocs/op",
				"BenchmarkS1/do-2 1 20000000 ns/op 2000 B/op 20 allocs/op",
				"BenchmarkS1/do-16 1 20000000 ns/op 2000 B/op 20 allocs/op",
			}, "\n")
			r, err := parseResults(strings.NewReader(out))
			require.NoError(t, err)
			section, failed := render(r, header{cores: c.cores})
			assert.Equal(t, c.wantFailed, failed)
			for _, line := range c.want {
				assert.Contains(t, section, line+"\n")
			}
			assert.Contains(t, section, "were not part of this run", "no servicemesh-only measurement was given")
			assert.NotContains(t, section, "**S1 at 10k**", "an optional scenario not measured is left out")
		})
	}
}
