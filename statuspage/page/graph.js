// The dependency graph, as inline SVG laid out by depth: a service that
// depends on nothing has depth 0, any other one more than its deepest
// dependency (a cycle counts as depth 0 where it closes). A depth's column
// holds at most perColumn nodes, then goes on in another column beside it.
// Arrows point from a service to what it depends on. The graph is built in
// slices, frame after frame (buildGraph), into a fragment that replaces the
// old drawing once complete: a thousand services never hold the page.

var nodeW = 170, nodeH = 34, gapX = 60, gapY = 10, pad0 = 12, perColumn = 30;
var graphEvery = 300; // ms between two layouts at most
var graphJob = null;  // the layout being built

function layoutGraph() {
  var first = new Map(); // name -> its first entry, where edges point
  model.entries.forEach(function (e) { if (!first.has(e.name)) first.set(e.name, e); });
  var depth = new Map(), visiting = new Set();
  function depthOf(e) {
    if (depth.has(e)) return depth.get(e);
    if (visiting.has(e)) return 0;
    visiting.add(e);
    var d = 0;
    e.dependsOn.forEach(function (n) {
      var t = first.get(n);
      if (t && t !== e) d = Math.max(d, depthOf(t) + 1);
    });
    visiting.delete(e);
    depth.set(e, d);
    return d;
  }
  var levels = [];
  model.entries.forEach(function (e) {
    var d = depthOf(e);
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
  var job = {
    entries: model.entries.slice(), first: first, pos: pos, i: 0,
    width: col ? pad0 * 2 + col * nodeW + (col - 1) * gapX : 0,
    height: maxRows ? pad0 * 2 + maxRows * nodeH + (maxRows - 1) * gapY : 0,
    frag: document.createDocumentFragment(), edges: svg("g", { "class": "edges" }), nodes: svg("g", { "class": "nodes" }),
    made: []
  };
  var defs = svg("defs", {});
  var marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", "class": "arrow" }));
  defs.appendChild(marker);
  job.frag.appendChild(defs);
  job.frag.appendChild(job.edges);
  job.frag.appendChild(job.nodes);
  return job;
}

// buildGraph draws the job's services, with the edges to what they depend
// on, until the time is past until; it reports whether the job is done,
// and then puts the drawing in place.
function buildGraph(job, until) {
  while (job.i < job.entries.length) {
    if (job.i % 16 === 0 && job.i && performance.now() > until) return false;
    drawNode(job, job.entries[job.i++]);
  }
  var g = $("graph");
  g.replaceChildren(job.frag);
  g.setAttribute("width", job.width);
  g.setAttribute("height", job.height);
  g.setAttribute("viewBox", "0 0 " + job.width + " " + job.height);
  job.made.forEach(function (e) { // states may have changed meanwhile
    e.node.g.setAttribute("data-state", e.state);
    set(e.node.st, e.state);
    set(e.node.title, e.name + ": " + e.state);
  });
  graphJob = null;
  return true;
}

function drawNode(job, e) {
  var from = job.pos.get(e);
  e.dependsOn.forEach(function (n) {
    var t = job.first.get(n), to = t && job.pos.get(t);
    if (!to || t === e) return;
    var x1 = from.x, y1 = from.y + nodeH / 2, x2 = to.x + nodeW, y2 = to.y + nodeH / 2;
    if (x2 > x1) { x1 = from.x + nodeW; x2 = to.x; } // a cycle: the dependency is to the right
    var mx = (x1 + x2) / 2;
    job.edges.appendChild(svg("path", { "class": "edge", d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2, "marker-end": "url(#arrow)" }));
  });
  var node = svg("g", { "class": "node", transform: "translate(" + from.x + "," + from.y + ")", "data-state": e.state });
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
  job.made.push(e);
  job.nodes.appendChild(node);
}
