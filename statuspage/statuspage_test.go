package statuspage_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/gravestench/servicemesh/statuspage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Only GET and HEAD of the three paths are answered: other methods get
// 405 with Allow, other paths 404.
func TestMethodsAndPaths(t *testing.T) {
	m := newMesh(t, "shop")
	h := statuspage.Handler(m)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		for _, path := range []string{"/", "/status.json", "/events"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "%s %s", method, path)
			assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"), "%s %s", method, path)
		}
	}
	for _, path := range []string{"/index.html", "/status", "/events/", "/status.json/x", "/favicon.ico"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, path)
	}
	for _, path := range []string{"/", "/status.json", "/events"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, path, nil))
		assert.Equal(t, http.StatusOK, rec.Code, path)
		assert.Empty(t, rec.Body.String(), "HEAD %s has no body", path)
	}
}

// The page is one self-contained document: its script and style inline
// and allowed by hash, nothing loaded from anywhere, its endpoints named
// only by relative URLs, and no data ever written as markup.
func TestPageIsSelfContained(t *testing.T) {
	m := newMesh(t, "shop")
	rec := httptest.NewRecorder()
	statuspage.Handler(m).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	page := rec.Body.String()

	assert.NotRegexp(t, "[\"'`]/", page, "no string in the page starts with /")
	assert.NotRegexp(t, `(?i)(src|href|action)\s*=\s*["']?(https?:|//|/)`, page, "nothing loaded from elsewhere")
	assert.NotRegexp(t, `(?i)@import|url\((["']?)(https?:|//)`, page, "the style loads nothing")
	assert.NotRegexp(t, `innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`, page,
		"data is never written as markup")
	assert.Contains(t, page, `new EventSource("events")`)
	assert.Contains(t, page, `fetch("status.json"`)
	assert.Equal(t, 1, strings.Count(page, "<script>"), "one inline script")
	assert.Equal(t, 1, strings.Count(page, "</script>"))
	assert.NotContains(t, page, "<script src")

	// The policy allows exactly the inline script and style.
	csp := rec.Header().Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "connect-src 'self'")
	inline := func(tag string) string {
		re := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`)
		mt := re.FindStringSubmatch(page)
		require.NotNil(t, mt, tag)
		sum := sha256.Sum256([]byte(mt[1]))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	assert.Contains(t, csp, "script-src "+inline("script"))
	assert.Contains(t, csp, "style-src "+inline("style"))
}

// Under http.StripPrefix the page and its endpoints answer at the prefix,
// and the prefix without its slash is sent, relatively, to the one with.
func TestStripPrefix(t *testing.T) {
	m := newMesh(t, "shop")
	m.Add(&plain{name: "db"}).Wait()
	mux := http.NewServeMux()
	mux.Handle("/debug/mesh/", http.StripPrefix("/debug/mesh", statuspage.Handler(m)))
	direct := http.StripPrefix("/direct", statuspage.Handler(m)) // no mux: the handler redirects itself
	mux.Handle("/direct", direct)
	srv := serve(t, mux)

	resp, body := get(t, srv, "/debug/mesh/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "<!DOCTYPE html>")
	resp, body = get(t, srv, "/debug/mesh/status.json")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"name":"db"`)
	resp, _ = get(t, srv, "/debug/mesh/nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Both redirects end at the page (the client follows them).
	resp, body = get(t, srv, "/debug/mesh")
	assert.Equal(t, "/debug/mesh/", resp.Request.URL.Path)
	assert.Contains(t, body, "<!DOCTYPE html>")
	resp, body = get(t, srv, "/direct")
	assert.Equal(t, "/direct/", resp.Request.URL.Path)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "/direct/ is not mounted here")
	assert.NotContains(t, body, "<!DOCTYPE html>")

	rec := httptest.NewRecorder()
	nested := http.StripPrefix("/debug/mesh", statuspage.Handler(m))
	nested.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/mesh?x=1", nil))
	assert.Equal(t, http.StatusMovedPermanently, rec.Code)
	assert.Equal(t, "mesh/?x=1", rec.Header().Get("Location"), "a relative redirect, resolved against /debug/mesh")
}

// status.json is the Report: its field names, the states by name, the
// durations in nanoseconds, dependencies by name.
func TestStatusJSON(t *testing.T) {
	m := newMesh(t, "shop")
	m.Add(&plain{name: "db"})
	m.Add(&user{name: "api"})
	meshtest.RequireReady(t, m, 5*time.Second)
	srv := serve(t, statuspage.Handler(m))

	resp, body := get(t, srv, "/status.json")
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	assert.ElementsMatch(t, []string{"name", "ready", "started", "stopped", "services"}, keys(raw))

	var rep report
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	assert.Equal(t, "shop", rep.Name)
	assert.True(t, rep.Ready)
	require.Len(t, rep.Services, 2)
	assert.Equal(t, "db", rep.Services[0].Name)
	assert.Equal(t, "running", rep.Services[0].State)
	_, err := time.Parse(time.RFC3339Nano, rep.Services[0].Since)
	assert.NoError(t, err)
	assert.Equal(t, "api", rep.Services[1].Name)
	assert.Equal(t, []string{"db"}, rep.Services[1].DependsOn)
	assert.Positive(t, rep.Services[1].Init, "durations in nanoseconds")

	// The same as servicemesh.Status, through JSON.
	want, err := json.Marshal(servicemesh.Status(m))
	require.NoError(t, err)
	assert.JSONEq(t, string(want), body)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Error texts appear only with ShowErrors, in status.json and in the
// events; a nil Option is ignored.
func TestShowErrors(t *testing.T) {
	for _, show := range []bool{false, true} {
		t.Run(map[bool]string{false: "hidden", true: "shown"}[show], func(t *testing.T) {
			m := newMesh(t, "shop")
			opts := []statuspage.Option{nil}
			if show {
				opts = append(opts, statuspage.ShowErrors())
			}
			srv := serve(t, statuspage.Handler(m, opts...))
			s := openEvents(t, srv)
			s.status()
			m.Add(&broken{name: "vault"})
			got := s.until(5*time.Second, func(c message) bool { return c.To == "failed" })
			failed := got[len(got)-1]

			_, body := get(t, srv, "/status.json")
			var rep report
			require.NoError(t, json.Unmarshal([]byte(body), &rep))
			require.Len(t, rep.Services, 1)
			assert.Equal(t, "failed", rep.Services[0].State)
			if show {
				assert.Contains(t, rep.Services[0].Error, "password=hunter2 <rejected>")
				require.NotNil(t, failed.Error)
				assert.Contains(t, *failed.Error, "password=hunter2 <rejected>")
			} else {
				assert.Empty(t, rep.Services[0].Error)
				assert.NotContains(t, body, "hunter2")
				assert.Nil(t, failed.Error)
				assert.NotContains(t, s.raw.String(), "hunter2")
			}
		})
	}
}

// Names that look like markup stay text: in JSON, <, > and & are escaped,
// so they cannot close a script or start a tag wherever the text lands.
func TestNamesAreEscaped(t *testing.T) {
	const evil = `<img src=x onerror=alert(1)>"&'` + "\u2028\n"
	m := newMesh(t, "<b>mesh</b>")
	srv := serve(t, statuspage.Handler(m))
	s := openEvents(t, srv)
	st := s.status()
	assert.Equal(t, "<b>mesh</b>", st.Name)
	m.Add(&plain{name: evil})
	got := s.until(5*time.Second, func(c message) bool { return c.Service == evil && c.To == "running" })
	assert.Equal(t, evil, got[len(got)-1].Service, "the name decodes to itself")

	_, body := get(t, srv, "/status.json")
	for _, raw := range []string{body, s.raw.String()} {
		assert.NotContains(t, raw, "<img")
		assert.NotContains(t, raw, "<b>")
		assert.Contains(t, raw, `\u003cimg src=x onerror=alert(1)\u003e`)
	}
}

// A Mesh not made by New, nil included: an empty, unnamed report that is
// not ready, with an empty list of services; the page is served as ever.
func TestMeshNotMadeByNew(t *testing.T) {
	for name, m := range map[string]servicemesh.Mesh{"nil": nil, "other": otherMesh{}} {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, statuspage.Handler(m))
			resp, body := get(t, srv, "/status.json")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.JSONEq(t, `{"name":"","ready":false,"started":false,"stopped":false,"services":[]}`, body)
			resp, _ = get(t, srv, "/")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// otherMesh is a Mesh not made by New.
type otherMesh struct{ servicemesh.Mesh }
