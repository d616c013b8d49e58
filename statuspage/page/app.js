// The model of the mesh and the stream that keeps it up to date. Every
// name and text from the mesh reaches the page through textContent or an
// attribute value (render.js), never as markup.

var model = {
  name: "",
  ready: false,
  mesh: "connecting", // "connecting", "not ready", "ready", "shutting down", "stopped"
  entries: [],        // the services in the order added
  byName: new Map(),  // name -> its entries (names need not be unique)
  seq: 0,             // how many changes of services were applied
  nextID: 1
};

function newEntry(name) {
  var e = {
    id: model.nextID++, name: name, state: "added", since: "",
    resolve: 0, init: 0, stop: 0, restarts: 0, error: "", detail: "", dependsOn: [],
    row: null, node: null
  };
  var list = model.byName.get(name);
  if (!list) {
    list = [];
    model.byName.set(name, list);
  }
  list.push(e);
  model.entries.push(e);
  view.structure = true;
  return e;
}

function dropEntry(e) {
  var list = model.byName.get(e.name) || [];
  var i = list.indexOf(e);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) model.byName.delete(e.name);
  i = model.entries.indexOf(e);
  if (i >= 0) model.entries.splice(i, 1);
  view.dirty.delete(e); // it may never have been drawn
  view.removed.push(e);
  view.structure = true;
}

// applyStatus takes a Report (the stream's first message, or
// status.json). With full, it is the truth: states, services added and
// gone. Without, it only brings what changes do not carry (durations,
// restarts, errors, details, dependencies), for changes came in since it
// was taken.
function applyStatus(rep, full) {
  model.name = rep.name || "";
  if (full) {
    model.ready = !!rep.ready;
    if (rep.stopped) model.mesh = "stopped";
    else if (model.mesh !== "shutting down") model.mesh = rep.ready ? "ready" : "not ready";
  }
  var pools = new Map();
  model.byName.forEach(function (list, name) { pools.set(name, list.slice()); });
  var order = [];
  (rep.services || []).forEach(function (s) {
    var pool = pools.get(s.name);
    var e = pool && pool.length ? pool.shift() : null;
    if (!e) {
      if (!full) return;
      e = newEntry(s.name);
    }
    if (full) {
      e.state = s.state;
      e.since = s.since || "";
    }
    e.resolve = s.resolve || 0;
    e.init = s.init || 0;
    e.stop = s.stop || 0;
    e.restarts = s.restarts || 0;
    e.error = s.error || "";
    e.detail = s.detail || "";
    var deps = s.dependsOn || [];
    if (deps.join("\n") !== e.dependsOn.join("\n")) {
      e.dependsOn = deps;
      view.structure = true;
    }
    view.dirty.add(e);
    order.push(e);
  });
  if (full) {
    pools.forEach(function (pool) { pool.forEach(dropEntry); });
    model.entries = order;
    view.reorder = true;
  }
  watchDetails();
  schedule();
}

// A service's detail (such as which replica leads) changes without a
// change of its state, so no change tells it: while any service has one,
// status.json is asked again every detailEvery ms.
var detailTimer = 0, detailEvery = 2000;

function watchDetails() {
  if (detailTimer || !source) return;
  if (!model.entries.some(function (e) { return e.detail !== ""; })) return;
  detailTimer = setTimeout(function () {
    detailTimer = 0;
    if (source) refetch(false);
  }, detailEvery);
}

// applyChange applies one message of the stream.
function applyChange(c) {
  if (c.lost !== undefined) { // the stream dropped changes: fetch the truth
    refetch(true);
    return;
  }
  if (c.service === "") {
    model.mesh = c.mesh;
    model.ready = c.mesh === "ready";
    if (c.mesh === "stopped") end();
    schedule();
    return;
  }
  model.seq++;
  var list = model.byName.get(c.service) || [];
  var e = null;
  for (var i = 0; i < list.length && !e; i++) if (list[i].state === c.from) e = list[i];
  if (!e && c.from !== "added" && list.length) e = list[0];
  if (!e) e = newEntry(c.service);
  if (c.to === "removed") {
    dropEntry(e);
  } else {
    if (c.from === "backing off" && c.to === "running") e.restarts++;
    e.state = c.to;
    e.since = c.time;
    if (c.error) e.error = c.error;
    view.dirty.add(e);
  }
  refetch(false);
  schedule();
}

// refetch asks status.json for what changes do not carry, once the changes
// have settled (or at once, after a loss), never while a fetch is under way.
// It is called for every change, so it only notes the time: one timer looks
// at it.
var fetching = false, refetchTimer = 0, refetchFull = false, firstPending = 0, lastChange = 0;
var settle = 400, maxWait = 3000;

function refetch(full) {
  refetchFull = refetchFull || full;
  lastChange = Date.now();
  if (!firstPending) firstPending = lastChange;
  if (full) {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(fetchStatus, 0);
  } else if (!refetchTimer) {
    refetchTimer = setTimeout(refetchDue, settle);
  }
}

function refetchDue() {
  var now = Date.now();
  var due = Math.min(lastChange + settle, firstPending + maxWait);
  refetchTimer = now < due ? setTimeout(refetchDue, due - now) : setTimeout(fetchStatus, 0);
}

function fetchStatus() {
  refetchTimer = 0;
  if (fetching) {
    refetchTimer = setTimeout(fetchStatus, settle);
    return;
  }
  fetching = true;
  var full = refetchFull, seq = model.seq;
  refetchFull = false;
  firstPending = 0;
  fetch("status.json", { cache: "no-store", credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (rep) {
      fetching = false;
      if (!rep) return;
      var quiet = seq === model.seq;
      applyStatus(rep, full || quiet);
      if (full && !quiet) refetch(false); // changes came meanwhile: look again once settled
    }, function () {
      fetching = false; // the server is gone; the stream says so
    });
}

// The stream.
var source = null;

function setConn(s) {
  view.conn = s;
  schedule();
}

function end() {
  if (source) source.close();
  source = null;
  setConn("ended");
}

// The messages of the stream wait in inbox and are applied in slices of at
// most sliceBudget ms, each a task of its own: a burst of thousands of
// changes, which the browser may hand over in one go, never holds the
// page for long. A MessageChannel runs the slices (timers would be
// throttled in a hidden tab, and the inbox would grow).
var inbox = [], inboxHead = 0, draining = false, sliceBudget = 4;
var slices = new MessageChannel();
slices.port1.onmessage = drain;

function receive(kind, data) {
  inbox.push(kind, data);
  if (!draining) {
    draining = true;
    slices.port2.postMessage(0);
  }
}

function drain() {
  var start = performance.now(), n = 0;
  while (inboxHead < inbox.length && source) {
    var kind = inbox[inboxHead], data = inbox[inboxHead + 1];
    inboxHead += 2;
    if (kind === "status") {
      var rep = JSON.parse(data);
      applyStatus(rep, true);
      setConn("live");
      if (rep.stopped) end();
    } else {
      applyChange(JSON.parse(data));
    }
    if (++n % 32 === 0 && performance.now() - start > sliceBudget) break;
  }
  if (inboxHead < inbox.length && source) {
    slices.port2.postMessage(0);
    return;
  }
  inbox = [];
  inboxHead = 0;
  draining = false;
}

function connect() {
  source = new EventSource("events");
  source.onopen = function () { setConn("live"); };
  source.onerror = function () {
    if (!source) return;
    setConn(source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting");
  };
  source.addEventListener("status", function (ev) { receive("status", ev.data); });
  source.onmessage = function (ev) { receive("change", ev.data); };
}

connect();
