package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/statuspage"
	"go.uber.org/goleak"
)

// The browser every test opens its tabs in, started once by TestMain.
var (
	browserCtx  context.Context
	browserErr  error // why there is none
	stopBrowser = func() {}
)

// TestMain starts the browser, runs the tests, stops the browser and then
// checks that no goroutine is left behind.
func TestMain(m *testing.M) {
	startBrowser()
	code := m.Run()
	stopBrowser()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// findBrowser returns the path of the browser to drive, or "".
func findBrowser() string {
	if p := os.Getenv("E2E_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser() {
	path := findBrowser()
	if path == "" {
		browserErr = fmt.Errorf("no browser found: install Debian's chromium (apt-get install -y chromium), or set E2E_BROWSER to a Chromium or Chrome binary")
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	stopBrowser = func() {
		cancel()
		cancelAlloc()
	}
	// The first run starts the browser; the tabs of the tests share it.
	if err := chromedp.Do(ctx); err != nil {
		stopBrowser()
		stopBrowser = func() {}
		browserErr = fmt.Errorf("the browser %s does not start: %w", path, err)
		return
	}
	browserCtx = ctx
}

// needBrowser skips the test when there is no browser, or fails it under
// CI, where a missing browser must never pass unnoticed.
func needBrowser(t *testing.T) {
	t.Helper()
	if browserErr == nil {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("CI=%s: %v", os.Getenv("CI"), browserErr)
	}
	t.Skipf("skipped: %v (with CI=true this fails)", browserErr)
}

// newMesh returns a mesh named name that logs nowhere and keeps running when
// a service fails; it is shut down at cleanup.
func newMesh(t *testing.T, name string) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New(name)
	m.SetLogDestination(nil)
	servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true})
	t.Cleanup(func() { m.Shutdown().Wait() })
	return m
}

// servePage serves the status page of m under /debug/mesh/ (as the http
// example mounts it) and returns its URL and the server's origin.
func servePage(t *testing.T, m servicemesh.Mesh, opts ...statuspage.Option) (url, origin string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/mesh/", http.StripPrefix("/debug/mesh", statuspage.Handler(m, opts...)))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL + "/debug/mesh/", srv.URL
}

// tab is a browser tab that records what the page does: its requests, its
// console errors, uncaught exceptions and error entries of the browser
// log, and its dialogs. At cleanup the test fails if the page made a
// request outside its origin, logged an error or opened a dialog.
type tab struct {
	t      *testing.T
	ctx    context.Context
	origin string

	mu        sync.Mutex
	requests  []string // URLs
	documents int      // requests of documents: one unless the page reloaded
	problems  []string
}

// openTab opens a tab for a page of origin, and runs setup scripts in
// every document it loads, before the page's own.
func openTab(t *testing.T, origin string, setup ...string) *tab {
	t.Helper()
	needBrowser(t)
	tb := &tab{t: t, origin: origin}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithListener(tb.listen))
	tb.ctx = ctx
	t.Cleanup(cancel)
	t.Cleanup(tb.check) // before the tab closes
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	for _, src := range setup {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

// listen runs in the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.URL)
		if ev.Type == network.ResourceTypeDocument {
			tb.documents++
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			tb.problems = append(tb.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, "uncaught exception: "+text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			tb.problems = append(tb.problems, "browser log error: "+ev.Entry.Text+" "+ev.Entry.URL)
		}
	case *page.EventJavascriptDialogOpening:
		tb.problems = append(tb.problems, "dialog opened: "+string(ev.Type)+" "+ev.Message)
		go func() { // a dialog blocks the page until it is closed
			_, _ = chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	}
}

func (tb *tab) check() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, u := range tb.requests {
		if !strings.HasPrefix(u, tb.origin+"/") {
			tb.t.Errorf("the page made a request outside its origin %s: %s", tb.origin, u)
		}
	}
	for _, p := range tb.problems {
		tb.t.Errorf("the page: %s", p)
	}
}

// requested returns the URLs the page requested so far, and how many
// documents.
func (tb *tab) requested() ([]string, int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.requests...), tb.documents
}

// navigate loads url and waits until the page shows its first status.
func (tb *tab) navigate(url string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("navigate to %s: %v", url, err)
	}
	tb.waitFor(5*time.Second, `() => document.getElementById("conn").textContent === "live"`)
}

// eval evaluates expr in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the function fn, called with args, returns a truthy
// value in the page, checking every 5 ms, and fails the test after
// timeout. It returns how long it waited.
func (tb *tab) waitFor(timeout time.Duration, fn string, args ...any) time.Duration {
	tb.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout+5*time.Second) // the poll's own timeout comes first
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[chromedp.Void](fn,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingInterval(5*time.Millisecond),
		chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		rows := tb.rows()
		more := ""
		if len(rows) > 20 {
			rows, more = rows[:20], fmt.Sprintf(" (and %d more)", len(rows)-20)
		}
		tb.t.Fatalf("the page did not show it within %v: %v\n%s\nheader: %s\nrows: %v%s", timeout, err, fn,
			eval[string](tb, `document.querySelector("header").textContent.replace(/\s+/g, " ")`), rows, more)
	}
	return time.Since(start)
}

// row is a service's row of the table, as the page shows it.
type row struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	DataState string `json:"dataState"`
	Deps      string `json:"deps"`
	Detail    string `json:"detail"`
	Error     string `json:"error"`
}

// rows returns the rows of the table.
func (tb *tab) rows() []row {
	tb.t.Helper()
	return eval[[]row](tb, `Array.from(document.querySelectorAll("#rows .row")).map(tr => ({
		name: tr.children[0].textContent, state: tr.children[1].textContent,
		dataState: tr.children[1].firstChild.getAttribute("data-state"),
		deps: tr.children[7].textContent, detail: tr.children[8].textContent, error: tr.children[9].textContent}))`)
}

// shows is a page function for waitFor: the table's row of the service
// name shows state.
const shows = `(name, state) => Array.from(document.querySelectorAll("#rows .row")).some(tr =>
	tr.children[0].textContent === name && tr.children[1].textContent === state)`
