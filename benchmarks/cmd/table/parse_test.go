package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundsOutput is the output of three interleaved rounds as run.sh makes
// it: each round a run of the test binary with -test.cpu 2,16 and
// -test.count 1, with its own header, and one EXTRA benchmark at
// GOMAXPROCS 2.
const roundsOutput = `goos: linux
goarch: amd64
pkg: github.com/gravestench/servicemesh/benchmarks
cpu: AMD EPYC
BenchmarkS1/servicemesh-2   	     331	   3000000 ns/op	 1097351 B/op	   13223 allocs/op
BenchmarkS1/servicemesh-16  	     345	   5000000 ns/op	 1097150 B/op	   13217 allocs/op
BenchmarkS1/do-2            	      80	  20000000 ns/op	 4893877 B/op	   42109 allocs/op
BenchmarkS1/do-16           	      63	  18000000 ns/op	 4882811 B/op	   42070 allocs/op
BenchmarkO1/servicemesh/services=1000-2 	1	1250000000 ns/op	12.1 add-ms	1.61 cpu-%-of-core	20.9 max-wake-ms
PASS
goos: linux
goarch: amd64
pkg: github.com/gravestench/servicemesh/benchmarks
cpu: AMD EPYC
BenchmarkS1/servicemesh-2   	     331	   4000000 ns/op	 1097351 B/op	   13223 allocs/op
BenchmarkS1/servicemesh-16  	     345	   6000000 ns/op	 1097150 B/op	   13217 allocs/op
BenchmarkS1/do-2            	      80	  10000000 ns/op	 4893877 B/op	   42109 allocs/op
BenchmarkS1/do-16           	      63	  19000000 ns/op	 4882811 B/op	   42070 allocs/op
    scenarios_test.go:12: a log line of a benchmark
BenchmarkS1/fx
BenchmarkS1/fx-2 --- FAIL: something
PASS
goos: linux
goarch: amd64
cpu: AMD EPYC
BenchmarkS1/servicemesh-2   	     331	   2000000 ns/op	 1097351 B/op	   13223 allocs/op
BenchmarkS1/servicemesh-16  	     345	   7000000 ns/op	 1097150 B/op	   13217 allocs/op
BenchmarkS1/do-2            	      80	  30000000 ns/op	 4893877 B/op	   42109 allocs/op
BenchmarkS1/do-16           	      63	  17000000 ns/op	 4882811 B/op	   42070 allocs/op
BenchmarkS2/servicemesh     	    1350	    972782 ns/op
PASS
`

func TestParseResults(t *testing.T) {
	r, err := parseResults(strings.NewReader(roundsOutput))
	require.NoError(t, err)
	assert.Equal(t, "AMD EPYC", r.cpu)
	assert.Equal(t, "linux/amd64", r.goos)
	assert.Equal(t, 3, r.runs())

	cases := []struct {
		name  string
		procs int
		unit  string
		want  float64 // median; 0: not measured
	}{
		{"S1/servicemesh", 2, "ns/op", 3e6},
		{"S1/servicemesh", 16, "ns/op", 6e6},
		{"S1/do", 2, "ns/op", 20e6},
		{"S1/do", 16, "ns/op", 18e6},
		{"S1/do", 16, "allocs/op", 42070},
		{"S1/servicemesh", 1, "ns/op", 0},
		{"S1/fx", 2, "ns/op", 0},
		{"S2/servicemesh", 1, "ns/op", 972782},
		{"O1/servicemesh/services=1000", 2, "cpu-%-of-core", 1.61},
		{"O1/servicemesh/services=1000", 2, "max-wake-ms", 20.9},
	}
	for _, c := range cases {
		got, ok := r.median(c.name, c.procs, c.unit)
		assert.Equal(t, c.want != 0, ok, "%s at %d in %s measured", c.name, c.procs, c.unit)
		assert.InDelta(t, c.want, got, 1e-9, "%s at %d in %s", c.name, c.procs, c.unit)
	}

	assert.Equal(t, []int{2, 16}, r.procsOf([]string{"S1"}))
	assert.Equal(t, []int{1, 2, 16}, r.procsOf([]string{"S1", "S2"}))
	assert.Empty(t, r.procsOf([]string{"S3"}))

	v, ok := r.single("O1/servicemesh/services=1000", "add-ms", 16)
	assert.True(t, ok, "single falls back to the GOMAXPROCS measured")
	assert.InDelta(t, 12.1, v, 1e-9)
}

func TestParseResultsEmpty(t *testing.T) {
	_, err := parseResults(strings.NewReader("goos: linux\nPASS\n"))
	assert.ErrorIs(t, err, errNoResults)
}

func TestMedianEvenRounds(t *testing.T) {
	r := &results{values: map[key]map[string][]float64{}}
	for _, line := range []string{
		"BenchmarkS3/do-2 1 40 ns/op",
		"BenchmarkS3/do-2 1 10 ns/op",
		"BenchmarkS3/do-2 1 30 ns/op",
		"BenchmarkS3/do-2 1 20 ns/op",
	} {
		parseBenchmark(r, line)
	}
	got, ok := r.median("S3/do", 2, "ns/op")
	require.True(t, ok)
	assert.InDelta(t, 25.0, got, 1e-9)
}
