package statuspage

import (
	"encoding/json"
	"net/http"
	"path"
	"strings"

	"github.com/gravestench/servicemesh"
)

// Option configures Handler.
type Option func(*config)

type config struct {
	errors bool
}

// ShowErrors makes the page, /status.json and /events show error texts:
// each service's last error, and the error of a change to failed or
// backing off. Leave it out where the page can be reached by anyone who
// should not read them.
func ShowErrors() Option {
	return func(c *config) { c.errors = true }
}

// Handler returns an http.Handler that serves the status page of m and
// its two endpoints, /status.json and /events (see the package
// documentation). It is safe for concurrent use. Its events streams share
// one subscription to m (servicemesh.Subscribe), made when the first opens
// and canceled when the last ends: each change is encoded once however
// many pages are open. A nil Option is ignored.
func Handler(m servicemesh.Mesh, opts ...Option) http.Handler {
	h := &handler{m: m}
	for _, o := range opts {
		if o != nil {
			o(&h.cfg)
		}
	}
	h.fan = &fanout{m: m, errors: h.cfg.errors}
	return h
}

type handler struct {
	m   servicemesh.Mesh
	cfg config
	fan *fanout // the events streams' shared subscription
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch p {
	case "", "/", "/status.json", "/events":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	switch p {
	case "":
		if dir, ok := slashRedirect(r); ok {
			// Not http.Redirect: it would make dir absolute from the
			// stripped path, which no longer names the mount point.
			w.Header().Set("Location", dir)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		h.page(w, r)
	case "/":
		h.page(w, r)
	case "/status.json":
		h.status(w, r)
	case "/events":
		h.events(w, r)
	}
}

// slashRedirect tells where to send a request for the mount point without
// its trailing slash (http.StripPrefix("/debug/mesh", …) and a request for
// "/debug/mesh"): to the same name with a slash, as a relative reference,
// so that the page's relative URLs resolve under the mount point. It
// reports false when the request's own path already ends in a slash.
func slashRedirect(r *http.Request) (string, bool) {
	orig := r.RequestURI
	if i := strings.IndexAny(orig, "?#"); i >= 0 {
		orig = orig[:i]
	}
	if orig == "" || strings.HasSuffix(orig, "/") {
		return "", false
	}
	dir := path.Base(orig) + "/"
	if r.URL.RawQuery != "" {
		dir += "?" + r.URL.RawQuery
	}
	return dir, true
}

// commonHeaders are sent with every answer: nothing is cached, nothing is
// sniffed, no referrer leaves.
func commonHeaders(w http.ResponseWriter, contentType string) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	commonHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(pageHTML) // the client may be gone; nothing to do then
}

// report returns the mesh's status, error texts removed unless shown, with
// a list of services that is never nil (so it marshals as []).
func (h *handler) report() servicemesh.Report {
	rep := servicemesh.Status(h.m)
	if rep.Services == nil {
		rep.Services = []servicemesh.ServiceStatus{}
	}
	if !h.cfg.errors {
		for i := range rep.Services {
			rep.Services[i].Error = ""
		}
	}
	return rep
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	commonHeaders(w, "application/json")
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(h.report()) // the client may be gone
}
