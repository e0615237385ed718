// lists.js: the virtualised lists (events, orders), the details pane (an event, a message, an invocation, a
// graph node) and the state at the slider's instant (queues, functions, dead-letter queues, parked messages).

// A list that keeps only the rows on screen (plus a few) in the DOM; every row has the same height.
class VList {
  constructor(host, rowH, renderRow) {
    this.host = host; this.rowH = rowH; this.renderRow = renderRow; this.n = 0; this.raf = 0;
    this.spacer = h('div', { class: 'vlist-spacer' });
    host.textContent = '';
    host.append(this.spacer);
    host.addEventListener('scroll', () => this.request());
    window.addEventListener('resize', () => this.request());
    this.first = -1; this.last = -1;
  }
  setCount(n) {
    this.n = n;
    this.spacer.style.height = (n * this.rowH) + 'px';
    this.render(true);
  }
  request() { if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.render(false); }); }
  render(force) {
    const top = this.host.scrollTop, hh = this.host.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowH) - 6), last = Math.min(this.n, Math.ceil((top + hh) / this.rowH) + 6);
    if (!force && first === this.first && last === this.last) return;
    this.first = first; this.last = last;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const row = this.renderRow(i);
      row.style.top = (i * this.rowH) + 'px';
      row.style.height = this.rowH + 'px';
      frag.append(row);
    }
    this.spacer.replaceChildren(frag);
  }
  refresh() { this.render(true); }
  scrollToIndex(i, center) {
    const hh = this.host.clientHeight || 600;
    const y = i * this.rowH;
    if (center) this.host.scrollTop = Math.max(0, y - hh / 2 + this.rowH / 2);
    else if (y < this.host.scrollTop || y + this.rowH > this.host.scrollTop + hh) this.host.scrollTop = Math.max(0, y - this.rowH * 2);
    this.render(true);
  }
}

// ------------------------------------------------------------------------------------------------------------
// The details pane

const DETAILS = { history: [] };
function openDetails(kind, body) {
  const aside = document.getElementById('details');
  aside.querySelector('.details-kind').textContent = kind;
  const b = aside.querySelector('.details-body');
  b.replaceChildren(...[].concat(body));
  b.scrollTop = 0;
  aside.hidden = false;
  document.body.classList.add('with-details');
  if (typeof tlRequest === 'function') tlRequest(true);
}
function closeDetails() {
  document.getElementById('details').hidden = true;
  document.body.classList.remove('with-details');
  LISTS.selected = -1;
  if (LISTS.events) LISTS.events.refresh();
  if (typeof tlRequest === 'function') tlRequest(true);
}
function dl(pairs) {
  const d = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v == null || v === '') continue;
    d.append(h('dt', { text: k }), h('dd', null, v));
  }
  return d;
}
function section(title, ...kids) { return h('section', { class: 'd-section' }, h('h4', { text: title }), ...kids); }
function timeCell(M, at) { return h('span', { class: 'time', title: fmtUtc(M.start + at) }, fmtRel(at), ' ', h('span', { class: 'muted', text: fmtUtc(M.start + at) })); }
function link(text, onclick, attrs) { return h('a', Object.assign({ href: '#', class: 'link', onclick: ev => { ev.preventDefault(); onclick(); } }, attrs || {}), text); }
function codeText(s) { return h('code', { text: s }); }

// JSON as HTML, sealed personal fields (objects with ciphertext and dataKey) shown as "sealed"
function isSealed(v) { return v && typeof v === 'object' && !Array.isArray(v) && 'ciphertext' in v && 'dataKey' in v; }
function jsonHtml(v, ind) {
  ind = ind || '';
  const nx = ind + '  ';
  if (v === null) return '<span class="j-null">null</span>';
  if (typeof v === 'string') return '<span class="j-str">' + esc(JSON.stringify(v)) + '</span>';
  if (typeof v === 'number') return '<span class="j-num">' + esc(String(v)) + '</span>';
  if (typeof v === 'boolean') return '<span class="j-bool">' + v + '</span>';
  if (isSealed(v)) {
    const extra = Object.keys(v).filter(k => k !== 'ciphertext' && k !== 'dataKey').map(k => esc(k) + ' ' + esc(JSON.stringify(v[k]))).join(', ');
    return `<span class="sealed" title="ciphertext ${esc(String(v.ciphertext).slice(0, 24))}\u2026 \u00b7 dataKey ${esc(String(v.dataKey).slice(0, 24))}\u2026">sealed</span>` +
      (extra ? ' <span class="j-note">' + extra + '</span>' : '');
  }
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return '[\n' + v.map(x => nx + jsonHtml(x, nx)).join(',\n') + '\n' + ind + ']';
  }
  const keys = Object.keys(v);
  if (!keys.length) return '{}';
  return '{\n' + keys.map(k => nx + '<span class="j-key">' + esc(JSON.stringify(k)) + '</span>: ' + jsonHtml(v[k], nx)).join(',\n') + '\n' + ind + '}';
}
function countSealed(v) {
  if (!v || typeof v !== 'object') return 0;
  if (isSealed(v)) return 1;
  let n = 0;
  for (const k in v) n += countSealed(v[k]);
  return n;
}

function feedLabel(M, j) {
  const e = M.feed[j];
  return h('span', null, h('span', { class: 'ev-type t-' + (e.k === 'notification' ? 'notification' : e.type), text: e.type }),
    ' ', h('span', { class: 'muted', text: (e.subject || '') + ' \u00b7 ' + fmtRel(e.at) }));
}
function feedKey(M, j) { const e = M.feed[j]; return e.id == null ? '' : e.id; }

const LISTS = { events: null, filtered: null, selected: -1, orders: null, ordersFiltered: null, heldSig: '' };

// Filter the events list to a trace (or any text) and show it
function showTrace(trace) {
  const f = document.getElementById('event-filter');
  f.value = trace;
  applyEventFilter();
  selectTab('events');
}

function showEventAt(j) {
  const M = LC.model, e = M.feed[j];
  if (!e) return;
  LISTS.selected = j;
  const isN = e.k === 'notification';
  const head = h('div', { class: 'd-head' },
    h('h3', null, h('span', { class: 'ev-type t-' + (isN ? 'notification' : e.type), text: e.type }), isN ? h('span', { class: 'tag', text: 'notification' }) : null),
    h('div', { class: 'muted', text: (isN ? 'published to ' + (e.topic || '?') : 'put on ' + (e.bus || '?')) + ' by ' + (e.from || '?') }));
  const traceBits = e.trace ? h('span', null, codeText(e.trace), ' ', h('button', { type: 'button', class: 'small', 'data-action': 'show-trace', onclick: () => showTrace(e.trace) }, 'show this trace')) : null;
  const corrBits = e.correlation ? h('span', null, codeText(e.correlation), ' ', h('button', { type: 'button', class: 'small', onclick: () => showTrace(e.correlation) }, 'filter')) : null;
  const info = dl([
    ['at', timeCell(M, e.at)],
    ['id', e.id ? codeText(e.id) : h('span', { class: 'muted', text: 'none' })],
    ['subject', e.subject ? codeText(e.subject) : null],
    ['from', e.from],
    [isN ? 'topic' : 'bus', isN ? e.topic : e.bus],
    ['correlation', corrBits],
    ['trace', traceBits],
    ['delivered', isN ? fmtInt(e.delivered || 0) + ' subscription(s)' : null],
  ]);
  info.classList.add('trace-row');
  const out = [head, info];
  if (!isN) {
    const routes = h('ul', { class: 'routes' });
    for (const r of e.routes || []) routes.append(h('li', { text: r }));
    if (!(e.routes || []).length) routes.append(h('li', { class: 'muted', text: 'no rule matched' }));
    out.push(section('Routes', routes));
  }
  const causes = h('ul', { class: 'causes chain' });
  for (const c of causesOf(M, j)) {
    causes.append(h('li', { 'data-cause': c.id }, c.index === undefined
      ? h('span', null, codeText(c.id), ' ', h('span', { class: 'muted', text: '(not in this record)' }))
      : link(feedLabel(M, c.index), () => showEventAt(c.index), { title: c.id })));
  }
  if (!causes.children.length) causes.append(h('li', { class: 'muted none', text: 'none: this is where the flow starts' }));
  out.push(section('Causes (nearest first)', causes));
  const effects = h('ul', { class: 'effects chain' });
  for (const k of effectsOf(M, e.id)) {
    effects.append(h('li', { 'data-effect': feedKey(M, k) }, link(feedLabel(M, k), () => showEventAt(k), { title: M.feed[k].id || '' })));
  }
  if (!effects.children.length) effects.append(h('li', { class: 'muted none', text: 'none' }));
  out.push(section('Effects', effects));
  if (e.id != null) {
    const msgs = messagesCarrying(M, e.id);
    if (msgs.length) {
      const ul = h('ul', { class: 'msgs' });
      for (const i of msgs) {
        const info = messageInfo(M, i);
        ul.append(h('li', null, link(info.queue + ' \u00b7 ' + info.message, () => showMessage(i)),
          h('span', { class: 'muted', text: ` \u00b7 ${info.receives.length} receive(s)${info.goneWhy ? ' \u00b7 ' + info.goneWhy + ' ' + fmtRel(info.goneAt) : ' \u00b7 still there'}` })));
      }
      out.push(section('Messages that carried it', ul));
    }
  }
  const sealed = countSealed(e.envelope);
  const pre = h('pre', { class: 'json envelope' });
  pre.innerHTML = e.envelope == null ? '<span class="j-null">null</span> (no envelope: ' + esc(e.type) + ')' : jsonHtml(e.envelope);
  out.push(section('Envelope' + (sealed ? ` (${sealed} sealed personal field${sealed > 1 ? 's' : ''})` : ''), pre));
  openDetails(isN ? 'notification' : 'event', out);
  const aside = document.getElementById('details');
  aside.dataset.eventId = e.id || '';
  if (LISTS.events) LISTS.events.refresh();
}

// Open an event (or notification) by its id; looks in the other runs when the selected one lacks it
function showEvent(id) {
  let M = LC.model;
  if (!M) return false;
  let j = M.eventById.get(id);
  if (j === undefined) {
    for (const r of LC.runs) {
      if (r === LC.run) continue;
      const m = buildModel(r);
      if (m.eventById.has(id)) { selectRun(r.index); M = LC.model; j = M.eventById.get(id); break; }
    }
  }
  if (j === undefined) {
    openDetails('event', [h('p', null, 'No event or notification with id ', codeText(id), ' in this record.')]);
    return false;
  }
  showEventAt(j);
  if (LISTS.events && LISTS.filtered) {
    const k = LISTS.filtered.indexOf(j);
    if (k >= 0) LISTS.events.scrollToIndex(k, false);
  }
  return true;
}

function showMessage(i) {
  const M = LC.model, m = messageInfo(M, i), o = m.sent;
  const st = messageStateAt(M, i, LC.t);
  const out = [h('div', { class: 'd-head' }, h('h3', null, codeText(m.message)), h('div', { class: 'muted', text: 'a message in ' + m.queue + ' (' + m.kind + ')' }))];
  out.push(dl([
    ['queue', m.queue],
    ['sent', timeCell(M, o.at)],
    ['from', o.from],
    ['visible at', o.visible_at != null && o.visible_at !== o.at ? fmtRel(o.visible_at) : null],
    ['carries', o.event ? link(o.event, () => showEvent(o.event)) : h('span', { class: 'muted', text: 'no envelope the record knows (a raw body)' })],
    ['parked kind', o.parked_kind ? h('span', { class: 'tag warn', text: o.parked_kind }) : null],
    ['parked reason', o.parked_reason],
    ['at the instant', h('span', { class: 'state-' + st, text: st + ' at ' + fmtRel(LC.t) })],
    ['gone', isFinite(m.goneAt) ? fmtRel(m.goneAt) + ' (' + m.goneWhy + ')' : 'not gone by the end of the run'],
  ]));
  const rec = h('ol', { class: 'receives' });
  m.receives.forEach((r, k) => rec.append(h('li', null, `${fmtRel(r.at)}, invisible until ${fmtRel(r.until)}`, k ? h('span', { class: 'tag retry', text: 'retry' }) : null)));
  if (!m.receives.length) rec.append(h('li', { class: 'muted', text: 'never received' }));
  out.push(section('Receives', rec));
  const invs = invocationsOfMessage(M, i);
  if (invs.length) {
    const ul = h('ul');
    for (const j of invs) ul.append(h('li', null, link(`${M.run.invoked[j].function} #${M.run.invoked[j].invocation} at ${fmtRel(M.iStart[j])}`, () => showInvocation(j)),
      M.iOk[j] === 0 ? h('span', { class: 'tag bad', text: 'failed' }) : null));
    out.push(section('Invocations that received it', ul));
  }
  openDetails('message', out);
}

function showInvocation(i) {
  const M = LC.model, o = M.run.invoked[i], open = M.iEnd[i] === Infinity;
  const out = [h('div', { class: 'd-head' }, h('h3', null, o.function, ' ', h('span', { class: 'muted', text: '#' + o.invocation })),
    h('div', { class: 'muted', text: o.request_id || '' }))];
  out.push(dl([
    ['trigger', o.trigger],
    ['started', timeCell(M, M.iStart[i])],
    ['ended', open ? h('span', { class: 'tag warn', text: 'not ended' }) : h('span', null, fmtRel(M.iEnd[i]), ' (' + fmtInt(M.iEnd[i] - M.iStart[i]) + ' ms)')],
    ['outcome', M.iOk[i] === 0 ? h('span', { class: 'tag bad', text: 'failed' }) : open ? '' : h('span', { class: 'tag ok', text: 'ok' })],
    ['error', M.iError.get(i) || null],
    ['records', fmtInt(M.iRecords[i])],
    ['trace', o.trace ? h('span', null, codeText(o.trace), ' ', h('button', { type: 'button', class: 'small', onclick: () => showTrace(o.trace) }, 'show this trace')) : null],
  ]));
  if (o.messages && o.messages.length && M.iQueue[i] >= 0) {
    const q = M.queues[M.iQueue[i]].id, ul = h('ul', { class: 'msgs' });
    for (const m of o.messages) {
      const mi = M.lookup(q, m, o.at);
      if (mi === undefined) { ul.append(h('li', { text: m })); continue; }
      const ev = M.run.sent[mi].event, k = ev != null ? M.eventById.get(ev) : undefined;
      ul.append(h('li', null, link(m, () => showMessage(mi)), ' ', k !== undefined ? link(feedLabel(M, k), () => showEventAt(k)) : null));
    }
    out.push(section('Batch (' + q + ')', ul));
  }
  openDetails('invocation', out);
}

function showNodeDetails(id) {
  const M = LC.model, n = M.nodeById.get(id);
  if (!n) return;
  const out = [h('div', { class: 'd-head' }, h('h3', { text: n.id }), h('div', { class: 'muted', text: n.kind + (n.label && n.label !== n.id ? ' \u00b7 ' + n.label : '') }))];
  const st = LC.state;
  if (n.kind === 'function') {
    const f = M.fnIndex.get(n.label || n.id), F = M.functions[f];
    out.push(dl([['invocations', fmtInt(F.invocations)], ['records', fmtInt(F.records)], ['failed', fmtInt(F.failed)],
      ['in flight at ' + fmtRel(LC.t), st ? fmtInt(st.fin[f]) : null]]));
  } else if (QUEUE_KINDS[n.kind]) {
    const q = M.qIndex.get(n.id), Q = M.queues[q];
    out.push(dl([['sent', fmtInt(Q.sent)], ['receives', fmtInt(Q.received)], ['retries', fmtInt(Q.retries)], ['dead-lettered', fmtInt(Q.deadLettered)],
      ['at ' + fmtRel(LC.t), st ? `${fmtInt(st.vis[q])} visible, ${fmtInt(st.inf[q])} in flight, ${fmtInt(st.del[q])} delayed` : null]]));
  }
  const ul = h('ul', { class: 'edges-list' });
  for (const e of M.edges) {
    if (e.from !== id && e.to !== id) continue;
    const c = edgeCount(M, e);
    ul.append(h('li', null, h('b', { text: fmtInt(c.n) }), ' ', e.from === id ? '\u2192 ' + e.to : '\u2190 ' + e.from,
      h('div', { class: 'muted small', text: (e.label || '') + (e.dotted ? ' (failure path)' : '') + ': ' + c.how })));
  }
  out.push(section('Edges', ul));
  const lane = (M.tlLanes || buildLanes(M)).find(L => L.key === (n.kind === 'function' ? (n.label || n.id) : n.id));
  if (lane) out.push(h('p', null, h('button', { type: 'button', onclick: () => { selectTab('timeline'); TL.scrollY = Math.max(0, Math.min(lane.y - 10, TL.contentH - (TL.H - TL.axisH))); tlRequest(true); } }, 'show its lane in the timeline')));
  openDetails(n.kind, out);
}

// ------------------------------------------------------------------------------------------------------------
// State at the instant

function buildStateTables(M) {
  const qb = document.querySelector('#queue-state tbody'), fb = document.querySelector('#function-state tbody');
  qb.textContent = ''; fb.textContent = '';
  const order = { queue: 0, dlq: 1, parking: 2 };
  const qs = M.queues.slice().sort((a, b) => (order[a.kind] - order[b.kind]) || (b.sent > 0) - (a.sent > 0) || a.id.localeCompare(b.id));
  LISTS.qCells = new Array(M.queues.length);
  for (const Q of qs) {
    const cells = [h('td', { class: 'num', 'data-col': 'visible', text: '0' }), h('td', { class: 'num', 'data-col': 'inflight', text: '0' }), h('td', { class: 'num', 'data-col': 'delayed', text: '0' })];
    const name = h('td', { class: 'name' }, link(Q.kind === 'dlq' ? Q.id.replace(/DeadLetterQueue$/, ' DLQ') : Q.id, () => { selectNode(Q.id); }, { title: Q.id }), Q.kind !== 'queue' ? h('span', { class: 'tag ' + Q.kind, text: Q.kind }) : null);
    qb.append(h('tr', { 'data-queue': Q.id, class: Q.sent ? '' : 'idle' }, name, ...cells));
    LISTS.qCells[Q.index] = cells;
  }
  LISTS.fCells = new Array(M.functions.length);
  const fs = M.functions.slice().sort((a, b) => (b.invocations > 0) - (a.invocations > 0) || a.label.localeCompare(b.label));
  for (const F of fs) {
    const cells = [h('td', { class: 'num', 'data-col': 'inflight', text: '0' }), h('td', { class: 'num muted', 'data-col': 'started', text: '0' })];
    fb.append(h('tr', { 'data-function': F.label, class: F.invocations ? '' : 'idle' }, h('td', { class: 'name' }, link(F.label, () => selectNode(F.id), { title: F.id })), ...cells));
    LISTS.fCells[F.index] = cells;
  }
  LISTS.heldSig = null;
}

function setCell(td, v) { const s = String(v); if (td.textContent !== s) { td.textContent = s; td.classList.toggle('zero', v === 0); } }

function updateState(M, st) {
  for (let q = 0; q < M.queues.length; q++) {
    const c = LISTS.qCells[q];
    if (!c) continue;
    setCell(c[0], st.vis[q]); setCell(c[1], st.inf[q]); setCell(c[2], st.del[q]);
  }
  for (let f = 0; f < M.functions.length; f++) {
    const c = LISTS.fCells[f];
    if (!c) continue;
    setCell(c[0], st.fin[f]); setCell(c[1], st.started[f]);
  }
  const held = st.held;
  let sig = held.length + ':';
  if (held.length < 4000) sig += held.join(','); else { let s2 = 0; for (const i of held) s2 += i; sig += s2; }
  if (sig === LISTS.heldSig) return;
  LISTS.heldSig = sig;
  const dlq = document.getElementById('dlq-state'), park = document.getElementById('parked-state');
  const dItems = [], pItems = [];
  const CAP = 2000;
  let nd = 0, np = 0;
  for (const i of held) {
    const q = M.mQueue[i], o = M.run.sent[i], isPark = M.qHeld[q] === 2;
    if (isPark ? np++ >= CAP : nd++ >= CAP) continue;
    const li = h('li', { 'data-queue': o.queue, 'data-message': o.message, tabindex: 0, title: 'open ' + (o.event ? 'the event it carries' : 'the message') },
      h('div', { class: 'msg-line' }, h('span', { class: 'q', text: isPark ? o.queue : o.queue.replace(/DeadLetterQueue$/, ' DLQ') }), ' ', codeText(o.message), ' ',
        h('span', { class: 'muted', text: 'since ' + fmtRel(o.at) })));
    if (isPark || o.parked_kind) {
      li.append(h('div', { class: 'parked' }, h('span', { class: 'tag warn parked-kind', text: o.parked_kind || 'parked' }), ' ',
        h('span', { class: 'parked-reason', text: o.parked_reason || '' })));
    } else if (M.queues[q].kind === 'dlq' && o.from) {
      li.append(h('div', { class: 'muted small', text: 'from ' + o.from + (o.event ? ' \u00b7 event ' + o.event : '') }));
    }
    const open = () => { if (o.event && M.eventById.has(o.event)) showEvent(o.event); else showMessage(i); };
    li.addEventListener('click', open);
    li.addEventListener('keydown', ev => { if (ev.key === 'Enter') open(); });
    (isPark ? pItems : dItems).push(li);
  }
  if (nd > CAP) dItems.push(h('li', { class: 'more muted', text: `\u2026 and ${fmtInt(nd - CAP)} more` }));
  if (np > CAP) pItems.push(h('li', { class: 'more muted', text: `\u2026 and ${fmtInt(np - CAP)} more` }));
  if (!nd) dItems.push(h('li', { class: 'empty muted', text: 'empty' }));
  if (!np) pItems.push(h('li', { class: 'empty muted', text: 'nothing parked' }));
  dlq.replaceChildren(...dItems); park.replaceChildren(...pItems);
  document.getElementById('dlq-count').textContent = fmtInt(nd);
  document.getElementById('parked-count').textContent = fmtInt(np);
}

// ------------------------------------------------------------------------------------------------------------
// Events

function renderEventRow(k) {
  const M = LC.model, j = LISTS.filtered[k], e = M.feed[j], isN = e.k === 'notification';
  const cls = 'row ev' + (e.at > LC.t ? ' future' : '') + (j === LISTS.selected ? ' sel' : '') + (isN ? ' notif' : '');
  const routes = isN ? `delivered to ${fmtInt(e.delivered || 0)}` : ((e.rules || []).length ? e.rules.join(', ') : 'no rule matched');
  return h('div', { class: cls, 'data-event-id': e.id == null ? '' : e.id, 'data-index': j, 'data-kind': e.k },
    h('span', { class: 'c-time', title: fmtUtc(M.start + e.at), text: fmtRel(e.at) }),
    h('span', { class: 'c-type' }, h('span', { class: 'ev-type t-' + (isN ? 'notification' : e.type), text: e.type })),
    h('span', { class: 'c-subject', text: e.subject || '' }),
    h('span', { class: 'c-from', text: (e.from || '?') + ' \u2192 ' + (e.to || '?') }),
    h('span', { class: 'c-routes' + ((e.rules || []).length || isN ? '' : ' muted'), text: routes }));
}

function buildEventsList(M) {
  const host = document.getElementById('events');
  if (!LISTS.events) {
    LISTS.events = new VList(host, 28, renderEventRow);
    host.addEventListener('click', ev => {
      const row = ev.target.closest('.row');
      if (row) showEventAt(Number(row.dataset.index));
    });
    host.addEventListener('keydown', ev => {
      if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
      const f = LISTS.filtered;
      if (!f || !f.length) return;
      ev.preventDefault();
      let k = LISTS.selected >= 0 ? lowerBound(f, LISTS.selected) : -1;
      k = Math.max(0, Math.min(f.length - 1, k + (ev.key === 'ArrowDown' ? 1 : -1)));
      showEventAt(f[k]); LISTS.events.scrollToIndex(k, false);
    });
  }
  document.getElementById('events-count').textContent = fmtInt(M.feed.length);
  document.getElementById('event-filter').value = '';
  LISTS.selected = -1;
  applyEventFilter();
}

function applyEventFilter() {
  const M = LC.model;
  if (!M) return;
  const q = document.getElementById('event-filter').value.trim().toLowerCase();
  const n = M.feed.length;
  let f;
  if (!q) { f = new Int32Array(n); for (let i = 0; i < n; i++) f[i] = i; }
  else {
    if (!M.feedSearch) M.feedSearch = M.feed.map(e => [e.type, e.subject, e.correlation, e.trace, e.id].filter(x => x != null).join(' ').toLowerCase());
    const terms = q.split(/\s+/), out = [];
    for (let i = 0; i < n; i++) {
      const s0 = M.feedSearch[i];
      let ok = true;
      for (const t of terms) if (!s0.includes(t)) { ok = false; break; }
      if (ok) out.push(i);
    }
    f = Int32Array.from(out);
  }
  LISTS.filtered = f;
  document.getElementById('events').scrollTop = 0;
  LISTS.events.setCount(f.length);
  document.getElementById('events-shown').textContent = q ? `${fmtInt(f.length)} of ${fmtInt(n)} shown` : `${fmtInt(n)} events and notifications`;
  document.getElementById('events').classList.toggle('filtered', !!q);
}

function eventsToInstant() {
  const M = LC.model, f = LISTS.filtered;
  if (!M || !f) return;
  let lo = 0, hi = f.length;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (M.feedAt[f[m]] < LC.t) lo = m + 1; else hi = m; }
  LISTS.events.scrollToIndex(Math.min(lo, f.length - 1), true);
}

// the rows after the instant are dimmed; only the rows in the DOM change
function eventsInstant(M) {
  if (!LISTS.events) return;
  for (const row of LISTS.events.spacer.children) {
    const j = Number(row.dataset.index);
    row.classList.toggle('future', M.feedAt[j] > LC.t);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Orders

const CHIP_LABEL = { notification: 'notification' };
function renderOrderRow(k) {
  const M = LC.model, o = LISTS.ordersFiltered[k];
  const chips = h('span', { class: 'c-life' });
  for (const j of o.chips) {
    const e = M.feed[j], isN = e.k === 'notification', label = isN ? 'notification' : e.type;
    chips.append(h('span', { class: 'chip t-' + (isN ? 'notification' : e.type) + (e.at > LC.t ? ' future' : ''), 'data-event-id': e.id == null ? '' : e.id, 'data-index': j,
      title: `${isN ? 'notification ' + e.type : e.type} at ${fmtRel(e.at)}`, text: label }));
  }
  return h('div', { class: 'row order', 'data-order': o.id, 'data-state': o.state },
    h('span', { class: 'c-order', text: o.id }),
    h('span', { class: 'c-state' }, h('span', { class: 'state st-' + String(o.state).toLowerCase(), text: o.state })),
    chips,
    h('span', { class: 'c-trace' }, o.trace ? h('a', { href: '#', class: 'link trace', 'data-trace': o.trace, text: o.trace }) : h('span', { class: 'muted', text: 'none' })));
}

function buildOrders(M) {
  const tab = document.querySelector('#tabs [data-tab="orders"]');
  const show = isOrdersRun(M);
  tab.hidden = !show;
  if (!show) return;
  const orders = ordersOf(M);
  const counts = new Map();
  for (const o of orders) countMap(counts, o.state);
  const sum = document.getElementById('orders-summary');
  sum.textContent = '';
  sum.append(h('span', { class: 'count-chip total', 'data-state': '' }, h('b', { text: fmtInt(orders.length) }), ' orders'));
  for (const [state, n] of [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    sum.append(h('span', { class: 'count-chip st-' + state.toLowerCase(), 'data-state': state, 'data-count': n, title: 'show the ' + state + ' orders' },
      h('b', { text: fmtInt(n) }), ' ' + state));
  }
  if (!M.ordersView) sum.append(h('span', { class: 'muted note', text: 'final states derived from each order\u2019s last event (this run has no view line)' }));
  const host = document.getElementById('orders');
  if (!LISTS.orders) {
    LISTS.orders = new VList(host, 34, renderOrderRow);
    host.addEventListener('click', ev => {
      const t = ev.target.closest('a.trace');
      if (t) { ev.preventDefault(); showTrace(t.dataset.trace); return; }
      const chip = ev.target.closest('.chip');
      if (chip) { showEventAt(Number(chip.dataset.index)); return; }
      const row = ev.target.closest('.row');
      if (row) {
        const o = LC.model.orders.find(x => x.id === row.dataset.order);
        if (o && o.chips.length) showEventAt(o.chips[0]);
      }
    });
    sum.addEventListener('click', ev => {
      const c = ev.target.closest('.count-chip');
      if (!c) return;
      document.getElementById('order-filter').value = c.dataset.state;
      applyOrderFilter();
    });
  }
  document.getElementById('order-filter').value = '';
  applyOrderFilter();
}

function applyOrderFilter() {
  const M = LC.model;
  if (!M || !M.orders) return;
  const q = document.getElementById('order-filter').value.trim().toLowerCase();
  const terms = q ? q.split(/\s+/) : [];
  LISTS.ordersFiltered = terms.length ? M.orders.filter(o => terms.every(t => o.search.includes(t))) : M.orders;
  document.getElementById('orders').scrollTop = 0;
  LISTS.orders.setCount(LISTS.ordersFiltered.length);
  document.getElementById('orders-shown').textContent = q ? `${fmtInt(LISTS.ordersFiltered.length)} of ${fmtInt(M.orders.length)} shown` : `${fmtInt(M.orders.length)} orders`;
}
