// Drawing the model: the header, and a row per service (the graph is in
// graph.js). Changes are drawn once per frame, only what changed, a few
// milliseconds' worth at a time (see render).

var $ = function (id) { return document.getElementById(id); };
var SVGNS = $("graph").namespaceURI; // the SVG namespace, without spelling a URL

var view = {
  dirty: new Set(),  // entries whose row changed
  removed: [],       // entries whose row and node go
  structure: false,  // services or dependencies changed: lay the graph out again
  reorder: false,    // the rows' order may have changed
  conn: "connecting",
  frame: 0,
  lastGraph: 0,
  graphTimer: 0
};

function schedule() {
  if (!view.frame) view.frame = requestAnimationFrame(render);
}

function el(tag, cls, text) {
  var x = document.createElement(tag);
  if (cls) x.className = cls;
  if (text !== undefined) x.textContent = text;
  return x;
}

function svg(tag, attrs) {
  var x = document.createElementNS(SVGNS, tag);
  for (var k in attrs) x.setAttribute(k, attrs[k]);
  return x;
}

function fmtDuration(ns) {
  if (!ns) return "\u2013";
  if (ns < 1e3) return ns + " ns";
  var unit = [[1e9, " s"], [1e6, " ms"], [1e3, " \u00b5s"]].find(function (u) { return ns >= u[0]; });
  var v = ns / unit[0];
  if (unit[1] === " s" && v >= 60) return Math.floor(v / 60) + " min " + Math.round(v % 60) + " s";
  return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + unit[1];
}

function pad(n, w) { return String(n).padStart(w, "0"); }

function fmtTime(iso) {
  if (!iso) return "\u2013";
  var d = new Date(iso);
  if (isNaN(d.getTime())) return "\u2013";
  return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." + pad(d.getMilliseconds(), 3);
}

// set and setAttr touch the document only for a change, which spares the
// browser the work of a change (styles matched again) that is none.
function set(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function makeRow(e) {
  var tr = el("div", "row");
  tr.setAttribute("role", "row");
  var state = el("span", "state");
  var cells = {
    name: el("span", "c name"), state: el("span", "c st"), since: el("span", "c since"), resolve: el("span", "c num"),
    init: el("span", "c num"), stop: el("span", "c num"), restarts: el("span", "c num"), deps: el("span", "c deps"),
    detail: el("span", "c detail"), error: el("span", "c error")
  };
  cells.state.appendChild(state);
  for (var k in cells) {
    cells[k].setAttribute("role", "cell");
    tr.appendChild(cells[k]);
  }
  cells.stateText = state;
  e.row = { tr: tr, cells: cells };
}

function drawRow(e) {
  var c = e.row.cells;
  set(c.name, e.name);
  setAttr(e.row.tr, "data-service", e.name);
  setAttr(c.stateText, "data-state", e.state);
  set(c.stateText, e.state);
  set(c.since, fmtTime(e.since));
  setAttr(c.since, "title", e.since);
  set(c.resolve, fmtDuration(e.resolve));
  set(c.init, fmtDuration(e.init));
  set(c.stop, fmtDuration(e.stop));
  set(c.restarts, String(e.restarts));
  set(c.deps, e.dependsOn.length ? e.dependsOn.join(", ") : "\u2013");
  set(c.detail, e.detail || "\u2013");
  set(c.error, e.error);
  if (e.node) {
    setAttr(e.node.g, "data-state", e.state);
    set(e.node.st, e.state);
    set(e.node.title, e.name + ": " + e.state);
  }
}

// render draws what changed. It stops drawing rows after frameBudget ms,
// or after newRows new rows (each costs the browser's style and layout
// after the script too), and goes on in the next frame, so that a burst of
// changes (a thousand services added at once) never holds the page long.
var frameBudget = 4, newRows = 60;

function render() {
  view.frame = 0;
  var start = performance.now();
  var rows = $("rows");
  view.removed.forEach(function (e) {
    if (e.row) e.row.tr.remove();
    e.row = null;
  });
  view.removed = [];
  var n = 0, made = 0;
  for (var e of view.dirty) {
    if (++n % 32 === 0 && performance.now() - start > frameBudget) break;
    if (!e.row) {
      if (made++ === newRows) break;
      makeRow(e);
      drawRow(e);
      rows.appendChild(e.row.tr); // filled before it is in the document
    } else {
      drawRow(e);
    }
    view.dirty.delete(e);
  }
  if (view.dirty.size) schedule(); // the rest in the next frame
  if (view.reorder && !view.dirty.size) {
    view.reorder = false;
    var at = rows.firstChild;
    model.entries.forEach(function (e) {
      if (!e.row) return;
      if (e.row.tr !== at) rows.insertBefore(e.row.tr, at);
      else at = at.nextSibling;
    });
  }
  var errors = model.entries.some(function (e) { return e.error !== ""; });
  $("services").classList.toggle("with-errors", errors);
  var details = model.entries.some(function (e) { return e.detail !== ""; });
  $("services").classList.toggle("with-details", details);
  $("empty").hidden = model.entries.length !== 0 || model.mesh === "connecting";

  var name = model.name || "(unnamed mesh)";
  set($("mesh-name"), name);
  if (document.title !== name + " \u2014 mesh status") document.title = name + " \u2014 mesh status";
  var ready = $("ready");
  setAttr(ready, "data-ready", model.ready ? "yes" : "no");
  set(ready, model.ready ? "ready" : "not ready");
  var mesh = $("mesh-state");
  setAttr(mesh, "data-mesh", model.mesh);
  set(mesh, model.mesh);
  var failed = 0;
  model.entries.forEach(function (e) { if (e.state === "failed") failed++; });
  set($("counts"), model.entries.length + (model.entries.length === 1 ? " service" : " services") +
    (failed ? ", " + failed + " failed" : ""));
  var conn = $("conn");
  setAttr(conn, "data-conn", view.conn);
  set(conn, view.conn);

  if (view.structure && !graphJob) {
    // Laid out again at most every graphEvery ms, once the rows are drawn.
    var wait = view.lastGraph + graphEvery - Date.now();
    if (wait <= 0 && !view.dirty.size) {
      view.structure = false;
      view.lastGraph = Date.now();
      graphJob = layoutGraph();
    } else if (!view.graphTimer) {
      view.graphTimer = setTimeout(function () { view.graphTimer = 0; schedule(); }, Math.max(wait, 16));
    }
  }
  if (graphJob && !buildGraph(graphJob, start + frameBudget)) schedule(); // the rest in the next frame
}
