package statuspage

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gravestench/servicemesh"
)

const (
	// heartbeat is how often a stream with nothing to say sends a comment:
	// under the 30 to 60 s after which common proxies and load balancers
	// close an idle connection.
	heartbeat = 15 * time.Second
	// writeTimeout bounds one write to a client: a client that stopped
	// reading without closing its connection is dropped after it, rather
	// than holding its handler (and its subscription) for ever.
	writeTimeout = 10 * time.Second
	// pending is how many changes wait between the subscription's goroutine
	// and the handler; when it is full the subscription waits, and its own
	// queue (servicemesh.Subscribe's 10,000) tells what it had to drop.
	pending = 1024
	// batchBytes is about how much the handler writes before it flushes
	// while changes keep coming, so that a burst costs few flushes.
	batchBytes = 32 << 10
)

// events streams the changes of the mesh as Server-Sent Events: first the
// current state (event "status"), then one message per change, until the
// client leaves, a write fails, or the mesh has stopped.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	commonHeaders(w, "text/event-stream; charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if r.Method == http.MethodHead {
		return
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// The server does not reset a write deadline for the connection's next
	// request unless it has a WriteTimeout of its own: clear ours.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()

	// Subscribe before the snapshot: a change that happens between the
	// two is then told after the snapshot, and replaying it there is
	// harmless (it names the state the service went to). fn never blocks
	// the mesh (it runs on the subscription's own goroutine), and it
	// returns as soon as the handler is gone.
	ch := make(chan servicemesh.Change, pending)
	gone := make(chan struct{})
	cancel := servicemesh.Subscribe(h.m, func(c servicemesh.Change) {
		select {
		case ch <- c:
		case <-gone:
		}
	})
	defer cancel()
	defer close(gone) // runs first: fn returns, then cancel ends the goroutine

	rep := h.report()
	snap, err := json.Marshal(rep)
	if err != nil { // a Report always marshals; be safe anyway
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	buf := make([]byte, 0, 4096)
	buf = append(buf, "retry: 2000\n\nevent: status\ndata: "...)
	buf = append(buf, snap...)
	buf = append(buf, "\n\n"...)
	if !write(rc, w, buf) || rep.Stopped {
		return // a stopped mesh tells nothing more: the stream ends
	}

	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	heard := false // whether the subscription told anything yet
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// A live subscription is told the mesh's state at once, so
			// silence means none was made: the mesh was not made by New,
			// or its shutdown completed between Subscribe and Status.
			if !heard && servicemesh.Status(h.m).Stopped {
				stopped := servicemesh.Change{Time: time.Now(), Mesh: servicemesh.MeshStopped}
				_ = write(rc, w, appendMessage(buf[:0], stopped, false))
				return
			}
			if !write(rc, w, []byte(": keep-alive\n\n")) {
				return
			}
		case c := <-ch:
			heard = true
			buf = buf[:0]
			end := false
			for {
				buf = appendMessage(buf, c, h.cfg.errors)
				if end = isStopped(c); end || len(buf) >= batchBytes {
					break
				}
				var more bool
				select {
				case c = <-ch:
					more = true
				default:
				}
				if !more {
					break
				}
			}
			if !write(rc, w, buf) || end {
				return
			}
		}
	}
}

// isStopped reports whether c tells that the mesh has stopped: the last
// change of a stream.
func isStopped(c servicemesh.Change) bool {
	return c.Service == "" && c.Err == nil && c.Mesh == servicemesh.MeshStopped
}

// write sends b and flushes it, within writeTimeout. It reports false when
// the client is gone.
func write(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // not every writer has deadlines
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}
