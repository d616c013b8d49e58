// Drawing the model: the header, a table row per service, and the
// dependency graph as inline SVG. Changes are drawn once per frame, only
// what changed; the graph is laid out again at most every graphEvery ms.

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
var graphEvery = 300;

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
  var ms = ns / 1e6;
  if (ms < 1) return ms.toFixed(3) + " ms";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 2 : 1) + " ms";
  var s = ms / 1000;
  if (s < 60) return s.toFixed(2) + " s";
  return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
}

function pad(n, w) { return String(n).padStart(w, "0"); }

function fmtTime(iso) {
  if (!iso) return "\u2013";
  var d = new Date(iso);
  if (isNaN(d.getTime())) return "\u2013";
  return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." + pad(d.getMilliseconds(), 3);
}

function set(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function makeRow(e) {
  var tr = el("div", "row");
  tr.setAttribute("role", "row");
  var state = el("span", "state");
  var cells = {
    name: el("span", "name"), state: el("span", "st"), since: el("span", "since"), resolve: el("span", "num"),
    init: el("span", "num"), stop: el("span", "num"), restarts: el("span", "num"), deps: el("span", "deps"),
    error: el("span", "error")
  };
  cells.state.appendChild(state);
  for (var k in cells) {
    cells[k].setAttribute("role", "cell");
    tr.appendChild(cells[k]);
  }
  cells.stateText = state;
  e.row = { tr: tr, cells: cells };
  return tr;
}

function drawRow(e) {
  var c = e.row.cells;
  set(c.name, e.name);
  e.row.tr.setAttribute("data-service", e.name);
  c.stateText.setAttribute("data-state", e.state);
  set(c.stateText, e.state);
  set(c.since, fmtTime(e.since));
  c.since.title = e.since;
  set(c.resolve, fmtDuration(e.resolve));
  set(c.init, fmtDuration(e.init));
  set(c.stop, fmtDuration(e.stop));
  set(c.restarts, String(e.restarts));
  set(c.deps, e.dependsOn.length ? e.dependsOn.join(", ") : "\u2013");
  set(c.error, e.error);
  if (e.node) {
    e.node.g.setAttribute("data-state", e.state);
    set(e.node.st, e.state);
    set(e.node.title, e.name + ": " + e.state);
  }
}

// render draws what changed. It stops drawing rows after frameBudget ms
// and goes on in the next frame, so that a burst of changes (a thousand
// services added at once) never holds the page for long.
var frameBudget = 12;

function render() {
  view.frame = 0;
  var start = performance.now();
  var rows = $("rows");
  view.removed.forEach(function (e) {
    if (e.row) e.row.tr.remove();
    e.row = null;
  });
  view.removed = [];
  var n = 0;
  for (var e of view.dirty) {
    if (++n % 32 === 0 && performance.now() - start > frameBudget) break;
    if (!e.row) rows.appendChild(makeRow(e));
    drawRow(e);
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
  $("empty").hidden = model.entries.length !== 0 || model.mesh === "connecting";

  var name = model.name || "(unnamed mesh)";
  set($("mesh-name"), name);
  if (document.title !== name + " \u2014 mesh status") document.title = name + " \u2014 mesh status";
  var ready = $("ready");
  ready.setAttribute("data-ready", model.ready ? "yes" : "no");
  set(ready, model.ready ? "ready" : "not ready");
  var mesh = $("mesh-state");
  mesh.setAttribute("data-mesh", model.mesh);
  set(mesh, model.mesh);
  var failed = 0;
  model.entries.forEach(function (e) { if (e.state === "failed") failed++; });
  set($("counts"), model.entries.length + (model.entries.length === 1 ? " service" : " services") +
    (failed ? ", " + failed + " failed" : ""));
  var conn = $("conn");
  conn.setAttribute("data-conn", view.conn);
  set(conn, view.conn);

  if (view.structure) {
    // Laid out again at most every graphEvery ms, and, for a big graph,
    // once the rows are drawn.
    var wait = view.lastGraph + graphEvery - Date.now();
    if (wait <= 0 && (!view.dirty.size || model.entries.length < 200)) {
      view.structure = false;
      view.lastGraph = Date.now();
      drawGraph();
    } else if (!view.graphTimer) {
      view.graphTimer = setTimeout(function () { view.graphTimer = 0; schedule(); }, Math.max(wait, 16));
    }
  }
}

// drawGraph lays the graph out by depth: a service that depends on nothing
// has depth 0, any other one more than its deepest dependency (a cycle
// counts as depth 0 where it closes). A depth's column holds at most
// perColumn nodes, then continues in another column beside it.
var nodeW = 170, nodeH = 34, gapX = 60, gapY = 10, pad0 = 12, perColumn = 30;

function drawGraph() {
  var g = $("graph");
  var first = new Map(); // name -> its first entry, where edges point
  model.entries.forEach(function (e) { if (!first.has(e.name)) first.set(e.name, e); });
  var depth = new Map();
  function depthOf(e, visiting) {
    if (depth.has(e)) return depth.get(e);
    if (visiting.has(e)) return 0;
    visiting.add(e);
    var d = 0;
    e.dependsOn.forEach(function (n) {
      var t = first.get(n);
      if (t && t !== e) d = Math.max(d, depthOf(t, visiting) + 1);
    });
    visiting.delete(e);
    depth.set(e, d);
    return d;
  }
  var levels = [];
  model.entries.forEach(function (e) {
    var d = depthOf(e, new Set());
    (levels[d] = levels[d] || []).push(e);
  });
  var pos = new Map(), col = 0, maxRows = 0;
  levels.forEach(function (level) {
    if (!level) return;
    for (var i = 0; i < level.length; i++) {
      var c = col + Math.floor(i / perColumn), r = i % perColumn;
      pos.set(level[i], { x: pad0 + c * (nodeW + gapX), y: pad0 + r * (nodeH + gapY) });
      maxRows = Math.max(maxRows, r + 1);
    }
    col += Math.ceil(level.length / perColumn);
  });
  var width = col ? pad0 * 2 + col * nodeW + (col - 1) * gapX : 0;
  var height = maxRows ? pad0 * 2 + maxRows * nodeH + (maxRows - 1) * gapY : 0;

  var frag = document.createDocumentFragment();
  var defs = svg("defs", {});
  var marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", "class": "arrow" }));
  defs.appendChild(marker);
  frag.appendChild(defs);
  var edges = svg("g", { "class": "edges" });
  model.entries.forEach(function (e) {
    var from = pos.get(e);
    e.dependsOn.forEach(function (n) {
      var t = first.get(n), to = t && pos.get(t);
      if (!to || t === e) return;
      var x1 = from.x, y1 = from.y + nodeH / 2, x2 = to.x + nodeW, y2 = to.y + nodeH / 2;
      if (x2 > x1) { x1 = from.x + nodeW; x2 = to.x; } // a cycle: the dependency is to the right
      var mx = (x1 + x2) / 2;
      edges.appendChild(svg("path", { "class": "edge", d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2, "marker-end": "url(#arrow)" }));
    });
  });
  frag.appendChild(edges);
  model.entries.forEach(function (e) {
    var p = pos.get(e);
    var node = svg("g", { "class": "node", transform: "translate(" + p.x + "," + p.y + ")", "data-state": e.state });
    var title = svg("title", {});
    title.textContent = e.name + ": " + e.state;
    node.appendChild(title);
    node.appendChild(svg("rect", { width: nodeW, height: nodeH, rx: 5 }));
    var label = svg("text", { x: 8, y: 14 });
    label.textContent = e.name.length > 24 ? e.name.slice(0, 23) + "\u2026" : e.name;
    node.appendChild(label);
    var st = svg("text", { x: 8, y: 28, "class": "st" });
    st.textContent = e.state;
    node.appendChild(st);
    e.node = { g: node, st: st, title: title };
    frag.appendChild(node);
  });
  g.replaceChildren(frag);
  g.setAttribute("width", width);
  g.setAttribute("height", height);
  g.setAttribute("viewBox", "0 0 " + width + " " + height);
}
