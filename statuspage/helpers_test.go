package statuspage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every mesh is
// shut down and waited for, every stream's handler has returned and its
// subscription is canceled, every client's connections are closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newMesh returns a mesh named name that logs nowhere and keeps running
// when a service fails, shut down and waited for at cleanup.
func newMesh(t testing.TB, name string) servicemesh.Mesh {
	t.Helper()
	m := servicemesh.New(name)
	m.SetLogDestination(io.Discard)
	servicemesh.SetRestartPolicy(m, servicemesh.RestartPolicy{KeepRunning: true})
	t.Cleanup(func() { m.Shutdown().Wait() })
	return m
}

// serve serves h on loopback until cleanup, which runs after the mesh's
// (cleanups run last in, first out): the streams have ended by then.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// plain is a service with nothing but Init.
type plain struct{ name string }

func (p *plain) Name() string          { return p.name }
func (p *plain) Init(servicemesh.Mesh) {}

// user holds a plain service, so depends on it.
type user struct {
	name string
	Dep  *plain
}

func (u *user) Name() string          { return u.name }
func (u *user) Init(servicemesh.Mesh) {}
func (u *user) DependenciesResolved() bool {
	return u.Dep != nil
}
func (u *user) ResolveDependencies(services []servicemesh.Service) {
	u.Dep, _ = servicemesh.Find[*plain](services)
}

// broken fails its start with a secret in its error.
type broken struct{ name string }

func (b *broken) Name() string          { return b.name }
func (b *broken) Init(servicemesh.Mesh) {}
func (b *broken) InitContext(context.Context, servicemesh.Mesh) error {
	return errors.New("password=hunter2 <rejected>")
}

// get answers a GET of path.
func get(t testing.TB, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// report is status.json decoded, with the error texts it may carry.
type report struct {
	Name     string `json:"name"`
	Ready    bool   `json:"ready"`
	Started  bool   `json:"started"`
	Stopped  bool   `json:"stopped"`
	Services []struct {
		Name      string   `json:"name"`
		State     string   `json:"state"`
		Since     string   `json:"since"`
		Init      int64    `json:"init"`
		Restarts  int      `json:"restarts"`
		Error     string   `json:"error"`
		DependsOn []string `json:"dependsOn"`
	} `json:"services"`
}

// event is one Server-Sent Event.
type event struct {
	Name string // "" for the default type, "message"
	Data string
}

// message is an /events message of the default type, decoded.
type message struct {
	Service string  `json:"service"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Mesh    string  `json:"mesh"`
	Time    string  `json:"time"`
	Error   *string `json:"error"`
	Lost    *int    `json:"lost"`
}

// stream is an open /events response, read event by event.
type stream struct {
	t      testing.TB
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
	raw    strings.Builder // every line read, for format checks
}

// openEvents opens /events; the stream is closed at cleanup.
func openEvents(t testing.TB, srv *httptest.Server) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	s := &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// next returns the next event; io.EOF once the stream has ended.
func (s *stream) next() (event, error) {
	var ev event
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		s.raw.WriteString(line)
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data == nil {
				continue // the end of a retry field or of a comment
			}
			ev.Data = strings.Join(data, "\n")
			return ev, nil
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		default:
			s.t.Errorf("unexpected line in the stream: %q", line)
		}
	}
}

// mustNext returns the next event, failing the test if there is none.
func (s *stream) mustNext() event {
	s.t.Helper()
	ev, err := s.next()
	require.NoError(s.t, err)
	return ev
}

// status reads the first event, which must be the status.
func (s *stream) status() report {
	s.t.Helper()
	ev := s.mustNext()
	require.Equal(s.t, "status", ev.Name)
	var rep report
	require.NoError(s.t, json.Unmarshal([]byte(ev.Data), &rep))
	return rep
}

// message reads the next event, which must be a change.
func (s *stream) message() message {
	s.t.Helper()
	ev := s.mustNext()
	require.Empty(s.t, ev.Name, "a change is a message of the default type")
	var m message
	require.NoError(s.t, json.Unmarshal([]byte(ev.Data), &m), ev.Data)
	return m
}

// until reads changes until ok says stop, within a timeout, and returns
// them all.
func (s *stream) until(timeout time.Duration, ok func(message) bool) []message {
	s.t.Helper()
	var all []message
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := s.next()
			if err != nil || ev.Name != "" {
				return
			}
			var m message
			if json.Unmarshal([]byte(ev.Data), &m) != nil {
				return
			}
			mu.Lock()
			all = append(all, m)
			mu.Unlock()
			if ok(m) {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		s.close()
		<-done
		s.t.Fatalf("the stream did not tell what was awaited within %v; it told %d changes", timeout, len(all))
	}
	return all
}
