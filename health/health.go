package health

import (
	"encoding/json"
	"net/http"

	"github.com/gravestench/servicemesh"
)

// Option configures Handler.
type Option func(*config)

type config struct {
	errors bool
}

// WithErrors makes the JSON bodies include, for each service that failed,
// the text of its last error. Leave it out where the endpoint can be reached
// by anyone who should not read it.
func WithErrors() Option {
	return func(c *config) { c.errors = true }
}

// Handler returns an http.Handler that answers the probes of m at the paths
// /livez, /readyz and /startupz (see the package documentation), with 200 or
// 503 and a JSON body. GET and HEAD are answered (HEAD without a body), any
// other method with 405 and an Allow header, any other path with 404. It is
// safe for concurrent use. For a Mesh not made by servicemesh.New, nil
// included, /readyz and /startupz answer 503 and /livez 200, with no
// services listed. A nil Option is ignored.
func Handler(m servicemesh.Mesh, opts ...Option) http.Handler {
	h := &handler{m: m}
	for _, o := range opts {
		if o != nil {
			o(&h.cfg)
		}
	}
	return h
}

type handler struct {
	m   servicemesh.Mesh
	cfg config
}

// body is the JSON answer of every probe.
type body struct {
	Status   string    `json:"status"` // "pass" or "fail"
	Mesh     string    `json:"mesh"`
	Services []service `json:"services"`
}

type service struct {
	Name  string            `json:"name"`
	State servicemesh.State `json:"state"`
	Error string            `json:"error,omitempty"` // only WithErrors
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/livez", "/readyz", "/startupz":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	var rep servicemesh.Report
	var pass bool
	switch r.URL.Path {
	case "/livez":
		rep = servicemesh.Status(h.m)
		pass = live(rep)
	case "/readyz":
		// Ready first: it may wait for health checks, whose results the
		// listing then shows.
		pass = servicemesh.Ready(h.m)
		rep = servicemesh.Status(h.m)
	case "/startupz":
		rep = servicemesh.Status(h.m)
		pass = rep.Started
	}
	b := body{Status: "fail", Mesh: rep.Name, Services: make([]service, 0, len(rep.Services))}
	if pass {
		b.Status = "pass"
	}
	for _, s := range rep.Services {
		x := service{Name: s.Name, State: s.State}
		if h.cfg.errors {
			x.Error = s.Error
		}
		b.Services = append(b.Services, x)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	code := http.StatusOK
	if !pass {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(b) // the client may be gone; nothing to do then
}

// live: no service failed for good and the mesh has not stopped.
func live(rep servicemesh.Report) bool {
	if rep.Stopped {
		return false
	}
	for _, s := range rep.Services {
		if s.State == servicemesh.StateFailed {
			return false
		}
	}
	return true
}
