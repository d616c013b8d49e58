// Command table turns the output of the benchmarks in this module into the
// results section of README.md: medians per scenario, peer and GOMAXPROCS
// (-cpu), servicemesh's time as a share of fx's and do's, its time at the
// largest -cpu over its time at the smallest, the servicemesh-only
// measurements, and whether the performance bars of DESIGN §7 are met.
//
//	bash run.sh      # interleaved rounds into results.txt, then this command
//	go run ./cmd/table -in results.txt -readme README.md -strict
//
// The output may hold any number of rounds, each with its own header lines,
// and the lines of one benchmark in any order: the table takes the median
// of the values of each benchmark at each GOMAXPROCS. A bar is judged only
// at a GOMAXPROCS no larger than the machine's cores (-cores); above, the
// goroutines share fewer cores than they are told there are, and the
// values are shown but not judged.
//
// The generated section replaces whatever lies between the lines
// <!-- results:start --> and <!-- results:end --> of the README, and is also
// printed on standard output.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
)

const (
	startMarker = "<!-- results:start -->"
	endMarker   = "<!-- results:end -->"
	baseline    = "servicemesh"
)

// scenarios are the comparative benchmarks, in table order: id is the
// benchmark's name (BenchmarkS1 -> "S1"), label how the table names it.
// An optional one (not in run.sh's default rounds) is left out of the
// table when it was not measured.
var scenarios = []struct {
	id, label, what string
	optional        bool
}{
	{"S1", "S1", "1000 independent services with loggers, whole cycle", false},
	{"S1Large", "S1 at 10k", "10,000 independent services with loggers, whole cycle", true},
	{"S2", "S2", "100-deep legacy-resolver chain, dependents added first, whole cycle", false},
	{"S3", "S3", "200 legacy resolvers waiting on one db added last, whole cycle", false},
	{"S4", "S4", "shutdown only: 50 services whose stop hook sleeps 2 ms", false},
	{"S5", "S5", "shutdown of a 100-deep chain", true},
	{"RequireChain", "Require chain", "S2 declared with servicemesh.Require (fx, do: their S2 code), whole cycle", false},
	{"RequireFanIn", "Require fan-in", "S3 declared with servicemesh.Require (fx, do: their S3 code), whole cycle", false},
}

// ratioBars are DESIGN §7's bars on servicemesh's time as a share of a
// peer's, judged at each GOMAXPROCS measured up to the machine's cores.
var ratioBars = []struct {
	id, peer string
	limit    float64
}{
	{"S1", "do", 0.3}, {"S1", "fx", 0.1},
	{"S2", "do", 2}, {"S2", "fx", 1},
	{"S3", "do", 1.5}, {"S3", "fx", 0.5},
	{"S4", "do", 2}, {"S4", "fx", 0.1},
	{"RequireChain", "do", 1},
}

// scalingBars are the scenarios whose servicemesh time at the largest
// GOMAXPROCS measured may be at most scalingLimit × its time at the
// smallest (DESIGN §7: on 16 cores none of S1-S3 is slower than 1.2 × its
// 2-core time), judged only on a machine with that many cores.
var scalingBars = []string{"S1", "S2", "S3"}

const scalingLimit = 1.2

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
	cores := flag.Int("cores", runtime.NumCPU(), "cores of the machine that ran the benchmarks: bars are judged at a GOMAXPROCS up to this")
	flag.Parse()

	res, err := readResults(*in)
	if err != nil {
		fatal(err)
	}
	versions, err := moduleVersions(*gomod)
	if err != nil {
		fatal(err)
	}
	section, failed := render(res, header{versions: versions, rev: *rev, command: *command, note: *note, cores: *cores})
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
