package statuspage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gravestench/servicemesh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appendString writes what encoding/json writes, byte for byte.
func TestAppendStringIsJSON(t *testing.T) {
	for _, s := range []string{
		"", "db", "http server", `<img src=x onerror=alert(1)>`, `"quoted" \back\slash`,
		"tab\tnew\nline\rcr\x00\x1f\x7f", "&amp;", "\u2028\u2029", "héllo, 世界 🚀",
		"bad \xff utf-8 \xc3", "</script><!--",
	} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendString(nil, s)), "%q", s)
	}
}

// One change, one line: a service's step, the mesh's state, a loss; the
// error only when shown.
func TestAppendMessage(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 123456000, time.FixedZone("x", 3600))
	step := servicemesh.Change{Time: at, Service: "db", From: servicemesh.StateRunning, To: servicemesh.StateBackingOff, Err: errors.New("conn <reset>")}
	assert.Equal(t, `data: {"service":"db","from":"running","to":"backing off","time":"2026-01-02T14:04:05.123456Z"}`+"\n\n",
		string(appendMessage(nil, step, false)))
	assert.Equal(t, `data: {"service":"db","from":"running","to":"backing off","time":"2026-01-02T14:04:05.123456Z","error":"conn \u003creset\u003e"}`+"\n\n",
		string(appendMessage(nil, step, true)))
	mesh := servicemesh.Change{Time: at, Mesh: servicemesh.MeshShuttingDown}
	assert.Equal(t, `data: {"service":"","mesh":"shutting down","time":"2026-01-02T14:04:05.123456Z"}`+"\n\n",
		string(appendMessage(nil, mesh, true)))
	lost := servicemesh.Change{Time: at, Err: fmt.Errorf("servicemesh: a subscriber fell behind: %w: %d", servicemesh.ErrChangesLost, 1234)}
	assert.Equal(t, `data: {"service":"","lost":1234,"time":"2026-01-02T14:04:05.123456Z"}`+"\n\n",
		string(appendMessage(nil, lost, true)))
	assert.Equal(t, 1, lostCount(fmt.Errorf("%w, count unknown", servicemesh.ErrChangesLost)))
}

// gatedWriter is a ResponseWriter whose writes after the first wait until
// open is closed: a client that stopped reading.
type gatedWriter struct {
	open   chan struct{}
	mu     sync.Mutex
	out    strings.Builder
	writes int
	header http.Header
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}
func (w *gatedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	first := w.writes == 0
	w.writes++
	w.mu.Unlock()
	if !first {
		<-w.open
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(b)
}

// A client that falls more than 10,000 changes behind is told how many it
// lost, in the stream, and the stream goes on and ends with "stopped"; the
// mesh never waits for it. When it was still behind as the mesh stopped,
// Subscribe tells no loss (the last changes, "stopped" among them, are
// lost without a word): the stream finds the mesh stopped itself and
// tells a loss and "stopped".
func TestSlowClientIsToldWhatItLost(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(map[bool]string{false: "caught up before the shutdown", true: "behind at the shutdown"}[late], func(t *testing.T) {
			m := servicemesh.New("big")
			m.SetLogDestination(io.Discard)
			defer func() { m.Shutdown().Wait() }()
			w := &gatedWriter{open: make(chan struct{}), header: http.Header{}}
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				Handler(m).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/events", nil))
			}()
			require.Eventually(t, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.writes > 0 }, 5*time.Second, time.Millisecond)

			// 10 rounds of 1,000 services added and removed: 30,000
			// changes, more than the stream's 16,384 and the
			// subscription's 10,000 can hold.
			svcs := make([]servicemesh.Service, 1000)
			wgs := make([]*sync.WaitGroup, len(svcs))
			for round := range 10 {
				for i := range svcs {
					svcs[i] = servicemeshPlain(fmt.Sprintf("r%d-%d", round, i))
					wgs[i] = m.Add(svcs[i])
				}
				for i := range svcs {
					wgs[i].Wait()
					m.Remove(svcs[i]).Wait()
				}
			}
			if late {
				m.Shutdown().Wait()
			}
			close(w.open)
			m.Shutdown().Wait()
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream did not end after the mesh stopped")
			}

			var markers, lost, after int
			for _, line := range strings.Split(w.out.String(), "\n") {
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok || strings.HasPrefix(data, `{"name"`) {
					continue
				}
				var c struct {
					Lost *int `json:"lost"`
				}
				require.NoError(t, json.Unmarshal([]byte(data), &c), data)
				switch {
				case c.Lost != nil:
					markers++
					lost += *c.Lost
				case markers > 0:
					after++
				}
			}
			assert.Positive(t, markers, "the stream tells what it dropped")
			assert.Positive(t, after, "and goes on")
			assert.True(t, strings.HasSuffix(w.out.String(), `"mesh":"stopped","time":"`+lastTime(w.out.String())+`"}`+"\n\n"), "and ends with stopped")
			t.Logf("%d loss(es) told, %d changes counted as lost, %d messages after the first", markers, lost, after)
		})
	}
}

// lastTime returns the time of the stream's last message.
func lastTime(out string) string {
	i := strings.LastIndex(out, `"time":"`)
	if i < 0 {
		return ""
	}
	rest := out[i+len(`"time":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// plainSvc is a service with nothing but Init.
type plainSvc string

func (p *plainSvc) Name() string          { return string(*p) }
func (p *plainSvc) Init(servicemesh.Mesh) {}

func servicemeshPlain(name string) servicemesh.Service {
	p := plainSvc(name)
	return &p
}
