// Command probe runs one compatibility case (-case NAME) against whichever
// servicemesh the module's go.mod points at. It uses only the API that the
// original library has, so the same source builds against both.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/gravestench/servicemesh"
)

var (
	start = time.Now()
	quiet bool // say nothing (for cases with many services)
)

func say(format string, a ...any) {
	if quiet {
		return
	}
	fmt.Printf("%5dms %s\n", time.Since(start).Milliseconds(), fmt.Sprintf(format, a...))
}

// waitFor reports whether wg is done within d.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// runFor runs m.Run and reports whether it returned within d.
func runFor(m servicemesh.Mesh, d time.Duration) bool {
	done := make(chan struct{})
	go func() { m.Run(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func main() {
	c := flag.String("case", "", "which case to run")
	flag.Parse()
	quietLogs := func(m servicemesh.Mesh) { m.SetLogDestination(os.Stderr) }

	switch *c {
	case "events":
		for _, kv := range [][2]string{
			{"EventServiceAdded", servicemesh.EventServiceAdded},
			{"EventServiceRemoved", servicemesh.EventServiceRemoved},
			{"EventServiceInitialized", servicemesh.EventServiceInitialized},
			{"EventServiceEventsBound", servicemesh.EventServiceEventsBound},
			{"EventServiceLoggerBound", servicemesh.EventServiceLoggerBound},
			{"EventServiceMeshRunLoopInitiated", servicemesh.EventServiceMeshRunLoopInitiated},
			{"EventServiceMeshShutdownInitiated", servicemesh.EventServiceMeshShutdownInitiated},
			{"EventDependencyResolutionStarted", servicemesh.EventDependencyResolutionStarted},
			{"EventDependencyResolutionEnded", servicemesh.EventDependencyResolutionEnded},
			{"EventDependencyResolutionFailed", servicemesh.EventDependencyResolutionFailed},
		} {
			fmt.Printf("%s = %q\n", kv[0], kv[1])
		}

	case "name":
		m := servicemesh.New()
		quietLogs(m)
		fmt.Printf("New().Name() = %q\n", m.(servicemesh.Service).Name())

	case "signal": // the harness sends SIGINT or SIGTERM after 1 s
		m := servicemesh.New()
		quietLogs(m)
		m.Add(&stopper{name: "store"}).Wait()
		say("running")
		m.Run()
		say("Run returned")

	case "signal-before-run": // SIGINT after 1 s, while main waits on Add
		m := servicemesh.New()
		quietLogs(m)
		m.SetDependencyResolutionTimeout(0)
		say("waiting on Add(...).Wait() of a service whose dependency never comes")
		m.Add(&needs{name: "api", want: "nothing"}).Wait()
		say("Add returned; calling Run")
		m.Run()
		say("Run returned")

	case "stop-order":
		m := servicemesh.New()
		quietLogs(m)
		const d = 200 * time.Millisecond
		m.Add(&stopper{name: "store", d: d}).Wait()
		m.Add(&needs{name: "api", want: "store", d: d}).Wait()
		m.Add(&stopper{name: "c", d: d}).Wait()
		m.Add(&stopper{name: "d", d: d}).Wait()
		t0 := time.Now()
		m.Shutdown().Wait()
		say("shutdown took %dms", time.Since(t0).Milliseconds())

	case "never-started":
		m := servicemesh.New()
		quietLogs(m)
		m.SetDependencyResolutionTimeout(0)
		m.Add(&needs{name: "api", want: "nothing"})
		time.Sleep(100 * time.Millisecond)
		m.Shutdown().Wait()
		say("shutdown done")

	case "own-events":
		m := servicemesh.New()
		quietLogs(m)
		l := &listener{name: "self"}
		m.Add(l).Wait()
		time.Sleep(50 * time.Millisecond)
		fmt.Println("events self heard:", l.events())

	case "removed-handlers":
		m := servicemesh.New()
		quietLogs(m)
		l := &listener{name: "gone"}
		m.Add(l).Wait()
		m.Remove(l).Wait()
		m.Add(&plain{name: "x"}).Wait()
		time.Sleep(50 * time.Millisecond)
		fmt.Println("events the removed service heard:", l.events())

	case "add-after-shutdown":
		m := servicemesh.New()
		quietLogs(m)
		m.Shutdown().Wait()
		s := &stopper{name: "late"}
		m.Add(s).Wait()
		time.Sleep(50 * time.Millisecond)
		fmt.Printf("Init calls after shutdown: %d; listed by Services(): %d services\n", s.inits.Load(), len(m.Services()))

	case "run-after-shutdown":
		m := servicemesh.New()
		quietLogs(m)
		m.Shutdown().Wait()
		fmt.Println("first Run returned within 2s:", runFor(m, 2*time.Second))
		fmt.Println("second Run returned within 2s:", runFor(m, 2*time.Second))

	case "resolve-timeout":
		m := servicemesh.New()
		m.SetDependencyResolutionTimeout(200 * time.Millisecond)
		m.Add(&failObserver{}).Wait()
		m.Add(&needs{name: "api", want: "nothing"})
		ok := runFor(m, 2*time.Second)
		say("Run returned within 2s: %v", ok)
		if !ok {
			m.Shutdown()
		}

	case "init-panic":
		m := servicemesh.New()
		m.Add(&panicker{})
		ok := runFor(m, 2*time.Second)
		say("Run returned within 2s: %v", ok)

	case "loglevel-keeps-handler":
		m := servicemesh.New()
		m.SetLogHandler(slog.NewJSONHandler(os.Stdout, nil))
		l := &listener{name: "svc"}
		m.Add(l).Wait()
		l.log.Info("before SetLogLevel")
		m.SetLogLevel(slog.LevelInfo)
		l.log.Info("after SetLogLevel")

	case "log-texts": // default settings, a normal run, at Info
		m := servicemesh.New("app")
		m.SetDependencyResolutionTimeout(100 * time.Millisecond)
		m.Add(&stopper{name: "store"}).Wait()
		m.Add(&needs{name: "api", want: "nothing"}).Wait()
		m.Shutdown().Wait()

	case "polls":
		m := servicemesh.New()
		quietLogs(m)
		m.SetDependencyResolutionTimeout(0)
		n := &needs{name: "api", want: "nothing"}
		m.Add(n)
		time.Sleep(time.Second)
		fmt.Println("ResolveDependencies calls in 1s:", n.calls.Load())
		m.Shutdown().Wait()

	case "chain": // a 50-deep chain, dependents added first, each waiting for the Init of the one before
		quiet = true
		m := servicemesh.New()
		m.SetLogDestination(os.Stderr)
		const depth = 50
		var wgs []*sync.WaitGroup
		t0 := time.Now()
		for i := depth; i > 0; i-- {
			wgs = append(wgs, m.Add(&needs{name: fmt.Sprint("s", i), want: fmt.Sprint("s", i-1), afterInit: true}))
		}
		wgs = append(wgs, m.Add(&plain{name: "s0"}))
		for _, wg := range wgs {
			wg.Wait()
		}
		fmt.Printf("%d-deep chain started in %dms\n", depth, time.Since(t0).Milliseconds())
		m.Shutdown().Wait()

	case "late-provider": // how long after the provider is added does its dependent start?
		m := servicemesh.New()
		quietLogs(m)
		m.SetDependencyResolutionTimeout(0)
		var total time.Duration
		const n = 20
		for i := 0; i < n; i++ {
			api := &needs{name: fmt.Sprint("api", i), want: fmt.Sprint("db", i)}
			wg := m.Add(api)
			time.Sleep(30 * time.Millisecond)
			t0 := time.Since(start)
			m.Add(&plain{name: fmt.Sprint("db", i)})
			wg.Wait()
			total += time.Duration(api.initAt.Load()) - t0
		}
		fmt.Printf("mean time from Add(provider) to its dependent's Init: %.2fms\n", float64(total.Microseconds())/n/1000)
		m.Shutdown().Wait()

	case "slow-start": // a dependency that never comes, no timeout, for 6 s
		m := servicemesh.New()
		m.SetDependencyResolutionTimeout(0)
		m.Add(&needs{name: "api", want: "db"})
		time.Sleep(6 * time.Second)
		m.Shutdown().Wait()

	case "dup-add":
		m := servicemesh.New()
		quietLogs(m)
		s := &stopper{name: "twice"}
		m.Add(s).Wait()
		m.Add(s).Wait()
		m.Shutdown().Wait()
		fmt.Printf("Init calls: %d, OnShutdown calls: %d\n", s.inits.Load(), s.stops.Load())

	case "init-order": // 100 meshes of 20 services without dependencies
		inOrder := 0
		for run := 0; run < 100; run++ {
			m := servicemesh.New()
			m.SetLogDestination(nil)
			var order []string
			var mu sync.Mutex
			var wgs []*sync.WaitGroup
			for i := 0; i < 20; i++ {
				wgs = append(wgs, m.Add(&plain{name: fmt.Sprintf("s%02d", i), order: &order, mu: &mu}))
			}
			for _, wg := range wgs {
				wg.Wait()
			}
			if sort.StringsAreSorted(order) {
				inOrder++
			}
			m.Shutdown().Wait()
		}
		fmt.Printf("meshes whose Inits all began in the order added: %d of 100\n", inOrder)

	case "shutdown-returns":
		m := servicemesh.New()
		quietLogs(m)
		m.Add(&stopper{name: "store", d: 300 * time.Millisecond}).Wait()
		t0 := time.Now()
		wg := m.Shutdown()
		fmt.Printf("Shutdown() returned after %dms\n", time.Since(t0).Milliseconds())
		wg.Wait()
		fmt.Printf("Shutdown().Wait() returned after %dms\n", time.Since(t0).Milliseconds())

	case "slow-stop": // the harness sends SIGINT at 1 s and again at 2 s
		m := servicemesh.New()
		m.Add(&stopper{name: "slow", d: 5 * time.Second}).Wait()
		m.Run()
		say("Run returned")

	case "hung-stop": // the harness sends SIGINT at 1 s
		m := servicemesh.New()
		m.Add(&stopper{name: "hung", d: -1}).Wait()
		m.Run()
		say("Run returned")

	case "setlogger-race": // build with -race
		m := servicemesh.New()
		m.SetLogDestination(os.Stderr)
		m.Add(&chatty{}).Wait()
		for i := 0; i < 20; i++ {
			m.SetLogLevel(slog.LevelInfo)
			time.Sleep(time.Millisecond)
		}
		fmt.Println("done")

	case "remove-pending":
		m := servicemesh.New()
		quietLogs(m)
		m.SetDependencyResolutionTimeout(0)
		n := &needs{name: "api", want: "late"}
		m.Add(n)
		time.Sleep(50 * time.Millisecond)
		m.Remove(n).Wait()
		m.Add(&plain{name: "late"}).Wait()
		time.Sleep(200 * time.Millisecond)
		fmt.Println("(an \"Init api\" line above means the removed service was initialized)")
		m.Shutdown().Wait()

	default:
		fmt.Fprintln(os.Stderr, "unknown -case")
		os.Exit(2)
	}
}
