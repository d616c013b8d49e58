package main

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"
)

// header is what the table says of the run besides its results.
type header struct {
	versions           map[string]string // module -> version, from go.mod
	rev, command, note string
	cores              int // cores of the machine that ran it: bars are judged up to this GOMAXPROCS
}

// render returns the results section and the number of bars not met.
func render(r *results, h header) (string, int) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	renderHeader(p, r, h)
	ids := make([]string, len(scenarios))
	for i, s := range scenarios {
		ids[i] = s.id
	}
	procs := r.procsOf(ids)
	renderScenarios(p, r, procs)
	bars := comparisonBars(r, procs, h.cores)
	bars = append(bars, renderMeshOnly(p, r, h.cores)...)

	failed := 0
	p("\nBars (DESIGN §7; S1 at 10k, S5 and the Require fan-in are reported only):\n\n")
	p("| Bar | Measured | Result |\n|---|---:|---|\n")
	for _, x := range bars {
		result := "pass"
		switch {
		case !x.ok:
			result, x.shown = "not measured", "—"
		case x.notJudged != "":
			result = x.notJudged
		case x.value > x.limit || math.IsNaN(x.value):
			result = "FAIL"
			failed++
		}
		p("| %s | %s | %s |\n", x.name, x.shown, result)
	}
	return b.String(), failed
}

func renderHeader(p func(string, ...any), r *results, h header) {
	meshVersion := "local checkout (replace => ../)"
	if h.rev != "" {
		meshVersion = h.rev
	}
	p("Generated %s", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if h.command != "" {
		p(" by `%s`", h.command)
	}
	p(".\n\n")
	p("- Machine: %s, %d cores", cpuModel(r.cpu), h.cores)
	if r.goos != "" {
		p(", %s", r.goos)
	}
	if h.note != "" {
		p(" (%s)", h.note)
	}
	p("\n- Go: %s\n", runtime.Version())
	p("- servicemesh: %s\n", meshVersion)
	for _, peer := range peers[1:] {
		v := h.versions[peerModules[peer]]
		if v == "" {
			v = "unknown"
		}
		p("- %s: %s %s\n", peer, peerModules[peer], v)
	}
}

// renderScenarios writes the comparative table: per scenario and peer, the
// median time at each GOMAXPROCS in procs, the largest over the smallest,
// servicemesh's time over the peer's at each, and B/op and allocs/op at
// the smallest.
func renderScenarios(p func(string, ...any), r *results, procs []int) {
	p("\nMedians of %d interleaved rounds (each round runs every scenario once for each peer and GOMAXPROCS). "+
		"servicemesh ÷ peer is servicemesh's median time over the peer's: below 1, servicemesh is faster; the bars are on it.", r.runs())
	if len(procs) > 1 {
		p(" %s is a peer's time at GOMAXPROCS %d over its time at %d.", spread(procs), procs[len(procs)-1], procs[0])
	}
	p("\n\n| Scenario | Peer |")
	align := "|---|---|"
	for _, n := range procs {
		p(" time/op, -cpu %d |", n)
		align += "---:|"
	}
	if len(procs) > 1 {
		p(" %s |", spread(procs))
		align += "---:|"
	}
	for _, n := range procs {
		p(" servicemesh ÷ peer, -cpu %d |", n)
		align += "---:|"
	}
	p(" B/op | allocs/op |\n%s---:|---:|\n", align)
	for _, s := range scenarios {
		if s.optional && len(r.procsOf([]string{s.id})) == 0 {
			continue
		}
		for i, peer := range peers {
			label := ""
			if i == 0 {
				label = fmt.Sprintf("**%s**: %s", s.label, s.what)
			}
			name := s.id + "/" + peer
			p("| %s | %s |", label, peer)
			for _, n := range procs {
				t, ok := r.median(name, n, "ns/op")
				p(" %s |", orMissing(ok, duration(t)))
			}
			if len(procs) > 1 {
				lo, ok1 := r.median(name, procs[0], "ns/op")
				hi, ok2 := r.median(name, procs[len(procs)-1], "ns/op")
				p(" %s |", orDash(ok1 && ok2 && lo > 0, fmt.Sprintf("%.2f", hi/lo)))
			}
			for _, n := range procs {
				v, ok := meshOver(r, s.id, peer, n)
				p(" %s |", orDash(ok && peer != baseline, fmt.Sprintf("%.3f", v)))
			}
			if len(procs) == 0 {
				p(" — | — |\n")
				continue
			}
			bytes, ok := r.median(name, procs[0], "B/op")
			allocs, _ := r.median(name, procs[0], "allocs/op")
			p(" %s | %s |\n", orDash(ok, count(bytes)), orDash(ok, count(allocs)))
		}
	}
}

// spread names the column of the largest GOMAXPROCS over the smallest.
func spread(procs []int) string {
	return fmt.Sprintf("%d ÷ %d", procs[len(procs)-1], procs[0])
}

// meshOver returns servicemesh's median time on scenario id at procs over
// peer's.
func meshOver(r *results, id, peer string, procs int) (float64, bool) {
	mesh, ok1 := r.median(id+"/"+baseline, procs, "ns/op")
	other, ok2 := r.median(id+"/"+peer, procs, "ns/op")
	if !ok1 || !ok2 || other <= 0 {
		return 0, false
	}
	return mesh / other, true
}

// comparisonBars returns the bars of ratioBars at each GOMAXPROCS in procs
// and those of scalingBars, each judged only where the GOMAXPROCS it
// needs is at most cores.
func comparisonBars(r *results, procs []int, cores int) []bar {
	label := map[string]string{}
	for _, s := range scenarios {
		label[s.id] = s.label
	}
	var bars []bar
	for _, n := range procs {
		for _, rb := range ratioBars {
			v, ok := meshOver(r, rb.id, rb.peer, n)
			bars = append(bars, bar{
				name:      fmt.Sprintf("%s: servicemesh ≤ %g × %s, -cpu %d", label[rb.id], rb.limit, rb.peer, n),
				value:     v,
				ok:        ok,
				limit:     rb.limit,
				shown:     fmt.Sprintf("%.3f × %s", v, rb.peer),
				notJudged: oversubscribed(n, cores),
			})
		}
	}
	if len(procs) < 2 {
		return bars
	}
	lo, hi := procs[0], procs[len(procs)-1]
	for _, id := range scalingBars {
		a, ok1 := r.median(id+"/"+baseline, lo, "ns/op")
		z, ok2 := r.median(id+"/"+baseline, hi, "ns/op")
		x := bar{
			name:      fmt.Sprintf("%s: servicemesh at -cpu %d ≤ %g × at -cpu %d", label[id], hi, scalingLimit, lo),
			ok:        ok1 && ok2 && a > 0,
			limit:     scalingLimit,
			notJudged: oversubscribed(hi, cores),
		}
		if x.ok {
			x.value = z / a
			x.shown = fmt.Sprintf("%.2f ×", x.value)
		}
		bars = append(bars, x)
	}
	return bars
}

// oversubscribed says why a bar measured at GOMAXPROCS procs is not
// judged on a machine with cores cores, or returns "" if it is.
func oversubscribed(procs, cores int) string {
	if procs <= cores {
		return ""
	}
	return fmt.Sprintf("not judged: GOMAXPROCS %d on %d cores", procs, cores)
}
