// Package statuspage serves a live, read-only page that shows a mesh:
// its name and readiness, and per service its state, since when, how long
// its resolution, Init and stop took, its restarts, what it depends on,
// what it says of itself (servicemesh.HasStatusDetail, such as whether this
// replica leads), and the dependency graph drawn as inline SVG, laid out by
// depth. The page updates itself from a stream of the mesh's changes
// (servicemesh.Subscribe), without reloading and without polling; only
// while some service has a detail, which changes without a change of its
// state, does it ask for status.json again every two seconds.
//
// Handler answers three paths, relative to where it is mounted:
//
//   - GET /: the page. It is one self-contained HTML document: its style
//     and script are inline, it loads no script, style, font or image from
//     anywhere, and it refers to its two endpoints only by the relative URLs
//     "events" and "status.json", so it works offline and under
//     http.StripPrefix. Its Content-Security-Policy allows nothing else
//     (connect-src 'self', the inline script and style by hash). Every name
//     is put on the page as text (textContent), never as markup.
//   - GET /status.json: the mesh's servicemesh.Report as JSON.
//   - GET /events: Server-Sent Events (text/event-stream), described below.
//
// GET and HEAD are answered; any other method gets 405 Method Not Allowed
// with an Allow header, any other path 404. Error texts (a service's last
// error, the error of a change) are left out everywhere — page,
// status.json, events — unless the application asks for them with
// ShowErrors: they may carry what should not be shown to whoever can reach
// the page (a connection string, a path).
//
// Mount it where you choose, for example beside the probes of package
// health:
//
//	mux.Handle("/debug/mesh/", http.StripPrefix("/debug/mesh", statuspage.Handler(app)))
//
// A request for the prefix itself without its slash ("/debug/mesh") is
// redirected, relatively, to the prefix with one, so that the page's
// relative URLs resolve under it.
//
// # The events stream
//
// The first message of every stream is the current state: an event named
// "status" whose data is the same JSON as /status.json. Every change that
// follows is one message of the default type ("message") whose data is one
// JSON object on one line:
//
//	{"service":"db","from":"starting","to":"running","time":"2026-01-02T15:04:05.123456Z"}
//	{"service":"db","from":"running","to":"failed","time":"…","error":"…"}  (error only with ShowErrors)
//	{"service":"","mesh":"ready","time":"…"}
//	{"service":"","lost":1234,"time":"…"}
//
// A change of a service carries its name and the names of its states
// (servicemesh.State's String) and the time of the change in RFC 3339 (UTC,
// with fractional seconds). A change of the mesh itself has an empty
// "service" and "mesh": the servicemesh.MeshState's name ("not ready",
// "ready", "shutting down", "stopped"). A message with "lost" says that
// the stream fell more than 10,000 changes behind and that many were
// dropped (0 when the count is unknown): the client should fetch
// status.json again, which the page does. The stream never drops a change
// otherwise, and a slow client holds back no one but itself: the streams
// of a Handler share one subscription (servicemesh.Subscribe), each change
// encoded once into a log that each stream sends from at its own pace.
// A change waits up to 5 ms for the ones that follow it, so that a burst
// goes out in one write; a stream with a backlog sends at most 16 KiB
// every 4 ms (some 35,000 changes a second), so that a burst of thousands
// of changes reaches a browser as a few short tasks rather than one long
// one. If the subscription itself fell behind, the stream also looks,
// every second, whether the mesh has stopped, for the "stopped" it may
// have lost; it then tells a loss and "stopped" itself.
//
// After "stopped" the stream ends: the mesh will not change any more, and
// the page closes its EventSource rather than reconnect. A client that
// connects once the mesh has stopped gets the "status" message (its
// "stopped" is true) and then the stream ends. A comment line is sent
// every 15 s while nothing else is, so that proxies keep the connection
// open. When the client goes away the handler returns and its subscription
// is canceled.
//
// For a Mesh not made by servicemesh.New (nil included) the page shows an
// empty, unnamed mesh that is not ready, status.json is the zero Report
// (with an empty list of services), and the events stream sends that
// status and then stays open, sending only its comments, until the client
// leaves: such a mesh never changes.
//
// A server that serves the page from inside the mesh it shows (as the http
// example does) should end its streams when it shuts down, for
// http.Server.Shutdown waits for requests in flight and a stream is one:
// give the server a BaseContext that RegisterOnShutdown cancels.
package statuspage
