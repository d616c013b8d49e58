// Command table turns the output of the benchmarks in this module into the
// results section of README.md: medians per scenario and peer, the ratio of
// each peer to servicemesh, the servicemesh-only measurements, and whether
// the performance bars are met.
//
//	go test -run '^$' -bench . -count=5 | tee results.txt
//	go run ./cmd/table -in results.txt -readme README.md
//
// The generated section replaces whatever lies between the lines
// <!-- results:start --> and <!-- results:end --> of the README, and is also
// printed on standard output.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	startMarker = "<!-- results:start -->"
	endMarker   = "<!-- results:end -->"
	baseline    = "servicemesh"
)

// scenarios are the comparative benchmarks, in table order: id is the
// benchmark's name (BenchmarkS1 -> "S1"), label how the table names it.
var scenarios = []struct{ id, label, what string }{
	{"S1", "S1", "1000 independent services with loggers, whole cycle"},
	{"S1Large", "S1 at 10k", "10,000 independent services with loggers, whole cycle"},
	{"S2", "S2", "100-deep dependency chain, whole cycle"},
	{"S3", "S3", "200 services needing one db added last, whole cycle"},
	{"S4", "S4", "shutdown only: 50 services whose stop hook sleeps 2 ms"},
	{"S5", "S5", "shutdown of a 100-deep chain"},
	{"RequireChain", "Require chain", "S2 declared with servicemesh.Require (fx, do: their S2 code), whole cycle"},
	{"RequireFanIn", "Require fan-in", "S3 declared with servicemesh.Require (fx, do: their S3 code), whole cycle"},
}

// requireWaiters is the size of BenchmarkRequireWaiters (services waiting
// on a Require that no service fills).
const requireWaiters = 10_000

// waiterSizes are the sizes of BenchmarkO1 (services waiting for an
// outside dependency).
var waiterSizes = []int{1000, 10_000}

// readyzServices is the size of the mesh BenchmarkReadyz probes, and
// readyzCaches its two cases.
const readyzServices = 100

var readyzCaches = []struct{ id, what string }{
	{"warm", "20 with a HealthCheck, whose results are cached for 1 s"},
	{"cold", "the same with no cached result: the 20 HealthChecks run"},
}

// peers are the systems compared, in table order.
var peers = []string{baseline, "fx", "do"}

// peerModules maps a peer to the module whose version go.mod records.
var peerModules = map[string]string{
	"fx": "go.uber.org/fx",
	"do": "github.com/samber/do/v2",
}

func main() {
	in := flag.String("in", "results.txt", "benchmark output to read (- for standard input)")
	readme := flag.String("readme", "README.md", "README whose results section is regenerated (empty: print only)")
	gomod := flag.String("gomod", "go.mod", "go.mod of the benchmarks module, for the peers' versions")
	rev := flag.String("rev", "", "revision of servicemesh that was measured, e.g. a git commit")
	command := flag.String("cmd", "", "the command that produced the output, shown in the header")
	note := flag.String("note", "", "a note on the conditions of the run, shown in the header")
	strict := flag.Bool("strict", false, "exit with status 1 if a bar is not met")
	flag.Parse()

	res, err := readResults(*in)
	if err != nil {
		fatal(err)
	}
	versions, err := moduleVersions(*gomod)
	if err != nil {
		fatal(err)
	}
	section, failed := render(res, versions, *rev, *command, *note)
	fmt.Print(section)
	if *readme != "" {
		if err := replaceSection(*readme, section); err != nil {
			fatal(err)
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "table: %d bar(s) not met\n", failed)
		if *strict {
			os.Exit(1)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "table:", err)
	os.Exit(2)
}

// results holds every value measured, by benchmark name and unit.
type results struct {
	cpu    string                          // the "cpu:" line of the output
	goos   string                          // "goos/goarch"
	values map[string]map[string][]float64 // name -> unit -> one value per run
}

// median returns the median of the values of name in unit.
func (r *results) median(name, unit string) (float64, bool) {
	vs := r.values[name][unit]
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

// runs returns the largest number of runs measured for one benchmark.
func (r *results) runs() int {
	n := 0
	for _, units := range r.values {
		n = max(n, len(units["ns/op"]))
	}
	return n
}

var procSuffix = regexp.MustCompile(`-\d+$`)

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
	r := &results{values: map[string]map[string][]float64{}}
	var goos, goarch string
	sc := bufio.NewScanner(f)
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
		return nil, fmt.Errorf("%s: no benchmark results", path)
	}
	if goos != "" {
		r.goos = goos + "/" + goarch
	}
	return r, nil
}

// parseBenchmark records one result line:
// BenchmarkS1/fx-2  36  31987007 ns/op  17350475 B/op  211780 allocs/op
func parseBenchmark(r *results, line string) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return
	}
	name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		if r.values[name] == nil {
			r.values[name] = map[string][]float64{}
		}
		r.values[name][f[i+1]] = append(r.values[name][f[i+1]], v)
	}
}

// moduleVersions reads the required module versions from a go.mod.
func moduleVersions(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], "v") {
			out[f[0]] = f[1]
		}
	}
	return out, nil
}

// cpuModel returns the CPU model named in /proc/cpuinfo, or fallback.
func cpuModel(fallback string) string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	if fallback != "" {
		return fallback
	}
	return "unknown CPU"
}
