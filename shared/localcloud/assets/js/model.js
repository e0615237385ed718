// model.js: decoding the run record and the per-run model every view reads.
//
// How the page stays usable at 10,000 orders (~470,000 record lines, ~140,000 messages, ~37,000 invocations,
// ~57,000 events): the record travels gzipped and base64-encoded inside the page and is inflated by the
// browser's own DecompressionStream; each run's messages and invocations are turned once into typed arrays
// (Float64Array times, Int32Array indices, receives in one flat array per run), so a slider move is one linear
// scan over numbers, throttled to one per animation frame; the events and orders lists are virtualised (only the
// rows on screen are in the DOM); the timeline is a canvas whose lanes draw only what is on screen and, when
// zoomed out, bucket invocations and markers per pixel column instead of drawing each one.
'use strict';

const LC = {
  runs: [],       // parsed runs: {meta, graph, feed, sent, received, gone, invoked, ended, entries, views, summary}
  run: null,      // the selected run
  model: null,    // its model (built on first use, cached on the run)
  t: 0,           // the slider's instant (virtual ms since the run's start)
  hooks: [],      // functions called with (t) when the instant changes
};

const NUM = new Intl.NumberFormat('en-US');
function fmtInt(n) { return n == null ? '' : NUM.format(n); }
function fmt2(x) { return (x == null || !isFinite(x)) ? '\u2013' : Number(x).toFixed(2); }
function pad(n, w) { let s = String(n); while (s.length < w) s = '0' + s; return s; }

// +mm:ss.mmm (minutes grow past 59, as the terminal's summary writes them)
function fmtRel(ms) {
  const neg = ms < 0; ms = Math.round(Math.abs(ms));
  const m = Math.floor(ms / 60000), s = Math.floor(ms / 1000) % 60, r = ms % 1000;
  return (neg ? '-' : '+') + pad(m, 2) + ':' + pad(s, 2) + '.' + pad(r, 3);
}
// a short axis label for a relative time
function fmtRelShort(ms, step) {
  const m = Math.floor(ms / 60000), s = Math.floor(ms / 1000) % 60, r = Math.round(ms % 1000);
  if (step >= 1000) return '+' + pad(m, 2) + ':' + pad(s, 2);
  return '+' + pad(m, 2) + ':' + pad(s, 2) + '.' + pad(r, 3);
}
function isoUtc(epochMs) {
  if (!isFinite(epochMs)) return '';
  return new Date(epochMs).toISOString();
}
// "2026-11-23 09:00:01.800 UTC"
function fmtUtc(epochMs) {
  const s = isoUtc(epochMs);
  return s ? s.replace('T', ' ').replace('Z', ' UTC') : '';
}
function esc(s) {
  return String(s == null ? '' : s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
// h('div', {class: 'x', dataset: {a: 1}, onclick: f}, child, 'text', ...)
function h(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  if (attrs) for (const k in attrs) {
    const v = attrs[k];
    if (v == null || v === false) continue;
    if (k === 'dataset') { for (const d in v) if (v[d] != null) n.dataset[d] = v[d]; }
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else if (k === 'text') n.textContent = v;
    else if (k === 'html') n.innerHTML = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c != null && c !== false) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function sv(tag, attrs, ...kids) {
  const n = document.createElementNS(SVGNS, tag);
  if (attrs) for (const k in attrs) {
    const v = attrs[k];
    if (v == null || v === false) continue;
    if (k === 'text') n.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v);
  }
  for (const c of kids.flat()) if (c != null && c !== false) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}
// first index i in [lo, hi) with a[i] > x (a sorted ascending)
function upperBound(a, x, lo, hi) {
  lo = lo || 0; hi = hi == null ? a.length : hi;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (a[m] <= x) lo = m + 1; else hi = m; }
  return lo;
}
// first index i in [lo, hi) with a[i] >= x
function lowerBound(a, x, lo, hi) {
  lo = lo || 0; hi = hi == null ? a.length : hi;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (a[m] < x) lo = m + 1; else hi = m; }
  return lo;
}
function countMap(map, key, by) { map.set(key, (map.get(key) || 0) + (by == null ? 1 : by)); }

// ---------------------------------------------------------------------------------------------------------------
// Decoding

class RecordError extends Error {
  constructor(line, message) { super('run record, line ' + line + ': ' + message); this.line = line; }
}

async function decodeRunData() {
  const node = document.getElementById('run-data');
  if (!node) throw new Error('the page holds no run record (no #run-data element)');
  const b64 = node.textContent.replace(/\s+/g, '');
  let bytes;
  if (typeof Uint8Array.fromBase64 === 'function') bytes = Uint8Array.fromBase64(b64);
  else {
    const bin = atob(b64);
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  }
  if ((node.dataset.encoding || 'gzip+base64') === 'base64') return new TextDecoder().decode(bytes);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return await new Response(stream).text();
}

function newRun(meta, line) {
  return {
    meta, line, index: 0, graph: { nodes: [], edges: [] },
    feed: [], sent: [], received: [], gone: [], invoked: [], ended: [], entries: [],
    views: [], summary: null, end: 0, model: null,
  };
}

// One pass over the lines; a line that is not JSON stops the page with its line number.
function parseRecord(text) {
  const runs = [];
  let cur = null, pos = 0, lineNo = 0;
  const n = text.length;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    lineNo++;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line.length === 0 || /^\s*$/.test(line)) continue;
    let o;
    try { o = JSON.parse(line); } catch (e) { throw new RecordError(lineNo, 'not JSON: ' + e.message); }
    if (!o || typeof o !== 'object' || typeof o.k !== 'string') throw new RecordError(lineNo, 'no kind `k`');
    if (o.k === 'run') { cur = newRun(o, lineNo); cur.index = runs.length; runs.push(cur); continue; }
    if (!cur) { cur = newRun({ title: '(a record with no run line)', start: null, domain: null }, lineNo); runs.push(cur); }
    if (typeof o.at === 'number' && o.at > cur.end) cur.end = o.at;
    switch (o.k) {
      case 'graph': cur.graph = { nodes: o.nodes || [], edges: o.edges || [] }; break;
      case 'event': o.to = o.bus; cur.feed.push(o); break;
      case 'notification':
        o.to = o.topic;
        o.type = (o.envelope && o.envelope.metadata && o.envelope.metadata.type) || 'notification';
        cur.feed.push(o); break;
      case 'sent': cur.sent.push(o); break;
      case 'received': cur.received.push(o); break;
      case 'gone': cur.gone.push(o); break;
      case 'invoked': cur.invoked.push(o); break;
      case 'ended': cur.ended.push(o); break;
      case 'entry': cur.entries.push(o); break;
      case 'view': cur.views.push(o); break;
      case 'summary': cur.summary = o; break;
      default: break; // a kind this page does not know: kept out of the views
    }
  }
  runs.forEach((r, i) => { r.index = i; });
  return runs;
}

// ---------------------------------------------------------------------------------------------------------------
// The per-run model

const GONE_WHY = { deleted: 1, 'dead-lettered': 2, expired: 3, removed: 4 };
const GONE_NAME = ['', 'deleted', 'dead-lettered', 'expired', 'removed', 'gone'];
const QUEUE_KINDS = { queue: 1, dlq: 1, parking: 1 };

function buildModel(run) {
  if (run.model) return run.model;
  const t0 = performance.now();
  const M = { run, start: Date.parse(run.meta.start), end: run.end, domain: run.meta.domain || null };
  if (!isFinite(M.start)) M.start = 0;

  // graph nodes, functions (by crate name) and queues (by logical id)
  M.nodes = run.graph.nodes.map(n => Object.assign({}, n));
  M.edges = run.graph.edges.map(e => Object.assign({}, e));
  M.nodeById = new Map(M.nodes.map(n => [n.id, n]));
  M.functions = []; M.fnIndex = new Map(); M.fnByNode = new Map();
  const addFn = (label, id) => {
    if (M.fnIndex.has(label)) return M.fnIndex.get(label);
    const i = M.functions.length;
    M.functions.push({ label, id: id || label, index: i, invocations: 0, failed: 0, records: 0 });
    M.fnIndex.set(label, i);
    if (id) M.fnByNode.set(id, i);
    return i;
  };
  M.queues = []; M.qIndex = new Map();
  const addQ = (id, kind) => {
    if (M.qIndex.has(id)) return M.qIndex.get(id);
    const i = M.queues.length;
    M.queues.push({ id, kind, index: i, sent: 0, received: 0, retries: 0, deadLettered: 0 });
    M.qIndex.set(id, i);
    return i;
  };
  for (const n of M.nodes) if (n.kind === 'function') addFn(n.label || n.id, n.id);
  for (const n of M.nodes) if (QUEUE_KINDS[n.kind]) addQ(n.id, n.kind);
  for (const o of run.invoked) addFn(o.function, null);
  for (const o of run.sent) addQ(o.queue, 'queue');
  M.qHeld = new Uint8Array(M.queues.length); // 1: a dlq, 2: the parking queue
  M.queues.forEach((q, i) => { M.qHeld[i] = q.kind === 'dlq' ? 1 : q.kind === 'parking' ? 2 : 0; });

  // messages, in the order of their `sent` lines (so mSent is sorted)
  const sent = run.sent, n = sent.length;
  M.nMsg = n;
  M.mQueue = new Int32Array(n); M.mSent = new Float64Array(n); M.mVis = new Float64Array(n);
  M.mGone = new Float64Array(n).fill(Infinity); M.mGoneWhy = new Uint8Array(n);
  const keys = new Map(); // queue \n message -> index, or an array of them when an id comes back
  for (let i = 0; i < n; i++) {
    const o = sent[i], q = M.qIndex.get(o.queue);
    M.mQueue[i] = q; M.mSent[i] = o.at;
    M.mVis[i] = typeof o.visible_at === 'number' ? o.visible_at : o.at;
    M.queues[q].sent++;
    const key = o.queue + '\n' + o.message, had = keys.get(key);
    if (had === undefined) keys.set(key, i);
    else if (typeof had === 'number') keys.set(key, [had, i]);
    else had.push(i);
  }
  // the message a line names: the latest sent at or before `at`
  const lookup = (queue, message, at) => {
    const v = keys.get(queue + '\n' + message);
    if (v === undefined || typeof v === 'number') return v;
    for (let j = v.length - 1; j >= 0; j--) if (M.mSent[v[j]] <= at) return v[j];
    return v[0];
  };
  M.lookup = lookup;
  for (const g of run.gone) {
    const i = lookup(g.queue, g.message, g.at);
    if (i === undefined || M.mGone[i] !== Infinity) continue;
    M.mGone[i] = g.at; M.mGoneWhy[i] = GONE_WHY[g.why] || 5;
    if (g.why === 'dead-lettered') M.queues[M.mQueue[i]].deadLettered++;
  }

  // receives: one flat array, each message's receives together and in time order (rStart[i] .. rStart[i+1])
  let total = 0;
  for (const r of run.received) total += r.messages.length;
  const tmpIdx = new Int32Array(total), tmpAt = new Float64Array(total), tmpUntil = new Float64Array(total);
  const counts = new Int32Array(n + 1);
  let k = 0;
  for (const r of run.received) {
    const until = typeof r.until === 'number' ? r.until : r.at;
    for (const m of r.messages) {
      const i = lookup(r.queue, m, r.at);
      if (i === undefined) continue;
      tmpIdx[k] = i; tmpAt[k] = r.at; tmpUntil[k] = until; k++;
      counts[i + 1]++;
    }
  }
  for (let i = 0; i < n; i++) counts[i + 1] += counts[i];
  M.rStart = counts;
  M.rAt = new Float64Array(k); M.rUntil = new Float64Array(k);
  const cursor = counts.slice(0, n);
  for (let j = 0; j < k; j++) {
    const i = tmpIdx[j], at = cursor[i]++;
    M.rAt[at] = tmpAt[j]; M.rUntil[at] = tmpUntil[j];
  }
  for (let i = 0; i < n; i++) {
    const c = counts[i + 1] - counts[i];
    if (c) { const q = M.queues[M.mQueue[i]]; q.received += c; q.retries += c - 1; }
  }

  // invocations, in the order of their `invoked` lines (iStart sorted)
  const inv = run.invoked, ni = inv.length;
  M.nInv = ni;
  M.iStart = new Float64Array(ni); M.iEnd = new Float64Array(ni).fill(Infinity);
  M.iFunc = new Int32Array(ni); M.iRecords = new Int32Array(ni); M.iOk = new Int8Array(ni).fill(-1);
  M.iQueue = new Int32Array(ni).fill(-1);
  M.iError = new Map(); M.invByNum = new Map();
  for (let i = 0; i < ni; i++) {
    const o = inv[i], f = M.fnIndex.get(o.function);
    M.iStart[i] = o.at; M.iFunc[i] = f;
    const rec = typeof o.records === 'number' ? o.records : (o.messages ? o.messages.length : 0);
    M.iRecords[i] = rec;
    const q = M.qIndex.get(o.trigger);
    if (q !== undefined) M.iQueue[i] = q;
    M.invByNum.set(o.invocation, i);
    const F = M.functions[f]; F.invocations++; F.records += rec;
  }
  for (const e of run.ended) {
    const i = M.invByNum.get(e.invocation);
    if (i === undefined) continue;
    M.iEnd[i] = e.at; M.iOk[i] = e.ok === false ? 0 : 1;
    if (e.ok === false) { M.functions[M.iFunc[i]].failed++; if (e.error) M.iError.set(i, e.error); }
  }
  // crash entries (and other faults naming a function), for the timeline's marks
  M.crashes = [];
  for (const o of run.entries) {
    if ((o.what === 'crash' || o.what === 'crash-before-record') && o.function != null) {
      const f = M.fnIndex.get(o.function);
      if (f !== undefined) M.crashes.push({ at: o.at, f, what: o.what, text: o.text });
    }
  }

  // the events and notifications, in time order, and their links
  const feed = run.feed;
  M.feed = feed;
  M.feedAt = new Float64Array(feed.length);
  M.eventById = new Map(); M.effectsOf = new Map(); M.bySubject = new Map();
  for (let i = 0; i < feed.length; i++) {
    const o = feed[i];
    M.feedAt[i] = o.at;
    if (o.id != null && !M.eventById.has(o.id)) M.eventById.set(o.id, i);
    if (o.causation != null) {
      const l = M.effectsOf.get(o.causation);
      if (l) l.push(i); else M.effectsOf.set(o.causation, [i]);
    }
    if (o.subject != null) {
      const l = M.bySubject.get(o.subject);
      if (l) l.push(i); else M.bySubject.set(o.subject, [i]);
    }
  }
  M.ordersView = run.views.find(v => Array.isArray(v.orders)) || null;
  M.sensorsView = run.views.find(v => Array.isArray(v.streams)) || null;
  M.summary = run.summary;
  M.counts = edgeCountSources(run);
  M.buildMs = performance.now() - t0;
  run.model = M;
  return M;
}

// What the graph's edge counts are read from (see graph.js: edgeCount)
function edgeCountSources(run) {
  const c = {
    sentInto: new Map(),     // queue \n from -> sent lines
    batch: new Map(),        // trigger queue \n function -> records in its invocations
    batchInv: new Map(),     // trigger queue \n function -> invocations
    async: new Map(),        // function -> asynchronous invocations
    events: new Map(),       // from \n bus -> event lines
    eventsFrom: new Map(),   // from -> event lines
    notifs: new Map(),       // from \n topic -> notification lines
  };
  for (const o of run.sent) countMap(c.sentInto, o.queue + '\n' + o.from);
  for (const o of run.invoked) {
    if (o.trigger === 'async') countMap(c.async, o.function);
    else if (o.trigger !== 'http') {
      const rec = typeof o.records === 'number' ? o.records : (o.messages ? o.messages.length : 0);
      countMap(c.batch, o.trigger + '\n' + o.function, rec);
      countMap(c.batchInv, o.trigger + '\n' + o.function);
    }
  }
  for (const o of run.feed) {
    if (o.k === 'event') { countMap(c.events, o.from + '\n' + o.bus); countMap(c.eventsFrom, o.from); }
    else countMap(c.notifs, o.from + '\n' + o.topic);
  }
  return c;
}

// The state at instant t, by the record's rules (README: "The run record and its page"):
// a message sent at or before t and not gone at or before t is in flight when its last receive at or before t
// has t < until, delayed when it has no receive yet and t < visible_at, visible otherwise; an invocation is in
// flight when invoked.at <= t < ended.at (no ended line: still in flight).
function stateAt(M, t) {
  const nq = M.queues.length, nf = M.functions.length;
  const vis = new Int32Array(nq), inf = new Int32Array(nq), del = new Int32Array(nq);
  const held = [];
  const mGone = M.mGone, mQueue = M.mQueue, rStart = M.rStart, rAt = M.rAt, rUntil = M.rUntil, mVis = M.mVis;
  const qHeld = M.qHeld;
  const end = upperBound(M.mSent, t);
  for (let i = 0; i < end; i++) {
    if (mGone[i] <= t) continue;
    const q = mQueue[i], s0 = rStart[i];
    let j = rStart[i + 1] - 1;
    while (j >= s0 && rAt[j] > t) j--;
    if (j >= s0) { if (t < rUntil[j]) inf[q]++; else vis[q]++; }
    else if (t < mVis[i]) del[q]++;
    else vis[q]++;
    if (qHeld[q]) held.push(i);
  }
  const fin = new Int32Array(nf), started = new Int32Array(nf);
  const ie = upperBound(M.iStart, t), iEnd = M.iEnd, iFunc = M.iFunc;
  for (let i = 0; i < ie; i++) { const f = iFunc[i]; started[f]++; if (iEnd[i] > t) fin[f]++; }
  return { t, vis, inf, del, held, fin, started };
}

// the state of one message at t: 'pending' (not sent yet), 'gone', 'inflight', 'delayed', 'visible'
function messageStateAt(M, i, t) {
  if (M.mSent[i] > t) return 'pending';
  if (M.mGone[i] <= t) return 'gone';
  let j = M.rStart[i + 1] - 1;
  while (j >= M.rStart[i] && M.rAt[j] > t) j--;
  if (j >= M.rStart[i]) return t < M.rUntil[j] ? 'inflight' : 'visible';
  return t < M.mVis[i] ? 'delayed' : 'visible';
}

function messageInfo(M, i) {
  const o = M.run.sent[i], receives = [];
  for (let j = M.rStart[i]; j < M.rStart[i + 1]; j++) receives.push({ at: M.rAt[j], until: M.rUntil[j] });
  return {
    index: i, queue: o.queue, kind: M.queues[M.mQueue[i]].kind, message: o.message, sent: o, receives,
    goneAt: M.mGone[i], goneWhy: GONE_NAME[M.mGoneWhy[i]] || '',
  };
}

// the messages that carried an event (by its envelope id)
function messagesCarrying(M, id) {
  if (!M.carrying) {
    M.carrying = new Map();
    M.run.sent.forEach((o, i) => {
      if (o.event == null) return;
      const l = M.carrying.get(o.event);
      if (l) l.push(i); else M.carrying.set(o.event, [i]);
    });
  }
  return M.carrying.get(id) || [];
}

// the invocations that received a message (by the `messages` of their `invoked` lines)
function invocationsOfMessage(M, i) {
  if (!M.msgInv) {
    M.msgInv = new Map();
    M.run.invoked.forEach((o, j) => {
      if (!o.messages || M.iQueue[j] < 0) return;
      const q = M.queues[M.iQueue[j]].id;
      for (const m of o.messages) {
        const mi = M.lookup(q, m, o.at);
        if (mi === undefined) continue;
        const l = M.msgInv.get(mi);
        if (l) l.push(j); else M.msgInv.set(mi, [j]);
      }
    });
  }
  return M.msgInv.get(i) || [];
}

// the causation chain, nearest first, up to the first event (ids; a cause the record lacks ends the chain)
function causesOf(M, i) {
  const out = [], seen = new Set();
  let c = M.feed[i].causation;
  while (c != null && !seen.has(c)) {
    seen.add(c);
    const j = M.eventById.get(c);
    out.push({ id: c, index: j });
    if (j === undefined) break;
    c = M.feed[j].causation;
  }
  return out;
}
// the events and notifications whose causation is this id, each id once, in time order
function effectsOf(M, id) {
  const l = id == null ? null : M.effectsOf.get(id);
  if (!l) return [];
  const seen = new Set(), out = [];
  for (const j of l) {
    const key = M.feed[j].id == null ? '#' + j : M.feed[j].id;
    if (seen.has(key)) continue;
    seen.add(key); out.push(j);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Orders: from the `view` line, or derived from the events of subjects `o-...` (a bare play)

const ORDER_STATE_AFTER = {
  OrderPlaced: 'Placed', InventoryReserved: 'Reserved', PaymentCompleted: 'Paid', PaymentFailed: 'PaymentFailed',
  OrderShipped: 'Shipped', OrderRejected: 'Rejected', InventoryReleased: 'Cancelled',
};
function isOrdersRun(M) {
  if (M.domain === 'orders') return true;
  if (M.domain != null) return false;
  for (const o of M.feed) if (typeof o.subject === 'string' && o.subject.startsWith('o-')) return true;
  return false;
}
function ordersOf(M) {
  if (M.orders) return M.orders;
  let list;
  if (M.ordersView) list = M.ordersView.orders.map(o => ({ id: o.id, state: o.state || null, trace: o.trace || null }));
  else {
    list = [];
    for (const [subject] of M.bySubject) if (typeof subject === 'string' && subject.startsWith('o-')) list.push({ id: subject, state: null, trace: null });
  }
  for (const o of list) {
    const evs = M.bySubject.get(o.id) || [];
    const seen = new Set(), chips = [];
    let last = null;
    for (const j of evs) {
      const e = M.feed[j];
      if (!o.trace && e.trace) o.trace = e.trace;
      const key = e.id == null ? '#' + j : e.id;
      if (seen.has(key)) continue; // the same event put again: not a new step
      seen.add(key); chips.push(j);
      if (e.k === 'event' && ORDER_STATE_AFTER[e.type]) last = e.type;
    }
    o.chips = chips;
    o.derived = !o.state;
    if (!o.state) o.state = last ? ORDER_STATE_AFTER[last] : 'Unknown';
    o.search = (o.id + ' ' + o.state + ' ' + (o.trace || '')).toLowerCase();
  }
  M.orders = list;
  return list;
}
