package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/gravestench/servicemesh/statuspage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The page renders every service with its state and dependencies, the
// mesh's name and readiness in words, and the graph with a node per
// service and an edge per dependency, laid out by depth.
func TestPageRendersEveryService(t *testing.T) {
	m := newMesh(t, "shop")
	shop(m)
	meshtest.RequireReady(t, m, 10*time.Second)
	url, origin := servePage(t, m)
	tb := openTab(t, origin)
	tb.navigate(url)

	want := servicemesh.Status(m)
	tb.waitFor(2*time.Second, `n => document.querySelectorAll("#rows .row").length === n`, len(want.Services))
	rows := tb.rows()
	for i, s := range want.Services {
		assert.Equal(t, s.Name, rows[i].Name)
		assert.Equal(t, "running", rows[i].State)
		assert.Equal(t, "running", rows[i].DataState, "the colour follows the state")
	}
	assert.Equal(t, "catalog, orders, cache", rows[5].Deps)
	assert.Equal(t, "shop", eval[string](tb, `document.getElementById("mesh-name").textContent`))
	assert.Equal(t, "ready", eval[string](tb, `document.getElementById("ready").textContent`))
	assert.Equal(t, "shop \u2014 mesh status", eval[string](tb, `document.title`))

	// The graph: a node per service, an edge per dependency, a column per
	// depth (config 0, database and cache 1, catalog and orders 2, api 3).
	tb.waitFor(2*time.Second, `() => document.querySelectorAll("#graph g.node").length === 6`)
	assert.Equal(t, 8, eval[int](tb, `document.querySelectorAll("#graph path.edge").length`))
	columns := eval[map[string]float64](tb, `Object.fromEntries(Array.from(document.querySelectorAll("#graph g.node")).map(g =>
		[g.querySelector("title").textContent.split(":")[0], g.transform.baseVal[0].matrix.e]))`)
	assert.Less(t, columns["config"], columns["database"])
	assert.Equal(t, columns["database"], columns["cache"])
	assert.Less(t, columns["cache"], columns["catalog"])
	assert.Equal(t, columns["catalog"], columns["orders"])
	assert.Less(t, columns["orders"], columns["http api"])
}

// A state change appears within 1 s, without a reload: a service that
// finishes starting, one added, one removed.
func TestStateChangeAppearsLive(t *testing.T) {
	m := newMesh(t, "live")
	g := &gate{name: "slow starter", open: make(chan struct{})}
	m.Add(&plain{name: "db"})
	m.Add(g)
	meshtest.RequireState(t, m, "slow starter", servicemesh.StateStarting, 5*time.Second)
	url, origin := servePage(t, m)
	tb := openTab(t, origin)
	tb.navigate(url)
	tb.waitFor(time.Second, shows, "slow starter", "starting")
	eval[chromedp.Void](tb, `window.e2eSameDocument = true`)
	assert.Equal(t, "not ready", eval[string](tb, `document.getElementById("ready").textContent`))

	close(g.open)
	took := tb.waitFor(time.Second, shows, "slow starter", "running")
	t.Logf("running shown %v after the change", took.Round(time.Millisecond))
	tb.waitFor(time.Second, `() => document.getElementById("ready").textContent === "ready"`)

	m.Add(&plain{name: "late"})
	tb.waitFor(time.Second, shows, "late", "running")
	m.Remove(g).Wait()
	tb.waitFor(time.Second, `name => !Array.from(document.querySelectorAll("#rows .row")).some(tr => tr.children[0].textContent === name)`, "slow starter")

	assert.True(t, eval[bool](tb, `window.e2eSameDocument === true`), "the page was not reloaded")
	reqs, docs := tb.requested()
	assert.Equal(t, 1, docs, "one document loaded: %v", reqs)

	// No polling: once the changes have settled (the page then fetches
	// status.json once, for the durations and dependencies changes do not
	// carry), a mesh that does not change makes the page ask nothing.
	time.Sleep(time.Second)
	before, _ := tb.requested()
	time.Sleep(1500 * time.Millisecond)
	after, _ := tb.requested()
	assert.Equal(t, before, after, "requests while nothing changed")
}

// A service's detail (HasStatusDetail) shows in a column of its own, which
// appears only once a service has one, and follows what the service says
// within a few seconds, although no state changed and no change told it.
func TestDetailFollowsTheService(t *testing.T) {
	m := newMesh(t, "replica")
	cron := &teller{name: "cron"}
	cron.detail.Store("standby")
	m.Add(&plain{name: "db"})
	m.Add(cron)
	meshtest.RequireReady(t, m, 10*time.Second)
	url, origin := servePage(t, m)
	tb := openTab(t, origin)
	tb.navigate(url)

	showsDetail := `(name, detail) => Array.from(document.querySelectorAll("#rows .row")).some(tr =>
		tr.children[0].textContent === name && tr.children[8].textContent === detail && tr.children[8].offsetParent !== null)`
	tb.waitFor(2*time.Second, showsDetail, "cron", "standby")
	tb.waitFor(time.Second, showsDetail, "db", "\u2013")
	eval[chromedp.Void](tb, `window.e2eSameDocument = true`)

	cron.detail.Store("leader (token 7)")
	took := tb.waitFor(5*time.Second, showsDetail, "cron", "leader (token 7)")
	t.Logf("the new detail shown %v after it changed", took.Round(time.Millisecond))
	assert.True(t, eval[bool](tb, `window.e2eSameDocument === true`), "the page was not reloaded")
	assert.Equal(t, "none", eval[string](tb, `getComputedStyle(document.querySelector("#rows .row .error")).display`),
		"no error, no error column")
}

// A failed service shows as failed, in words and in colour; its error only
// with ShowErrors.
func TestFailedServiceShowsFailed(t *testing.T) {
	for _, show := range []bool{false, true} {
		t.Run(map[bool]string{false: "errors hidden", true: "errors shown"}[show], func(t *testing.T) {
			m := newMesh(t, "vaulted")
			m.Add(&plain{name: "db"})
			var opts []statuspage.Option
			if show {
				opts = append(opts, statuspage.ShowErrors())
			}
			url, origin := servePage(t, m, opts...)
			tb := openTab(t, origin)
			tb.navigate(url)
			m.Add(&broken{name: "vault"})
			tb.waitFor(time.Second, shows, "vault", "failed")
			for _, r := range tb.rows() {
				if r.Name == "vault" {
					assert.Equal(t, "failed", r.DataState)
				}
			}
			assert.Equal(t, "not ready", eval[string](tb, `document.getElementById("ready").textContent`))
			assert.Contains(t, eval[string](tb, `document.getElementById("counts").textContent`), "1 failed")
			tb.waitFor(time.Second, `() => document.querySelector("#graph g.node[data-state=failed] text.st")?.textContent === "failed"`)
			if show {
				tb.waitFor(2*time.Second, `() => document.body.textContent.includes("hunter2")`)
			} else {
				time.Sleep(800 * time.Millisecond) // the page's fetch of status.json, had it one
				assert.NotContains(t, eval[string](tb, `document.body.textContent`), "hunter2")
			}
		})
	}
}

// A service whose name is markup is shown as that text: no element is
// made of it, nothing is loaded for it, no dialog opens (the tab's check).
func TestMarkupInNamesIsText(t *testing.T) {
	const evil = `<img src=x onerror=alert(1)>`
	m := newMesh(t, `<script>alert("mesh")</script>`)
	m.Add(&plain{name: evil})
	meshtest.RequireReady(t, m, 5*time.Second)
	url, origin := servePage(t, m)
	tb := openTab(t, origin)
	tb.navigate(url)
	tb.waitFor(time.Second, shows, evil, "running")
	m.Add(&node{name: evil + "2", needs: []string{evil}})
	tb.waitFor(time.Second, shows, evil+"2", "running")
	tb.waitFor(2*time.Second, `() => document.querySelectorAll("#graph g.node").length === 2`)
	time.Sleep(300 * time.Millisecond) // time for an onerror to fire, had an img been made

	assert.Equal(t, 0, eval[int](tb, `document.querySelectorAll("img").length`), "no element is made of a name")
	assert.Equal(t, 1, eval[int](tb, `document.scripts.length`), "the page's own script only")
	assert.Equal(t, `<script>alert("mesh")</script>`, eval[string](tb, `document.getElementById("mesh-name").textContent`))
	assert.Contains(t, eval[string](tb, `document.getElementById("graph").textContent`), evil)
	reqs, _ := tb.requested()
	for _, u := range reqs {
		assert.False(t, strings.HasSuffix(u, "/x"), "nothing is loaded for the name: %s", u)
	}
}

// longTasks records the page's long tasks from its first script on.
const longTasks = `window.e2eLongTasks = [];
new PerformanceObserver(list => { for (const e of list.getEntries()) window.e2eLongTasks.push(e.duration); })
	.observe({type: "longtask", buffered: true});`

// A page open while 1,000 services are added, 500 removed and added again:
// no long task over 100 ms, and the final state of all 1,000 shown within
// 2 s of the last change.
func TestThousandServices(t *testing.T) {
	const n = 1000
	m := newMesh(t, "big")
	url, origin := servePage(t, m)
	tb := openTab(t, origin, longTasks)
	tb.navigate(url)
	eval[chromedp.Void](tb, `window.e2eLongTasks.length = 0`)

	svcs := make([]*plain, n)
	wgs := make([]*sync.WaitGroup, n)
	for i := range svcs {
		svcs[i] = &plain{name: fmt.Sprintf("svc-%04d", i)}
		wgs[i] = m.Add(svcs[i])
	}
	for _, wg := range wgs {
		wg.Wait()
	}
	for i := 0; i < n; i += 2 {
		m.Remove(svcs[i]).Wait()
		svcs[i] = &plain{name: svcs[i].name}
		wgs[i] = m.Add(svcs[i])
	}
	for _, wg := range wgs {
		wg.Wait()
	}
	took := tb.waitFor(2*time.Second, `n => {
		const rows = document.querySelectorAll("#rows .row");
		if (rows.length !== n) return false;
		const seen = new Set();
		for (const tr of rows) {
			if (tr.children[1].textContent !== "running") return false;
			seen.add(tr.children[0].textContent);
		}
		return seen.size === n && document.getElementById("counts").textContent === n + " services";
	}`, n)
	t.Logf("the final state of %d services shown %v after the last change", n, took.Round(time.Millisecond))
	tb.waitFor(2*time.Second, `n => document.querySelectorAll("#graph g.node").length === n`, n)

	long := eval[[]float64](tb, `window.e2eLongTasks`)
	t.Logf("long tasks (ms): %v", long)
	for _, d := range long {
		assert.LessOrEqual(t, d, 100.0, "a long task of the page")
	}
}

// A mesh that shuts down while the page is open: the page shows "stopped"
// and "not ready", and stops listening (no reconnection).
func TestShutdownShowsStopped(t *testing.T) {
	m := newMesh(t, "closing")
	shop(m)
	meshtest.RequireReady(t, m, 10*time.Second)
	url, origin := servePage(t, m)
	tb := openTab(t, origin)
	tb.navigate(url)
	tb.waitFor(time.Second, `() => document.getElementById("ready").textContent === "ready"`)

	m.Shutdown().Wait()
	tb.waitFor(time.Second, `() => document.getElementById("mesh-state").textContent === "stopped" &&
		document.getElementById("ready").textContent === "not ready" &&
		document.getElementById("conn").textContent === "ended"`)
	tb.waitFor(2*time.Second, `() => Array.from(document.querySelectorAll("#rows .row")).every(tr => tr.children[1].textContent === "stopped")`)
	time.Sleep(2500 * time.Millisecond) // longer than the stream's retry: no reconnection
	reqs, _ := tb.requested()
	events := 0
	for _, u := range reqs {
		if strings.HasSuffix(u, "/events") {
			events++
		}
	}
	assert.Equal(t, 1, events, "the page opened its stream once: %v", reqs)
}

// With E2E_SCREENSHOT set, a picture of the page for the README:
// testdata/statuspage.png.
func TestScreenshot(t *testing.T) {
	if os.Getenv("E2E_SCREENSHOT") == "" {
		t.Skip("set E2E_SCREENSHOT=1 to write testdata/statuspage.png")
	}
	m := newMesh(t, "shop")
	shop(m)
	m.Add(&flaky{name: "mailer"})
	m.Add(&broken{name: "vault"})
	meshtest.RequireState(t, m, "mailer", servicemesh.StateBackingOff, 10*time.Second)
	meshtest.RequireState(t, m, "vault", servicemesh.StateFailed, 10*time.Second)
	meshtest.RequireState(t, m, "http api", servicemesh.StateRunning, 10*time.Second)
	url, origin := servePage(t, m, statuspage.ShowErrors())
	tb := openTab(t, origin)
	tb.navigate(url)
	tb.waitFor(2*time.Second, `() => document.querySelectorAll("#graph g.node").length === 8`)
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join("testdata", "statuspage.png")
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("wrote %s (%d bytes)", path, len(png))
}
