// main.js: loading the record, the run selector, the tabs, the slider (and playing virtual time), the summary.
// Window API for tests and people: setInstant(ms), showEvent(id), selectRun(index), selectTab(name);
// runReady / runError; body[data-ready="true"] once the first run is rendered.

function showError(e) {
  const msg = e && e.message ? e.message : String(e);
  const box = document.getElementById('error');
  box.textContent = msg;
  box.hidden = false;
  document.getElementById('loading').hidden = true;
  window.runError = msg;
  document.body.dataset.error = 'true';
}

function selectTab(name) {
  const btn = document.querySelector(`#tabs [data-tab="${name}"]`);
  if (!btn || btn.hidden) name = 'graph';
  if (name !== LC.tab) window.scrollTo(0, 0);  // a tab opens at its top, not where the last one was scrolled to
  for (const b of document.querySelectorAll('#tabs [data-tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const p of document.querySelectorAll('#panels .panel')) p.hidden = p.dataset.panel !== name;
  LC.tab = name;
  document.body.dataset.tab = name;
  if (name === 'timeline') { TL.W = 0; tlRequest(true); }
  if (name === 'events' && LISTS.events) LISTS.events.refresh();
  if (name === 'orders' && LISTS.orders) LISTS.orders.refresh();
}

function renderInstant(M, t) {
  const out = document.getElementById('instant');
  out.querySelector('.rel').textContent = fmtRel(t);
  out.querySelector('.abs').textContent = fmtUtc(M.start + t);
  out.dataset.ms = String(t);
  for (const el of document.querySelectorAll('.state-instant')) el.textContent = fmtRel(t) + ' \u00b7 ' + fmtUtc(M.start + t);
}

// Everything that depends on the instant, at once (the canvas redraws on the next frame)
function applyInstant(t) {
  const M = LC.model;
  if (!M) return;
  LC.t = t;
  document.body.classList.toggle('scrubbed', t > 0);
  const st = stateAt(M, t);
  LC.state = st;
  renderInstant(M, t);
  updateState(M, st);
  graphInstant(M, st);
  eventsInstant(M);
  if (LISTS.orders && LC.tab === 'orders') {
    for (const chip of LISTS.orders.spacer.querySelectorAll('.chip')) chip.classList.toggle('future', M.feedAt[Number(chip.dataset.index)] > t);
  }
  timelineInstant();
}

// Move the slider to ms (clamped to the run) and update every view; returns the instant set
function setInstant(ms) {
  const M = LC.model;
  if (!M) return null;
  let t = Math.round(Number(ms));
  if (!isFinite(t)) t = 0;
  t = Math.max(0, Math.min(M.end, t));
  const slider = document.getElementById('slider');
  slider.value = String(t);
  LC.pendingT = null;
  applyInstant(t);
  return t;
}

let sliderRaf = 0;
function onSlider() {
  LC.pendingT = Number(document.getElementById('slider').value);
  if (!sliderRaf) sliderRaf = requestAnimationFrame(() => {
    sliderRaf = 0;
    if (LC.pendingT != null) { const t = LC.pendingT; LC.pendingT = null; applyInstant(t); }
  });
}

// Playing virtual time at the chosen speed
const PLAY = { on: false, last: 0, raf: 0 };
function setPlaying(on) {
  PLAY.on = on;
  const b = document.getElementById('play');
  b.innerHTML = on ? '&#10074;&#10074;' : '&#9654;';
  b.setAttribute('aria-label', on ? 'pause' : 'play');
  b.classList.toggle('on', on);
  if (on) {
    if (LC.t >= LC.model.end) setInstant(0);
    PLAY.last = performance.now();
    PLAY.raf = requestAnimationFrame(playStep);
  } else if (PLAY.raf) { cancelAnimationFrame(PLAY.raf); PLAY.raf = 0; }
}
function playStep(now) {
  if (!PLAY.on) return;
  const speed = Number(document.getElementById('speed').value) || 1;
  const t = LC.t + (now - PLAY.last) * speed;
  PLAY.last = now;
  if (t >= LC.model.end) { setInstant(LC.model.end); setPlaying(false); return; }
  setInstant(t);
  PLAY.raf = requestAnimationFrame(playStep);
}

function badgeFor(M) {
  const s = M.summary;
  if (!s) return { text: 'no summary', cls: 'unknown', title: 'the record ends before the run\u2019s summary' };
  const v = s.violations || [];
  if (!v.length) return { text: 'invariants hold', cls: 'ok', title: M.domain ? 'every invariant of the ' + M.domain + ' domain holds' : 'no violation reported (a bare play checks no domain invariants)' };
  return { text: `${fmtInt(v.length)} violation${v.length === 1 ? '' : 's'}`, cls: 'bad', title: v.join('\n') };
}

function renderSummary(M) {
  const b = badgeFor(M);
  const status = document.getElementById('status-badge');
  status.hidden = false;
  status.textContent = b.text; status.className = 'badge ' + b.cls; status.title = b.title;
  status.dataset.violations = String(M.summary ? (M.summary.violations || []).length : '');
  const host = document.getElementById('summary');
  host.textContent = '';
  host.append(h('div', { class: 'summary-head' }, h('span', { class: 'badge big ' + b.cls, text: b.text, 'data-violations': status.dataset.violations }),
    h('span', { class: 'muted', text: M.run.meta.title || '' })));
  if (M.summary && (M.summary.violations || []).length) {
    const ul = h('ul', { class: 'violations' });
    for (const v of M.summary.violations) ul.append(h('li', { class: 'violation', text: v }));
    host.append(h('h3', { text: 'Violations' }), ul);
  }
  host.append(h('pre', { class: 'summary-text', text: M.summary ? M.summary.text || '' : 'The record has no summary line for this run.' }));
  const audit = document.getElementById('audit');
  audit.textContent = '';
  const a = M.summary && M.summary.audit;
  audit.append(h('h3', { text: 'Event store audit' }), h('p', { class: a ? 'audit-text' : 'muted', text: a || 'no audit for this run (plays have none)' }));
  const notes = document.getElementById('record-notes');
  notes.textContent = '';
  const r = M.run;
  notes.append(h('h3', { text: 'This run in the record' }), dl([
    ['title', r.meta.title], ['domain', r.meta.domain || 'none (a bare play)'], ['start', r.meta.start], ['template', r.meta.template],
    ['virtual time', fmtRel(M.end)],
    ['lines', `${fmtInt(r.feed.filter(e => e.k === 'event').length)} events, ${fmtInt(r.feed.filter(e => e.k === 'notification').length)} notifications, ` +
      `${fmtInt(r.sent.length)} messages sent, ${fmtInt(r.received.length)} receives, ${fmtInt(r.gone.length)} gone, ` +
      `${fmtInt(r.invoked.length)} invocations, ${fmtInt(r.entries.length)} timeline entries`],
    ['record line', fmtInt(r.line)],
  ]), h('p', { class: 'muted small', text: 'Graph edges into a function from a bus or topic count every asynchronous invocation of that function (approximate).' }));
}

function selectRun(index) {
  const run = LC.runs[index];
  if (!run) return;
  setPlaying(false);
  LC.run = run;
  const M = buildModel(run);
  LC.model = M;
  document.getElementById('run-select').value = String(index);
  const slider = document.getElementById('slider');
  slider.max = String(M.end); slider.value = '0';
  LC.t = 0;
  closeDetails();
  renderGraph(M);
  buildStateTables(M);
  renderTimeline(M);
  buildEventsList(M);
  buildOrders(M);
  buildSensors(M);
  renderSummary(M);
  document.title = 'localcloud run: ' + (run.meta.title || '');
  document.body.dataset.domain = M.domain || 'none';
  document.body.dataset.run = String(index);
  if (document.querySelector(`#tabs [data-tab="${LC.tab || 'graph'}"]`).hidden) selectTab('graph');
  else selectTab(LC.tab || 'graph');
  setInstant(0);
}

function wireUi() {
  document.getElementById('run-select').addEventListener('change', ev => selectRun(Number(ev.target.value)));
  for (const b of document.querySelectorAll('#tabs [data-tab]')) b.addEventListener('click', () => selectTab(b.dataset.tab));
  const slider = document.getElementById('slider');
  slider.addEventListener('input', onSlider);
  document.getElementById('play').addEventListener('click', () => setPlaying(!PLAY.on));
  document.querySelector('#details .close').addEventListener('click', closeDetails);
  let filterTimer = 0;
  document.getElementById('event-filter').addEventListener('input', () => { clearTimeout(filterTimer); filterTimer = setTimeout(applyEventFilter, 120); });
  document.getElementById('event-filter-clear').addEventListener('click', () => { document.getElementById('event-filter').value = ''; applyEventFilter(); });
  document.getElementById('events-to-instant').addEventListener('click', eventsToInstant);
  let orderTimer = 0;
  document.getElementById('order-filter').addEventListener('input', () => { clearTimeout(orderTimer); orderTimer = setTimeout(applyOrderFilter, 120); });
  document.addEventListener('keydown', ev => {
    const tag = (ev.target && ev.target.tagName) || '';
    const typing = tag === 'INPUT' && ev.target.type !== 'range' || tag === 'TEXTAREA' || tag === 'SELECT';
    if (ev.key === 'Escape') { if (!document.getElementById('details').hidden) closeDetails(); else if (GRAPH.selected) selectNode(null); return; }
    if (typing) return;
    if (ev.key === ' ' && tag !== 'BUTTON') { ev.preventDefault(); setPlaying(!PLAY.on); }
    else if ((ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') && tag !== 'INPUT' && ev.target.closest && !ev.target.closest('.vlist')) {
      const M = LC.model;
      if (!M) return;
      const step = ev.shiftKey ? Math.max(1, Math.round(M.end / 100)) : Math.max(1, Math.round(M.end / 1000));
      setInstant(LC.t + (ev.key === 'ArrowRight' ? step : -step));
    }
  });
}

async function init() {
  const timings = {};
  const t0 = performance.now();
  try {
    const text = await decodeRunData();
    timings.decodeMs = Math.round(performance.now() - t0);
    const t1 = performance.now();
    const runs = parseRecord(text);
    timings.parseMs = Math.round(performance.now() - t1);
    timings.bytes = text.length;
    if (!runs.length) throw new Error('the run record holds no run');
    LC.runs = runs;
    const select = document.getElementById('run-select');
    select.textContent = '';
    runs.forEach((r, i) => select.append(h('option', { value: String(i), text: r.meta.title || ('run ' + (i + 1)) })));
    initTimeline();
    wireUi();
    const t2 = performance.now();
    selectRun(0);
    timings.renderMs = Math.round(performance.now() - t2);
    timings.totalMs = Math.round(performance.now() - t0);
    LC.timings = timings;
    window.pageTimings = timings;
    document.getElementById('loading').hidden = true;
    document.getElementById('main').classList.add('loaded');
    window.runReady = true;
    document.body.dataset.ready = 'true';
  } catch (e) {
    if (!(e instanceof RecordError)) console.error(e);
    showError(e);
  }
}

window.setInstant = setInstant;
window.showEvent = showEvent;
window.selectRun = selectRun;
window.selectTab = selectTab;
window.localcloudPage = LC;
window.addEventListener('error', ev => { if (!window.runReady) showError(ev.error || ev.message); });
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
