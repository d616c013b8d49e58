package statuspage

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gravestench/servicemesh"
)

const (
	// heartbeat is how long a stream stays silent before it sends a
	// comment: under the 30 to 60 s after which common proxies and load
	// balancers close an idle connection.
	heartbeat = 15 * time.Second
	// checkEvery is how often a stream that may have missed the end of the
	// mesh (see fanout.mayHaveMissedEnd) asks whether it has stopped.
	checkEvery = time.Second
	// settle is how long a stream waits for the last changes of a mesh
	// found stopped before it tells the end itself: the subscription
	// delivers what it still holds within microseconds.
	settle = 100 * time.Millisecond
	// writeTimeout bounds one write to a client: a client that stopped
	// reading without closing its connection is dropped after it, rather
	// than holding its handler for ever.
	writeTimeout = 10 * time.Second
	// lastWordsTimeout bounds the write of the last changes once the
	// request's context has ended: a server shutting down waits for it.
	lastWordsTimeout = 100 * time.Millisecond
	// coalesce is how long a stream that was waiting lets a burst of
	// changes gather before it sends them, so that a burst costs one
	// wake-up and one write per client rather than one per change: a
	// delay no one sees on a page. A stream with a backlog does not wait.
	coalesce = 5 * time.Millisecond
	// chunk and paceGap pace a stream with a backlog: at most chunk bytes
	// (about 150 changes) per write, writes at least paceGap apart, so
	// about 4 MB/s, some 35,000 changes a second. A browser handles what
	// one read of the connection brings in one task, one event after the
	// other, so a burst sent at once (a thousand services added) would
	// hold its page for a long moment; paced, it is a few short tasks. A
	// mesh that changes faster than that for long makes the stream fall
	// behind and tell what it dropped (see maxBehind).
	chunk   = 16 << 10
	paceGap = 4 * time.Millisecond
)

// stream is one /events response.
type stream struct {
	cursor uint64 // the next change of the log to send; guarded by fanout.mu

	w        http.ResponseWriter
	rc       *http.ResponseController
	buf      []byte
	last     time.Time     // of the last write
	deadline time.Duration // for a write: writeTimeout unless told
}

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
	s := &stream{w: w, rc: http.NewResponseController(w), buf: make([]byte, 0, 4096)}
	// The server does not reset a write deadline for the connection's next
	// request unless it has a WriteTimeout of its own: clear ours.
	defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()

	// Join before the snapshot: a change that happens between the two is
	// then sent after the snapshot, and replaying it there is harmless (it
	// names the state the service went to).
	meshMsg := h.fan.join(s)
	defer h.fan.leave(s)
	rep := h.report()
	snap, err := json.Marshal(rep)
	if err != nil { // a Report always marshals; be safe anyway
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	s.buf = append(s.buf, "retry: 2000\n\nevent: status\ndata: "...)
	s.buf = append(s.buf, snap...)
	s.buf = append(s.buf, "\n\n"...)
	s.buf = append(s.buf, meshMsg...)
	if !s.flush() || rep.Stopped {
		return // a stopped mesh tells nothing more: the stream ends
	}

	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	gather := time.NewTimer(coalesce)
	defer gather.Stop()
	for {
		ready := h.fan.wait(s)
		if ready == nil { // a backlog: pace it
			if gap := paceGap - time.Since(s.last); gap > 0 {
				gather.Reset(gap)
				select {
				case <-ctx.Done():
					h.lastWords(s)
					return
				case <-gather.C:
				}
			}
		} else {
			select {
			case <-ctx.Done():
				h.lastWords(s)
				return
			case now := <-tick.C:
				if h.fan.mayHaveMissedEnd() && servicemesh.Status(h.m).Stopped {
					h.finish(ctx, s)
					return
				}
				if now.Sub(s.last) >= heartbeat && !s.send(": keep-alive\n\n") {
					return
				}
				continue
			case <-ready:
			}
			gather.Reset(coalesce)
			select {
			case <-ctx.Done():
				h.lastWords(s)
				return
			case <-gather.C:
			}
		}
		var end bool
		s.buf, end = h.fan.read(s, s.buf[:0], chunk)
		if (len(s.buf) > 0 && !s.flush()) || end {
			return
		}
	}
}

// lastWords sends what is waiting when the request's context has ended:
// when the server shuts down (http.Server.RegisterOnShutdown canceling its
// BaseContext), the client still hears the last changes, such as "shutting
// down". To a client that is gone, the write fails at once.
func (h *handler) lastWords(s *stream) {
	s.buf, _ = h.fan.read(s, s.buf[:0], chunk)
	if len(s.buf) > 0 {
		s.deadline = lastWordsTimeout
		s.flush()
	}
}

// finish ends the stream of a mesh found stopped although the stream was
// not told: it sends what the subscription still delivers until it has
// been quiet for settle, then, unless "stopped" came, tells that changes
// were lost (how many is unknown: 0), so that the client fetches
// status.json, and that the mesh has stopped.
func (h *handler) finish(ctx context.Context, s *stream) {
	quiet := time.NewTimer(settle)
	defer quiet.Stop()
	for {
		var end bool
		s.buf, end = h.fan.read(s, s.buf[:0], chunk)
		if (len(s.buf) > 0 && !s.flush()) || end {
			return
		}
		ready := h.fan.wait(s)
		if ready == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-ready:
			continue
		case <-quiet.C:
		}
		break
	}
	now := time.Now()
	s.buf = s.buf[:0]
	s.buf = appendLost(s.buf, 0, now) // the services' last steps too, probably
	s.buf = appendMessage(s.buf, servicemesh.Change{Time: now, Mesh: servicemesh.MeshStopped}, false)
	s.flush()
}

// send writes text.
func (s *stream) send(text string) bool {
	s.buf = append(s.buf[:0], text...)
	return s.flush()
}

// flush writes the buffer and flushes it, within writeTimeout. It reports
// false when the client is gone.
func (s *stream) flush() bool {
	s.last = time.Now()
	d := s.deadline
	if d == 0 {
		d = writeTimeout
	}
	_ = s.rc.SetWriteDeadline(s.last.Add(d)) // not every writer has deadlines
	if _, err := s.w.Write(s.buf); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}
