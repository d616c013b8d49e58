package main

// Reading the output of the benchmarks: one line per benchmark, per round
// and per -cpu value, e.g. BenchmarkS1/servicemesh-16, in any order.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// key names one benchmark at one GOMAXPROCS: "S1/servicemesh" at 16 for
// the line BenchmarkS1/servicemesh-16.
type key struct {
	name  string
	procs int
}

// results holds every value measured, by benchmark, GOMAXPROCS and unit.
type results struct {
	cpu    string                       // the "cpu:" line of the output
	goos   string                       // "goos/goarch"
	values map[key]map[string][]float64 // unit -> one value per round
}

// median returns the median of the values of name at procs in unit.
func (r *results) median(name string, procs int, unit string) (float64, bool) {
	vs := r.values[key{name, procs}][unit]
	if len(vs) == 0 {
		return 0, false
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}

// procsOf returns, in increasing order, the GOMAXPROCS values at which a
// benchmark whose name begins with one of the ids and a slash was measured.
func (r *results) procsOf(ids []string) []int {
	var out []int
	for k := range r.values {
		id, _, _ := strings.Cut(k.name, "/")
		if slices.Contains(ids, id) && !slices.Contains(out, k.procs) {
			out = append(out, k.procs)
		}
	}
	slices.Sort(out)
	return out
}

// single returns the median of name in unit for a benchmark reported at
// one GOMAXPROCS: the machine's cores if it was measured there, else the
// smallest value it was measured at.
func (r *results) single(name, unit string, cores int) (float64, bool) {
	if v, ok := r.median(name, cores, unit); ok {
		return v, true
	}
	best := 0
	for k := range r.values {
		if k.name == name && len(r.values[k][unit]) > 0 && (best == 0 || k.procs < best) {
			best = k.procs
		}
	}
	if best == 0 {
		return 0, false
	}
	return r.median(name, best, unit)
}

// runs returns the largest number of rounds measured for one benchmark.
func (r *results) runs() int {
	n := 0
	for _, units := range r.values {
		n = max(n, len(units["ns/op"]))
	}
	return n
}

func readResults(path string) (*results, error) {
	var f io.Reader = os.Stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		f = file
	}
	r, err := parseResults(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// parseResults reads benchmark output: the header lines (goos, goarch,
// cpu), repeated once per round or not, and the result lines.
func parseResults(in io.Reader) (*results, error) {
	r := &results{values: map[key]map[string][]float64{}}
	var goos, goarch string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "cpu: "):
			r.cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "goos: "):
			goos = strings.TrimPrefix(line, "goos: ")
		case strings.HasPrefix(line, "goarch: "):
			goarch = strings.TrimPrefix(line, "goarch: ")
		case strings.HasPrefix(line, "Benchmark"):
			parseBenchmark(r, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.values) == 0 {
		return nil, errNoResults
	}
	if goos != "" {
		r.goos = goos + "/" + goarch
	}
	return r, nil
}

var errNoResults = errors.New("no benchmark results")

// procSuffix is the -N that go test appends to a benchmark's name when
// GOMAXPROCS is N > 1.
var procSuffix = regexp.MustCompile(`-(\d+)$`)

// parseBenchmark records one result line:
// BenchmarkS1/fx-2  36  31987007 ns/op  17350475 B/op  211780 allocs/op
// A name without a -N suffix ran at GOMAXPROCS 1. Lines that are not
// results (a benchmark's log, a name without numbers) are ignored.
func parseBenchmark(r *results, line string) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return
	}
	k := key{name: strings.TrimPrefix(f[0], "Benchmark"), procs: 1}
	if m := procSuffix.FindStringSubmatchIndex(k.name); m != nil {
		n, err := strconv.Atoi(k.name[m[2]:m[3]])
		if err != nil || n < 1 {
			return
		}
		k.name, k.procs = k.name[:m[0]], n
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		if r.values[k] == nil {
			r.values[k] = map[string][]float64{}
		}
		r.values[k][f[i+1]] = append(r.values[k][f[i+1]], v)
	}
}
