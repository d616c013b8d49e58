// Package e2e holds the browser tests of servicemesh: they drive a headless
// Chromium (Debian's chromium package) with chromedp against a real mesh
// served by httptest, to check what only a browser can, such as the live
// status page of package statuspage.
//
// It is a module of its own, so that chromedp never enters the core
// module's go.mod. Run it from this directory:
//
//	go test ./...
//
// The tests look for the browser in $E2E_BROWSER, then for chromium,
// chromium-browser, google-chrome-stable and google-chrome on the PATH.
// Without one they skip, saying why; with CI=true (as in .ci/run) a missing
// browser fails them instead. E2E_SCREENSHOT=1 also writes
// testdata/statuspage.png, the picture of the page the README shows.
package e2e
