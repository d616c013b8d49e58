package statuspage_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/gravestench/servicemesh/meshtest"
	"github.com/gravestench/servicemesh/statuspage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The stream's format: text/event-stream, a retry field, then the current
// state as the "status" event, then one JSON object per change on one data
// line, with the state names and the time in RFC 3339.
func TestEventsFormatAndFirstMessage(t *testing.T) {
	m := newMesh(t, "shop")
	m.Add(&plain{name: "db"})
	meshtest.RequireReady(t, m, 5*time.Second)
	srv := serve(t, statuspage.Handler(m))

	s := openEvents(t, srv)
	assert.Equal(t, "text/event-stream; charset=utf-8", s.resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", s.resp.Header.Get("Cache-Control"))
	first, err := s.r.Peek(len("retry: "))
	require.NoError(t, err)
	assert.Equal(t, "retry: ", string(first), "the stream starts with how soon to reconnect")

	st := s.status()
	assert.Equal(t, "shop", st.Name, "a new client first gets the current state")
	assert.True(t, st.Ready)
	require.Len(t, st.Services, 1)
	assert.Equal(t, "running", st.Services[0].State)

	// Then the mesh's state as last known (Subscribe's first change).
	c := s.message()
	assert.Equal(t, "", c.Service)
	assert.Equal(t, "ready", c.Mesh)

	// A second client, while the first is open (they share one
	// subscription), also gets the status and then the mesh's state.
	second := openEvents(t, srv)
	assert.Len(t, second.status().Services, 1)
	assert.Equal(t, "ready", second.message().Mesh)
	second.close()

	m.Add(&plain{name: "cache"})
	got := s.until(5*time.Second, func(c message) bool { return c.Service == "cache" && c.To == "running" })
	var steps []string
	for _, c := range got {
		if c.Service == "cache" {
			steps = append(steps, c.From+"→"+c.To)
			at, err := time.Parse(time.RFC3339Nano, c.Time)
			require.NoError(t, err, c.Time)
			assert.WithinDuration(t, time.Now(), at, 5*time.Second)
			assert.Empty(t, c.Mesh)
			assert.Nil(t, c.Error)
		}
	}
	assert.Equal(t, []string{"added→starting", "starting→running"}, steps)

	// Every message is "data: " and one line of JSON with exactly these keys.
	for _, block := range strings.Split(s.raw.String(), "\n\n") {
		if !strings.HasPrefix(block, "data: ") {
			continue
		}
		require.NotContains(t, block, "\n", "one data line per message")
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(block, "data: ")), &obj))
		if obj["service"] == "" {
			assert.ElementsMatch(t, []string{"service", "mesh", "time"}, keys(obj), block)
		} else {
			assert.ElementsMatch(t, []string{"service", "from", "to", "time"}, keys(obj), block)
		}
	}
}

// The mesh shutting down while a stream is open: the stream tells
// "shutting down" and "stopped", then ends; a client that comes later
// gets the stopped status and the end at once.
func TestShutdownWhileStreaming(t *testing.T) {
	m := newMesh(t, "shop")
	m.Add(&plain{name: "db"})
	meshtest.RequireReady(t, m, 5*time.Second)
	srv := serve(t, statuspage.Handler(m))
	s := openEvents(t, srv)
	s.status()

	m.Shutdown().Wait()
	got := s.until(5*time.Second, func(c message) bool { return c.Mesh == "stopped" })
	var mesh []string
	for _, c := range got {
		if c.Service == "" {
			mesh = append(mesh, c.Mesh)
		}
	}
	assert.Equal(t, []string{"ready", "shutting down", "stopped"}, mesh)
	_, err := s.next()
	assert.Error(t, err, "the stream ends after stopped")

	late := openEvents(t, srv)
	st := late.status()
	assert.True(t, st.Stopped)
	assert.False(t, st.Ready)
	_, err = late.next()
	assert.Error(t, err, "a stream of a stopped mesh ends after its status")
}

// For a Mesh not made by New the stream sends the empty status and stays
// open (nothing ever changes) until the client leaves; its handler then
// returns.
func TestEventsOfMeshNotMadeByNew(t *testing.T) {
	var active atomic.Int32
	srv := serve(t, counting(&active, statuspage.Handler(otherMesh{})))
	s := openEvents(t, srv)
	st := s.status()
	assert.Equal(t, "", st.Name)
	assert.Empty(t, st.Services)
	read := make(chan error, 1)
	go func() { _, err := s.next(); read <- err }()
	select {
	case err := <-read:
		t.Fatalf("the stream ended or told something: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	s.close()
	<-read
	require.Eventually(t, func() bool { return active.Load() == 0 }, 5*time.Second, time.Millisecond)
}

// counting counts the requests h is serving.
func counting(n *atomic.Int32, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		defer n.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// A hundred clients that open the stream and drop their connection
// abruptly (a reset, no goodbye): every handler returns, every
// subscription is canceled, no goroutine is left — while the mesh changes.
func TestClientsThatDisconnectAbruptly(t *testing.T) {
	m := newMesh(t, "shop")
	servicemesh.Subscribe(m, func(servicemesh.Change) {})() // the mesh's own watcher starts with the first subscriber
	var active atomic.Int32
	srv := serve(t, counting(&active, statuspage.Handler(m)))
	before := goleak.IgnoreCurrent()

	const clients = 100
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- dropAfterStatus(srv.Listener.Addr().String(), i)
		}()
	}
	for i := range 50 { // changes while the clients come and go
		m.Add(&plain{name: fmt.Sprintf("svc-%d", i)})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return active.Load() == 0 }, 10*time.Second, time.Millisecond,
		"every handler returns once its client is gone")
	goleak.VerifyNone(t, before)
}

// dropAfterStatus opens /events on a raw connection, reads up to the end
// of the status event, and resets the connection.
func dropAfterStatus(addr string, i int) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /events?client=%d HTTP/1.1\r\nHost: test\r\n\r\n", i); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		if strings.Contains(line, `"services":`) {
			break
		}
	}
	return conn.(*net.TCPConn).SetLinger(0) // Close then sends a reset
}

// A page open while 1,000 services are added and removed, then 500 added
// again: the stream keeps up, or says what it dropped, after which the
// client fetches status.json again; either way the client ends with the
// mesh's state, within 2 s of the last change.
func TestThousandServicesWhileStreaming(t *testing.T) {
	const n = 1000
	m := newMesh(t, "big")
	srv := serve(t, statuspage.Handler(m))
	s := openEvents(t, srv)
	s.status()

	var mu sync.Mutex
	seen := map[string]string{} // the client's view: name -> state
	lost, told := 0, 0
	var last atomic.Int64 // when the client last changed its view
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := s.next()
			if err != nil {
				return
			}
			var c message
			if ev.Name != "" || json.Unmarshal([]byte(ev.Data), &c) != nil {
				continue
			}
			mu.Lock()
			switch {
			case c.Lost != nil:
				lost += *c.Lost
				seen = map[string]string{}
				for _, x := range servicemesh.Status(m).Services { // what the page's fetch of status.json gets
					seen[x.Name] = x.State.String()
				}
			case c.Service == "":
			case c.To == "removed":
				delete(seen, c.Service)
				told++
			default:
				seen[c.Service] = c.To
				told++
			}
			mu.Unlock()
			last.Store(time.Now().UnixNano())
		}
	}()

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
		wgs[i] = m.Remove(svcs[i])
	}
	for i := 0; i < n; i += 2 {
		wgs[i].Wait()
		svcs[i] = &plain{name: svcs[i].name}
		wgs[i] = m.Add(svcs[i])
	}
	for _, wg := range wgs {
		wg.Wait()
	}
	lastChange := time.Now()

	want := map[string]string{}
	for _, x := range servicemesh.Status(m).Services {
		want[x.Name] = x.State.String()
	}
	require.Len(t, want, n)
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return assert.ObjectsAreEqual(want, seen)
	}, 2*time.Second, 5*time.Millisecond, "the client shows the final state within 2 s")
	caughtUp := time.Unix(0, last.Load())
	t.Logf("changes told: %d, lost: %d; the client caught up %v after the last change",
		told, lost, caughtUp.Sub(lastChange).Round(time.Millisecond))
	s.close()
	<-done
}
