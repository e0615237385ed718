// graph.js: the event graph (the `graph` line) as an SVG, laid out left to right in layers:
// producers -> bus -> queues (their DLQs just below them) -> consuming functions -> topics -> topic subscribers,
// the parking queue and undeliverable-event queue below; dotted edges are failure paths. Each edge carries its
// count for the run (edgeCount) and the attributes data-from, data-to, data-count on its <g class="edge">.

const GRAPH = { svg: null, nodes: new Map(), selected: null, badges: new Map() };
const G_NODE_H = 34, G_GAP_Y = 10, G_COL_GAP = 70, G_ROW_GAP = 18, G_CHANNEL = 7;

let measureCtx = null;
function textWidth(text, font) {
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  measureCtx.font = font || '600 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  return measureCtx.measureText(text).width;
}
function nodeTitle(n) {
  if (n.kind === 'dlq' && /DeadLetterQueue$/.test(n.label || n.id)) return (n.label || n.id).replace(/DeadLetterQueue$/, ' DLQ');
  return n.label || n.id;
}

// The count an edge shows, for the run (the rules are the page's contract; see PAGE_READY)
function edgeCount(M, e) {
  const a = M.nodeById.get(e.from), b = M.nodeById.get(e.to), c = M.counts;
  if (!a || !b) return { n: 0, how: 'an edge to or from a node the graph does not list' };
  const aLabel = a.label || a.id;
  if (QUEUE_KINDS[b.kind]) {
    if (a.kind === 'function') {
      return { n: c.sentInto.get(b.id + '\n' + aLabel) || 0, how: 'messages ' + aLabel + ' sent into ' + b.id + ' itself' };
    }
    return { n: c.sentInto.get(b.id + '\n' + a.id) || 0, how: '`sent` lines into ' + b.id + ' from ' + a.id };
  }
  if (b.kind === 'function') {
    const fn = b.label || b.id;
    if (QUEUE_KINDS[a.kind]) {
      const inv = c.batchInv.get(a.id + '\n' + fn) || 0;
      return { n: c.batch.get(a.id + '\n' + fn) || 0, how: 'records in ' + fmtInt(inv) + ' batch invocation(s) of ' + fn + ' from ' + a.id };
    }
    return { n: c.async.get(fn) || 0, approx: true,
      how: 'asynchronous invocations of ' + fn + ' (approximate: every async invocation of the function, whichever rule or subscription made it)' };
  }
  if (b.kind === 'bus') {
    return { n: c.events.get(aLabel + '\n' + b.id) || 0, how: 'events ' + aLabel + ' put on ' + b.id };
  }
  if (b.kind === 'topic') {
    return { n: c.notifs.get(aLabel + '\n' + b.id) || 0, how: 'notifications ' + aLabel + ' published to ' + b.id };
  }
  return { n: 0, how: 'no count for this kind of edge' };
}

// ------------------------------------------------------------------------------------------------------------
// Layout

function graphLayout(M) {
  const nodes = M.nodes, byId = M.nodeById;
  const out = new Map(), inn = new Map();
  for (const n of nodes) { out.set(n.id, []); inn.set(n.id, []); }
  for (const e of M.edges) {
    if (!byId.has(e.from) || !byId.has(e.to)) continue;
    out.get(e.from).push(e); inn.get(e.to).push(e);
  }
  const pos = new Map(); // id -> {col, row, x, y, w, h, sub}
  const placed = id => pos.has(id);
  const place = (id, col, row, sub) => { if (!placed(id)) pos.set(id, { col, row, sub: !!sub }); };

  // activity, to put busy rows first
  const firstAt = new Map();
  for (let i = 0; i < M.nMsg; i++) {
    const q = M.queues[M.mQueue[i]].id;
    if (!firstAt.has(q)) firstAt.set(q, M.mSent[i]);
  }
  for (let i = 0; i < M.nInv; i++) {
    const f = M.functions[M.iFunc[i]];
    if (!firstAt.has(f.id)) firstAt.set(f.id, M.iStart[i]);
  }
  const activeAt = id => firstAt.has(id) ? firstAt.get(id) : Infinity;

  const buses = nodes.filter(n => n.kind === 'bus');
  const rows = [];
  for (const bus of buses) {
    const targets = out.get(bus.id).filter(e => !e.dotted).map(e => byId.get(e.to));
    const group = targets.map((t, i) => ({ bus: bus.id, head: t, order: i, at: Math.min(activeAt(t.id),
      ...out.get(t.id).filter(e => !e.dotted).map(e => activeAt(e.to))) }));
    group.sort((a, b) => (a.at - b.at) || (a.order - b.order));
    rows.push(...group);
  }
  const COL = { prod: 0, bus: 1, queue: 2, fn: 3, topic: 4, sub: 5, subfn: 6 };
  rows.forEach((r, ri) => {
    r.index = ri;
    const t = r.head;
    const chainFrom = (fnId) => {
      for (const e of out.get(fnId)) {
        const b = byId.get(e.to);
        if (e.dotted || b.kind !== 'topic' || placed(b.id)) continue;
        place(b.id, COL.topic, ri);
        for (const e2 of out.get(b.id)) {
          const c = byId.get(e2.to);
          if (placed(c.id)) continue;
          place(c.id, COL.sub, ri);
          for (const e3 of out.get(c.id)) {
            const d = byId.get(e3.to);
            if (!e3.dotted && d.kind === 'function') place(d.id, COL.subfn, ri);
            if (e3.dotted && d.kind === 'dlq') place(d.id, COL.sub, ri, true);
          }
        }
      }
    };
    if (QUEUE_KINDS[t.kind]) {
      place(t.id, COL.queue, ri);
      for (const e of out.get(t.id)) {
        const b = byId.get(e.to);
        if (e.dotted && b.kind === 'dlq') place(b.id, COL.queue, ri, true);
      }
      for (const e of out.get(t.id)) {
        const b = byId.get(e.to);
        if (!e.dotted && b.kind === 'function') { place(b.id, COL.fn, ri); chainFrom(b.id); }
      }
    } else if (t.kind === 'function') { place(t.id, COL.fn, ri); chainFrom(t.id); }
    else if (t.kind === 'topic') { place(t.id, COL.topic, ri); }
  });
  // producers: what puts events on a bus and is fed by nothing
  const producers = nodes.filter(n => !placed(n.id) && n.kind !== 'bus' && !QUEUE_KINDS[n.kind]
    && out.get(n.id).some(e => byId.get(e.to).kind === 'bus'));
  // the failure row: the parking queue, dead-letter targets of buses, whatever is left
  const bottom = nodes.filter(n => !placed(n.id) && n.kind !== 'bus' && !producers.includes(n));
  return { rows, pos, producers, bottom, buses, out, inn, COL };
}

function graphGeometry(M, L) {
  const { pos, rows, producers, bottom, buses, COL } = L;
  const size = new Map();
  const minW = { bus: 96, function: 110, queue: 120, dlq: 110, parking: 120, topic: 120 };
  for (const n of M.nodes) {
    const w = Math.max(Math.ceil(textWidth(nodeTitle(n))) + 26, minW[n.kind] || 100);
    size.set(n.id, { w, h: pos.get(n.id) && pos.get(n.id).sub ? 24 : G_NODE_H });
  }
  const colW = new Array(7).fill(0);
  for (const [id, p] of pos) colW[p.col] = Math.max(colW[p.col], size.get(id).w + (p.sub ? 16 : 0));
  for (const n of producers) colW[COL.prod] = Math.max(colW[COL.prod], size.get(n.id).w);
  for (const b of buses) colW[COL.bus] = Math.max(colW[COL.bus], size.get(b.id).w);
  const parkEdges = M.edges.filter(e => {
    const a = M.nodeById.get(e.from), b = M.nodeById.get(e.to);
    return a && b && b.kind === 'parking' && pos.has(a.id);
  });
  const channelW = parkEdges.length ? 18 + parkEdges.length * G_CHANNEL : 0;
  const colX = new Array(7).fill(0);
  let x = 24;
  for (let c = 0; c < 7; c++) {
    colX[c] = x;
    if (colW[c] > 0) x += colW[c] + G_COL_GAP + (c === COL.fn ? channelW : 0);
  }
  const geo = new Map();
  const top = 30;
  let y = top;
  const rowBox = [];
  for (const r of rows) {
    const stacks = new Map();
    for (const [id, p] of pos) if (p.row === r.index) {
      if (!stacks.has(p.col)) stacks.set(p.col, []);
      stacks.get(p.col).push(id);
    }
    let rowH = 0;
    for (const [c, ids] of stacks) {
      let yy = 0;
      for (const id of ids) {
        const p = pos.get(id), sz = size.get(id);
        geo.set(id, { x: colX[c] + (p.sub ? 16 : 0), y: y + yy + (p.sub ? 2 : 0), w: sz.w, h: sz.h, row: r.index, col: c });
        yy += sz.h + (p.sub ? 4 : G_GAP_Y);
      }
      rowH = Math.max(rowH, yy - G_GAP_Y);
    }
    rowBox[r.index] = { top: y, bottom: y + rowH + G_ROW_GAP - 4 };
    y += rowH + G_ROW_GAP;
  }
  const rowsBottom = y;
  let py = top + 24;
  for (const n of producers) {
    const sz = size.get(n.id);
    geo.set(n.id, { x: colX[COL.prod], y: py, w: sz.w, h: sz.h, col: COL.prod });
    py += sz.h + 18;
  }
  // each bus spans the rows it feeds
  for (const b of buses) {
    const mine = rows.filter(r => r.bus === b.id);
    const y0 = mine.length ? rowBox[mine[0].index].top : top;
    const y1 = mine.length ? rowBox[mine[mine.length - 1].index].bottom - G_ROW_GAP : top + 200;
    geo.set(b.id, { x: colX[COL.bus], y: y0, w: colW[COL.bus], h: Math.max(y1 - y0, py - y0, G_NODE_H), col: COL.bus, tall: true });
  }
  // the failure row below everything
  let by = Math.max(rowsBottom, py) + 36;
  let cursor = 24, maxX = x;
  const parkX = colX[COL.fn] + colW[COL.fn] - 40;
  const rest = [];
  for (const n of bottom) {
    const sz = size.get(n.id);
    if (n.kind === 'parking' && parkEdges.length) {
      geo.set(n.id, { x: parkX, y: by, w: Math.max(sz.w, channelW + 80), h: sz.h, col: -1 });
    } else if (n.kind === 'dlq' && L.inn.get(n.id).some(e => M.nodeById.get(e.from).kind === 'bus')) {
      const bus = geo.get(L.inn.get(n.id).find(e => M.nodeById.get(e.from).kind === 'bus').from);
      geo.set(n.id, { x: bus.x, y: by, w: sz.w, h: sz.h, col: -1 });
    } else rest.push(n);
  }
  if (rest.length) {
    by += G_NODE_H + 30;
    for (const n of rest) {
      const sz = size.get(n.id);
      geo.set(n.id, { x: cursor, y: by, w: sz.w, h: sz.h, col: -1 });
      cursor += sz.w + 24;
    }
  }
  for (const g of geo.values()) maxX = Math.max(maxX, g.x + g.w);
  return { geo, rowBox, width: maxX + 24, height: by + G_NODE_H + 24, parkEdges, colX, colW, COL };
}

// ------------------------------------------------------------------------------------------------------------
// Tooltip (shared with the timeline and the sensors' plots)

function tipShow(html, x, y) {
  const tip = document.getElementById('tooltip');
  tip.innerHTML = html;
  tip.hidden = false;
  const r = tip.getBoundingClientRect();
  let left = x + 14, topY = y + 14;
  if (left + r.width > window.innerWidth - 8) left = Math.max(8, x - r.width - 14);
  if (topY + r.height > window.innerHeight - 8) topY = Math.max(8, y - r.height - 14);
  tip.style.left = left + 'px'; tip.style.top = topY + 'px';
}
function tipHide() { document.getElementById('tooltip').hidden = true; }

// ------------------------------------------------------------------------------------------------------------
// Rendering

function edgeRoute(M, e, a, b, A, B, G) {
  const cy = g => g.y + g.h / 2;
  if (B.kind === 'parking' && e.dotted) {
    const k = G.parkEdges.indexOf(e);
    const chx = G.colX[G.COL.fn] + G.colW[G.COL.fn] + 14 + Math.max(k, 0) * G_CHANNEL;
    const y0 = a.y + a.h * 0.7;
    const xIn = Math.min(Math.max(chx, b.x + 6), b.x + b.w - 6);
    return { d: `M${a.x + a.w},${y0} H${chx} V${b.y - 10} L${xIn},${b.y}`, lx: a.x + a.w - 26, ly: a.y + a.h + 9 };
  }
  if (A.kind === 'bus' && a.tall) {
    if (b.y >= a.y + a.h - 1) {
      const xx = b.x + Math.min(b.w, a.w) / 2;
      return { d: `M${xx},${a.y + a.h} V${b.y}`, lx: xx + 22, ly: (a.y + a.h + b.y) / 2 };
    }
    return { d: `M${a.x + a.w},${cy(b)} H${b.x}`, lx: (a.x + a.w + b.x) / 2, ly: cy(b) };
  }
  if (B.kind === 'bus' && b.tall) {
    if (a.x > b.x + b.w) {
      const box = G.rowBox[a.row];
      const yg = box ? box.bottom - 10 : a.y + a.h + 10;
      const x0 = a.x + 16;
      const lx = G.colX[G.COL.queue] + G.colW[G.COL.queue] + G_COL_GAP / 2;
      return { d: `M${x0},${a.y + a.h} V${yg} H${b.x + b.w}`, lx: Math.min(lx, x0 - 20), ly: yg, feedback: true };
    }
    return { d: `M${a.x + a.w},${cy(a)} H${b.x}`, lx: (a.x + a.w + b.x) / 2, ly: cy(a) };
  }
  if (b.y >= a.y + a.h && b.x < a.x + a.w && b.x + b.w > a.x) {
    const xx = Math.min(a.x + 26, b.x + b.w / 2);
    return { d: `M${xx},${a.y + a.h} V${b.y}`, lx: a.x + 2, ly: (a.y + a.h + b.y) / 2 };
  }
  if (b.x >= a.x + a.w) {
    const x0 = a.x + a.w, y0 = cy(a), x1 = b.x, y1 = cy(b), mx = (x0 + x1) / 2;
    const d = y0 === y1 ? `M${x0},${y0} H${x1}` : `M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1}`;
    return { d, lx: mx, ly: (y0 + y1) / 2 };
  }
  const x0 = a.x, y0 = cy(a), x1 = b.x + b.w, y1 = cy(b), mx = (x0 + x1) / 2;
  return { d: `M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1}`, lx: mx, ly: (y0 + y1) / 2 };
}

function nodeStats(M, n) {
  const c = M.counts;
  if (n.kind === 'function') {
    const f = M.functions[M.fnIndex.get(n.label || n.id)];
    if (!f) return { text: 'idle', idle: true };
    const put = c.eventsFrom.get(n.label || n.id) || 0;
    const parts = [fmtInt(f.invocations) + ' inv'];
    if (f.failed) parts.push(fmtInt(f.failed) + ' failed');
    return { text: parts.join(' \u00b7 '), idle: f.invocations === 0 && put === 0, failed: f.failed };
  }
  if (QUEUE_KINDS[n.kind]) {
    const q = M.queues[M.qIndex.get(n.id)];
    const parts = [fmtInt(q.sent) + (n.kind === 'queue' ? ' sent' : ' in')];
    if (q.retries) parts.push(fmtInt(q.retries) + ' retries');
    return { text: parts.join(' \u00b7 '), idle: q.sent === 0, failed: n.kind !== 'queue' && q.sent > 0 };
  }
  if (n.kind === 'bus') {
    let k = 0;
    for (const [key, v] of c.events) if (key.endsWith('\n' + n.id)) k += v;
    return { text: fmtInt(k) + ' events', idle: k === 0 };
  }
  if (n.kind === 'topic') {
    let k = 0;
    for (const [key, v] of c.notifs) if (key.endsWith('\n' + n.id)) k += v;
    return { text: fmtInt(k) + ' published', idle: k === 0 };
  }
  return { text: n.kind, idle: true };
}

function renderGraph(M) {
  const host = document.getElementById('graph');
  host.textContent = '';
  GRAPH.nodes.clear(); GRAPH.badges.clear(); GRAPH.selected = null;
  if (!M.nodes.length) { host.append(h('p', { class: 'empty', text: 'This run has no event graph.' })); return; }
  const L = graphLayout(M), G = graphGeometry(M, L);
  const svg = sv('svg', { class: 'graph', width: G.width, height: G.height, viewBox: `0 0 ${G.width} ${G.height}`, role: 'img', 'aria-label': 'event graph' });
  const defs = sv('defs');
  for (const [id, cls] of [['arrow', 'arrow'], ['arrow-fail', 'arrow fail'], ['arrow-hot', 'arrow hot']]) {
    defs.append(sv('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      sv('path', { d: 'M0,1 L9,5 L0,9 z', class: cls })));
  }
  svg.append(defs);
  svg.append(sv('rect', { class: 'graph-bg', x: 0, y: 0, width: G.width, height: G.height, onclick: () => selectNode(null) }));
  const edgesLayer = sv('g', { class: 'edges' }), labelsLayer = sv('g', { class: 'edge-labels' }), nodesLayer = sv('g', { class: 'nodes' });
  const edgeEls = [];
  for (const e of M.edges) {
    const A = M.nodeById.get(e.from), B = M.nodeById.get(e.to), a = G.geo.get(e.from), b = G.geo.get(e.to);
    if (!A || !B || !a || !b) continue;
    const cnt = edgeCount(M, e), r = edgeRoute(M, e, a, b, A, B, G);
    const fail = e.dotted;
    const cls = ['edge', fail ? 'dotted' : '', cnt.n === 0 ? 'zero' : '', r.feedback ? 'feedback' : '', cnt.approx ? 'approx' : '', fail && cnt.n > 0 ? 'failing' : ''].filter(Boolean).join(' ');
    const labelText = (B.kind === 'parking' ? 'park ' : '') + fmtInt(cnt.n) + (cnt.approx ? '\u2248' : '');
    const g = sv('g', { class: cls, 'data-from': e.from, 'data-to': e.to, 'data-count': String(cnt.n), 'data-label': e.label || '' });
    const line = sv('path', { class: 'edge-line', d: r.d, 'marker-end': `url(#${fail && cnt.n > 0 ? 'arrow-fail' : 'arrow'})` });
    line.dataset.marker = fail && cnt.n > 0 ? 'arrow-fail' : 'arrow';
    g.append(line);
    g.append(sv('path', { class: 'edge-hit', d: r.d }));
    const tw = textWidth(labelText, '600 11px system-ui, sans-serif') + 10;
    const lab = sv('g', { class: 'edge-label', transform: `translate(${Math.round(r.lx)},${Math.round(r.ly)})` },
      sv('rect', { x: -tw / 2, y: -8, width: tw, height: 16, rx: 8 }), sv('text', { x: 0, y: 4, text: labelText }));
    const tip = () => `<b>${esc(e.from)} \u2192 ${esc(e.to)}</b><br>${esc(e.label || '')}${e.dotted ? ' <i>(failure path)</i>' : ''}` +
      `<br><b>${fmtInt(cnt.n)}</b> ${esc(cnt.how)}`;
    for (const el of [g, lab]) {
      el.addEventListener('mousemove', ev => { g.classList.add('hover'); tipShow(tip(), ev.clientX, ev.clientY); });
      el.addEventListener('mouseleave', () => { g.classList.remove('hover'); tipHide(); });
    }
    lab.dataset.for = e.from + '>' + e.to;
    edgesLayer.append(g); labelsLayer.append(lab);
    edgeEls.push({ e, g, lab });
  }
  for (const n of M.nodes) {
    const a = G.geo.get(n.id);
    if (!a) continue;
    const st = nodeStats(M, n);
    const g = sv('g', { class: `node kind-${n.kind}${st.idle ? ' idle' : ''}${st.failed ? ' has-failed' : ''}`, 'data-node': n.id, 'data-kind': n.kind,
      transform: `translate(${a.x},${a.y})`, tabindex: 0 });
    const rx = n.kind === 'topic' ? a.h / 2 : n.kind === 'function' ? 8 : 3;
    g.append(sv('rect', { class: 'node-box', width: a.w, height: a.h, rx }));
    if (a.tall) {
      g.append(sv('text', { class: 'node-title', x: a.w / 2, y: 17, 'text-anchor': 'middle', text: nodeTitle(n) }));
      g.append(sv('text', { class: 'node-sub', x: a.w / 2, y: 31, 'text-anchor': 'middle', text: st.text }));
    } else {
      g.append(sv('text', { class: 'node-title', x: 10, y: a.h > 30 ? 15 : a.h / 2 + 4, text: nodeTitle(n) }));
      if (a.h > 30) g.append(sv('text', { class: 'node-sub', x: 10, y: 28, text: st.text }));
    }
    g.append(sv('title', { text: `${n.id} (${n.kind})${n.label && n.label !== n.id ? ': ' + n.label : ''}` }));
    if (n.kind === 'function' || QUEUE_KINDS[n.kind]) {
      const badge = sv('g', { class: 'live', transform: `translate(${a.w - 4},${-4})`, visibility: 'hidden' },
        sv('rect', { x: -22, y: -7, width: 26, height: 14, rx: 7 }), sv('text', { x: -9, y: 4, 'text-anchor': 'middle', text: '0' }));
      g.append(badge);
      GRAPH.badges.set(n.id, badge);
    }
    g.addEventListener('click', ev => { ev.stopPropagation(); selectNode(GRAPH.selected === n.id ? null : n.id); });
    g.addEventListener('keydown', ev => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); selectNode(n.id); } });
    nodesLayer.append(g);
    GRAPH.nodes.set(n.id, g);
  }
  svg.append(edgesLayer, nodesLayer, labelsLayer);
  host.append(svg);
  GRAPH.svg = svg; GRAPH.edgeEls = edgeEls; GRAPH.model = M;
  renderGraphLegend();
}

function renderGraphLegend() {
  const host = document.getElementById('graph-legend');
  host.textContent = '';
  const items = [['function', 'function'], ['queue', 'queue'], ['dlq', 'dead-letter queue'], ['parking', 'parking queue'], ['topic', 'topic'], ['bus', 'event bus']];
  for (const [k, t] of items) host.append(h('span', { class: 'lg' }, h('i', { class: 'lg-node kind-' + k }), t));
  host.append(h('span', { class: 'lg' }, h('i', { class: 'lg-edge dotted' }), 'failure path'));
  host.append(h('span', { class: 'lg' }, h('i', { class: 'lg-edge feedback' }), 'events put back on the bus'));
  host.append(h('span', { class: 'lg note', text: 'edge labels: counts for the whole run (hover for what is counted); badges: state at the slider\u2019s instant; click a node to highlight its paths' }));
}

// Highlight a node, its neighbours and its edges (null: clear); opens the node in the details pane
function selectNode(id) {
  const svg = GRAPH.svg;
  if (!svg) return;
  GRAPH.selected = id;
  svg.classList.toggle('has-sel', id != null);
  const near = new Set(id != null ? [id] : []);
  for (const { e, g, lab } of GRAPH.edgeEls) {
    const hot = id != null && (e.from === id || e.to === id);
    g.classList.toggle('hot', hot); lab.classList.toggle('hot', hot);
    const line = g.querySelector('.edge-line');
    line.setAttribute('marker-end', `url(#${hot ? 'arrow-hot' : line.dataset.marker})`);
    if (hot) { near.add(e.from); near.add(e.to); }
  }
  for (const [nid, g] of GRAPH.nodes) {
    g.classList.toggle('sel', nid === id);
    g.classList.toggle('near', near.has(nid) && nid !== id);
  }
  if (id != null && typeof showNodeDetails === 'function') showNodeDetails(id);
}

// The badges: each queue's messages (visible + in flight + delayed) and each function's invocations in flight at t
function graphInstant(M, st) {
  if (GRAPH.model !== M) return;
  for (const [id, badge] of GRAPH.badges) {
    const n = M.nodeById.get(id);
    let v = 0, title = '';
    if (n.kind === 'function') {
      const f = M.fnIndex.get(n.label || n.id);
      v = f === undefined ? 0 : st.fin[f];
      title = v + ' in flight';
    } else {
      const q = M.qIndex.get(id);
      v = st.vis[q] + st.inf[q] + st.del[q];
      title = `${st.vis[q]} visible, ${st.inf[q]} in flight, ${st.del[q]} delayed`;
    }
    if (badge._v === v) continue;
    badge._v = v;
    badge.setAttribute('visibility', v ? 'visible' : 'hidden');
    const text = badge.querySelector('text'), rect = badge.querySelector('rect');
    const label = v > 9999 ? Math.round(v / 1000) + 'k' : String(v);
    text.textContent = label;
    const w = Math.max(18, label.length * 7 + 10);
    rect.setAttribute('x', -w + 4); rect.setAttribute('width', w);
    text.setAttribute('x', -w / 2 + 4);
    badge.setAttribute('data-value', v);
    let t = badge.querySelector('title');
    if (!t) { t = sv('title'); badge.append(t); }
    t.textContent = title;
  }
}
