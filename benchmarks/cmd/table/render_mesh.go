package main

// The servicemesh-only part of the table: O1, O2, Scale, Remove, Fan-out,
// readiness, Require waiters and supervision, which run.sh measures only
// with EXTRA=1.

import "fmt"

// meshOnlyIDs are the benchmarks of the servicemesh-only part.
var meshOnlyIDs = []string{"O1", "O2", "Scale", "Remove", "FanOut", "Readyz", "RequireWaiters", "ServeBackoff", "Restart"}

// renderMeshOnly writes the servicemesh-only measurements with p and
// returns their bars, or writes a line saying they were not measured and
// returns nil. Each is taken at one GOMAXPROCS (results.single): cores if
// it was measured there.
func renderMeshOnly(p func(string, ...any), r *results, cores int) []bar {
	if len(r.procsOf(meshOnlyIDs)) == 0 {
		p("\nThe servicemesh-only measurements (O1, O2, Scale, Remove, Fan-out, readiness, Require waiters, supervision) " +
			"were not part of this run (`EXTRA=1 bash run.sh` adds them).\n")
		return nil
	}
	p("\nservicemesh only. fx and do have no equivalent: nothing in them waits for a dependency from outside their graph (O1, O2), ")
	p("neither can take one service out of a built container without stopping it (Remove), services do not handle lifecycle events (fan-out), ")
	p("neither serves readiness probes (readiness; do's injector.HealthCheck, which runs every check on each call, is not measured), ")
	p("neither restarts a service that fails (supervision), and in both a missing dependency is an error, not a wait (Require waiters).\n\n")
	p("| Measurement | Median |\n|---|---:|\n")
	type waiters struct {
		cpu, add, wake       float64
		cpuOK, addOK, wakeOK bool
	}
	o1 := map[int]waiters{}
	for _, n := range waiterSizes {
		name := fmt.Sprintf("O1/%s/services=%d", baseline, n)
		var w waiters
		w.cpu, w.cpuOK = r.single(name, "cpu-%-of-core", cores)
		if !w.cpuOK && n == 1000 {
			// Output from before O1 had sizes: the same measurement.
			w.cpu, w.cpuOK = r.single("O1/"+baseline, "cpu-%-of-core", cores)
		}
		w.add, w.addOK = r.single(name, "add-ms", cores)
		w.wake, w.wakeOK = r.single(name, "max-wake-ms", cores)
		o1[n] = w
	}
	for _, n := range waiterSizes {
		p("| O1: CPU of the whole process while %s services wait for an outside dependency (1 s window) | %s |\n",
			count(float64(n)), orMissing(o1[n].cpuOK, fmt.Sprintf("%.2f %% of one core", o1[n].cpu)))
	}
	for _, n := range waiterSizes {
		p("| O1: adding %s services that wait for an outside dependency, until every one waits | %s |\n",
			count(float64(n)), orMissing(o1[n].addOK, duration(o1[n].add*1e6)))
	}
	for _, n := range waiterSizes {
		p("| O1: one outside flag shared by %s waiting services set → the last Init starts | %s |\n",
			count(float64(n)), orMissing(o1[n].wakeOK, fmt.Sprintf("%.1f ms", o1[n].wake)))
	}
	p50, p50ok := r.single("O2/"+baseline, "p50-ms", cores)
	maxMs, maxok := r.single("O2/"+baseline, "max-ms", cores)
	p("| O2: outside dependency set → Init starts, p50 (20 services) | %s |\n", orMissing(p50ok, fmt.Sprintf("%.1f ms", p50)))
	p("| O2: outside dependency set → Init starts, max (20 services) | %s |\n", orMissing(maxok, fmt.Sprintf("%.1f ms", maxMs)))
	t10k, ok10k := r.single("Scale/"+baseline+"/services=10000", "ns/op", cores)
	t100k, ok100k := r.single("Scale/"+baseline+"/services=100000", "ns/op", cores)
	p("| Scale: 10,000 independent services, add+init+shutdown | %s |\n", orMissing(ok10k, duration(t10k)))
	p("| Scale: 100,000 independent services, add+init+shutdown | %s |\n", orMissing(ok100k, duration(t100k)))
	scaleOK := ok10k && ok100k && t10k > 0
	scale := 0.0
	if scaleOK {
		scale = t100k / t10k
	}
	p("| Scale: time(100k) / time(10k) | %s |\n", orMissing(scaleOK, fmt.Sprintf("%.2f", scale)))
	remove, removeOK := r.single("Remove/"+baseline+"/services=100000", "ns/op", cores)
	p("| Remove: one Remove, waited for, in a mesh of 100,000 services | %s |\n", orMissing(removeOK, duration(remove)))
	fanOp, fanOpOK := r.single("FanOut/"+baseline+"/handlers=1000", "ns/op", cores)
	fanCall, fanCallOK := r.single("FanOut/"+baseline+"/handlers=1000", "ns/handler-call", cores)
	p("| Fan-out: adding one service to a mesh of 1,000 EventServiceAdded handlers, until its Init | %s |\n", orMissing(fanOpOK, duration(fanOp)))
	p("| Fan-out: the same, per handler call | %s |\n", orMissing(fanCallOK, duration(fanCall)))
	for _, c := range readyzCaches {
		name := fmt.Sprintf("Readyz/%s/services=%d/cache=%s", baseline, readyzServices, c.id)
		t, ok := r.single(name, "ns/op", cores)
		allocs, _ := r.single(name, "allocs/op", cores)
		p("| Readiness: one GET /readyz of health.Handler, %s services (%s) | %s |\n",
			count(readyzServices), c.what, orMissing(ok, fmt.Sprintf("%s, %s allocs", duration(t), count(allocs))))
	}

	waitersName := fmt.Sprintf("RequireWaiters/%s/services=%d", baseline, requireWaiters)
	waiterBytes, waiterBytesOK := r.single(waitersName, "B/waiter", cores)
	waiterRoutines, waiterRoutinesOK := r.single(waitersName, "goroutines", cores)
	waiterAdd, waiterAddOK := r.single(waitersName, "add-ms", cores)
	p("| Require: live heap per service waiting on a Require no service fills (%s waiting) | %s |\n",
		count(requireWaiters), orMissing(waiterBytesOK, fmt.Sprintf("%s B", count(waiterBytes))))
	p("| Require: goroutines of the mesh while %s services wait on a Require | %s |\n",
		count(requireWaiters), orMissing(waiterRoutinesOK, count(waiterRoutines)))
	p("| Require: adding %s services that wait on a Require, until every one waits | %s |\n",
		count(requireWaiters), orMissing(waiterAddOK, duration(waiterAdd*1e6)))

	backoffCPU, backoffOK := r.single("ServeBackoff/"+baseline, "cpu-%-of-core", cores)
	p("| Supervision: CPU of the whole process while one Serve fails every time, default policy (1 s from its first restart, over its backoffs) | %s |\n",
		orMissing(backoffOK, fmt.Sprintf("%.3f %% of one core", backoffCPU)))
	restart, restartOK := r.single("Restart/"+baseline, "ns/restart", cores)
	p("| Supervision: one restart of a Serve that fails at once, with a backoff of 1 ns | %s |\n", orMissing(restartOK, duration(restart)))

	// DESIGN §7: 1000 waiting services cost at most 3 % of one core, 5 %
	// on 16 cores.
	o1Limit := 3.0
	if cores >= 16 {
		o1Limit = 5
	}
	w1k, w10k := o1[1000], o1[10_000]
	// DESIGN §7's bars on the servicemesh-only measurements.
	return []bar{
		{name: fmt.Sprintf("O1: CPU while 1,000 services wait ≤ %g %% of one core", o1Limit), value: w1k.cpu, ok: w1k.cpuOK, limit: o1Limit, shown: fmt.Sprintf("%.2f %%", w1k.cpu)},
		{name: "O1: CPU while 10,000 services wait ≤ 20 % of one core", value: w10k.cpu, ok: w10k.cpuOK, limit: 20, shown: fmt.Sprintf("%.2f %%", w10k.cpu)},
		{name: "O1: adding 10,000 waiting services ≤ 0.3 s", value: w10k.add, ok: w10k.addOK, limit: 300, shown: duration(w10k.add * 1e6)},
		{name: "O1: 1,000 waiting services notice their outside dependency within 50 ms", value: w1k.wake, ok: w1k.wakeOK, limit: 50, shown: fmt.Sprintf("%.1f ms", w1k.wake)},
		{name: "O1: 10,000 waiting services notice their outside dependency within 50 ms", value: w10k.wake, ok: w10k.wakeOK, limit: 50, shown: fmt.Sprintf("%.1f ms", w10k.wake)},
		{name: "O2: max delay to notice an outside dependency ≤ 50 ms", value: maxMs, ok: maxok, limit: 50, shown: fmt.Sprintf("%.1f ms", maxMs)},
		{name: "Scale: time(100k) / time(10k) ≤ 12", value: scale, ok: scaleOK, limit: 12, shown: fmt.Sprintf("%.2f", scale)},
		{name: "Remove with 100,000 services ≤ 5 µs", value: remove, ok: removeOK, limit: 5000, shown: duration(remove)},
		{name: "Fan-out: ≤ 200 ns per handler call (1,000 handlers)", value: fanCall, ok: fanCallOK, limit: 200, shown: duration(fanCall)},
		{name: "Require: ≤ 1 KB of heap per waiting service (10,000 waiting)", value: waiterBytes, ok: waiterBytesOK, limit: 1024, shown: fmt.Sprintf("%s B", count(waiterBytes))},
		{name: "Require: ≤ 100 goroutines while 10,000 services wait", value: waiterRoutines, ok: waiterRoutinesOK, limit: 100, shown: count(waiterRoutines)},
	}
}
