// sensors.js: the sensors' windows against their bands, one SVG per stream (from the `view` line), the alerts,
// and local times by each site's IANA time zone.

const TZ_FMT = new Map();
// {date, time, offset} of an instant in a time zone, e.g. {date: "2026-03-29", time: "03:36", offset: "+03:00"}
function zoned(epochMs, tz) {
  let f = TZ_FMT.get(tz);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset' });
    } catch (e) { f = null; }
    TZ_FMT.set(tz, f);
  }
  if (!f) { const iso = new Date(epochMs).toISOString(); return { date: iso.slice(0, 10), time: iso.slice(11, 16), offset: '+00:00', bad: true }; }
  const p = {};
  for (const part of f.formatToParts(new Date(epochMs))) p[part.type] = part.value;
  let off = (p.timeZoneName || 'GMT').replace(/^(GMT|UTC)/, '');
  if (!off) off = '+00:00';
  else if (/^[+-]\d{1,2}$/.test(off)) off = off[0] + pad(off.slice(1), 2) + ':00';
  off = off.replace('\u2212', '-');
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour === '24' ? '00' : p.hour}:${p.minute}`, offset: off };
}
// "2026-03-29T03:36:00+03:00" -> "2026-03-29 03:36 (+03:00)"
function fmtLocalIso(v) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.exec(v || '');
  if (!m) return v || '';
  return `${m[1]} ${m[2]} (${m[3] === 'Z' ? '+00:00' : m[3]})`;
}
function unitLabel(u) { return u === 'C' || u === 'celsius' ? '\u00b0C' : u === 'F' ? '\u00b0F' : (u || ''); }
function niceTicks(lo, hi, n) {
  const span = hi - lo || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return { ticks: out, step };
}
function fmtTick(v, step) { const d = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step))); return v.toFixed(d); }

const SENS = { onlyAnomalous: false };

function buildSensors(M) {
  const tab = document.querySelector('#tabs [data-tab="sensors"]');
  const V = M.sensorsView;
  const show = !!V && (M.domain === 'sensors' || M.domain == null);
  tab.hidden = !show;
  const plots = document.getElementById('plots');
  plots.textContent = '';
  document.getElementById('alerts').textContent = '';
  document.getElementById('sensors-summary').textContent = '';
  if (!show) return;
  const tz = new Map((V.sites || []).map(s => [s.site, s.timezone]));
  const streams = V.streams || [], alerts = V.alerts || [];
  let windows = 0, anomalies = 0, revisions = 0, alerted = 0;
  for (const st of streams) for (const w of st.windows || []) {
    windows++;
    if (w.direction != null) anomalies++;
    if ((w.revision || 0) > 1) revisions++;
    if (w.alerted) alerted++;
  }
  const sum = document.getElementById('sensors-summary');
  const chip = (kind, n, label, cls) => h('span', { class: 'count-chip ' + (cls || ''), 'data-kind': kind, 'data-count': n }, h('b', { text: fmtInt(n) }), ' ' + label);
  sum.append(chip('streams', streams.length, 'streams'), chip('windows', windows, 'windows'), chip('anomalies', anomalies, 'anomalous windows', 'anomaly'),
    chip('revisions', revisions, 'revised', 'revised'), chip('alerts', alerts.length, 'alerts', 'alert'));
  const only = h('label', { class: 'toggle' }, h('input', { type: 'checkbox', id: 'only-anomalous' }), ' only streams with anomalies');
  only.querySelector('input').checked = SENS.onlyAnomalous;
  only.querySelector('input').addEventListener('change', ev => {
    SENS.onlyAnomalous = ev.target.checked;
    for (const card of plots.children) card.hidden = SENS.onlyAnomalous && card.dataset.anomalies === '0';
  });
  sum.append(only);
  renderAlerts(M, alerts, tz);
  document.getElementById('alerts-box').querySelector('summary').textContent = `Alerts (${fmtInt(alerts.length)})`;
  for (const st of streams) plots.append(streamCard(st, tz.get(st.site) || 'UTC', alerts));
}

function renderAlerts(M, alerts, tz) {
  const host = document.getElementById('alerts');
  if (!alerts.length) { host.append(h('p', { class: 'muted', text: 'No alert was raised.' })); return; }
  const tbody = h('tbody');
  for (const a of alerts) {
    const when = Date.parse(a.windowStart);
    const tr = h('tr', { class: 'alert-row sev-' + (a.severity || ''), 'data-alert': a.alertId || '', 'data-sensor': a.sensorId, 'data-metric': a.metric, 'data-start': a.windowStart, tabindex: 0 },
      h('td', null, h('span', { class: 'sev ' + (a.severity || ''), text: a.severity || '' })),
      h('td', { text: a.site || '' }),
      h('td', null, h('b', { text: a.sensorId || '' }), ' ', a.metric || ''),
      h('td', { class: 'mono', text: isFinite(when) ? new Date(when).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : a.windowStart }),
      h('td', { class: 'mono local', title: (tz.get(a.site) || '') + ' ' + (a.localTime || ''), 'data-local': a.localTime || '', text: fmtLocalIso(a.localTime) }),
      h('td', { class: 'num', text: fmt2(a.mean) }),
      h('td', { class: 'num muted', text: a.low != null ? `${fmt2(a.low)}\u2009\u2013\u2009${fmt2(a.high)}` : '' }),
      h('td', { text: a.direction || '' }));
    tr.addEventListener('click', () => focusWindow(a.sensorId, a.metric, a.windowStart));
    tbody.append(tr);
  }
  host.append(h('table', { class: 'grid-table alerts-table' },
    h('thead', null, h('tr', null, ...['severity', 'site', 'sensor', 'window (UTC)', 'local time', 'mean', 'band', 'direction'].map((t, i) => h('th', { class: i === 5 || i === 6 ? 'num' : '', text: t })))),
    tbody));
}

function focusWindow(sensor, metric, start) {
  const svg = document.querySelector(`svg.stream-plot[data-sensor="${CSS.escape(sensor)}"][data-metric="${CSS.escape(metric)}"]`);
  if (!svg) return;
  const card = svg.closest('.plot-card');
  card.hidden = false;
  card.scrollIntoView({ block: 'center', behavior: 'smooth' });
  card.classList.remove('flash'); void card.offsetWidth; card.classList.add('flash');
  const mark = svg.querySelector(`circle.anomaly[data-start="${CSS.escape(start)}"]`);
  if (mark) { mark.classList.add('focus'); setTimeout(() => mark.classList.remove('focus'), 2500); }
}

function streamCard(st, tz, alerts) {
  const W = 460, H = 190, ml = 50, mr = 12, mt = 14, mb = 30, pw = W - ml - mr, ph = H - mt - mb;
  const wins = (st.windows || []).map(w => Object.assign({ t: Date.parse(w.start) }, w)).filter(w => isFinite(w.t)).sort((a, b) => a.t - b.t);
  const unit = unitLabel(st.unit);
  const nAnom = wins.filter(w => w.direction != null).length;
  const card = h('figure', { class: 'plot-card', 'data-anomalies': String(nAnom), 'data-sensor': st.sensor, 'data-metric': st.metric });
  card.hidden = SENS.onlyAnomalous && nAnom === 0;
  const z0 = wins.length ? zoned(wins[0].t, tz) : null;
  card.append(h('figcaption', null,
    h('span', { class: 'p-title' }, h('b', { text: st.sensor }), ' ' + st.metric + ' (' + unit + ')'),
    h('span', { class: 'p-site', text: `${st.site} \u00b7 ${tz}${z0 ? ' (UTC' + z0.offset + ')' : ''}` }),
    h('span', { class: 'p-counts', text: `${fmtInt(wins.length)} windows \u00b7 ${fmtInt(nAnom)} anomalous` })));
  const svg = sv('svg', { class: 'stream-plot', 'data-sensor': st.sensor, 'data-metric': st.metric, viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': `${st.sensor} ${st.metric}: window means against the band` });
  card.append(svg);
  if (!wins.length) { svg.append(sv('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'muted', text: 'no windows' })); return card; }
  const step = wins.length > 1 ? Math.max(1, (wins[wins.length - 1].t - wins[0].t) / (wins.length - 1)) : 60000;
  const tA = wins[0].t, tB = wins[wins.length - 1].t + step;
  let lo = Math.min(st.low != null ? st.low : Infinity, ...wins.map(w => w.min != null ? w.min : w.mean));
  let hi = Math.max(st.high != null ? st.high : -Infinity, ...wins.map(w => w.max != null ? w.max : w.mean));
  if (!isFinite(lo) || !isFinite(hi)) { lo = 0; hi = 1; }
  const padY = (hi - lo) * 0.08 || 1;
  lo -= padY; hi += padY;
  const x = t => ml + (t - tA) / (tB - tA) * pw, y = v => mt + (1 - (v - lo) / (hi - lo)) * ph;
  const yt = niceTicks(lo, hi, 4);
  const gAxes = sv('g', { class: 'axes' });
  for (const v of yt.ticks) {
    gAxes.append(sv('line', { class: 'grid', x1: ml, x2: ml + pw, y1: y(v), y2: y(v) }));
    gAxes.append(sv('text', { class: 'tick', x: ml - 6, y: y(v) + 3.5, 'text-anchor': 'end', text: fmtTick(v, yt.step) }));
  }
  gAxes.append(sv('text', { class: 'unit', x: 4, y: mt - 3, text: unit }));
  const spanMin = (tB - tA) / 60000, xStepMin = [1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440].find(m => spanMin / m <= 7) || 1440;
  const xs = xStepMin * 60000;
  for (let t = Math.ceil(tA / xs) * xs; t <= tB; t += xs) {
    gAxes.append(sv('line', { class: 'tickmark', x1: x(t), x2: x(t), y1: mt + ph, y2: mt + ph + 4 }));
    gAxes.append(sv('text', { class: 'tick', x: x(t), y: mt + ph + 15, 'text-anchor': 'middle', text: new Date(t).toISOString().slice(11, 16) }));
  }
  gAxes.append(sv('text', { class: 'unit', x: ml + pw, y: H - 3, 'text-anchor': 'end', text: 'window start (UTC)' }));
  gAxes.append(sv('line', { class: 'axis', x1: ml, x2: ml + pw, y1: mt + ph, y2: mt + ph }));
  gAxes.append(sv('line', { class: 'axis', x1: ml, x2: ml, y1: mt, y2: mt + ph }));
  svg.append(gAxes);
  if (st.low != null && st.high != null) {
    svg.append(sv('rect', { class: 'band', x: ml, width: pw, y: y(st.high), height: Math.max(0, y(st.low) - y(st.high)), 'data-low': st.low, 'data-high': st.high }));
    svg.append(sv('line', { class: 'band-edge', x1: ml, x2: ml + pw, y1: y(st.high), y2: y(st.high) }));
    svg.append(sv('line', { class: 'band-edge', x1: ml, x2: ml + pw, y1: y(st.low), y2: y(st.low) }));
  }
  if (wins.some(w => w.min != null && w.max != null)) {
    const top = wins.map(w => `${x(w.t).toFixed(1)},${y(w.max != null ? w.max : w.mean).toFixed(1)}`);
    const bot = wins.slice().reverse().map(w => `${x(w.t).toFixed(1)},${y(w.min != null ? w.min : w.mean).toFixed(1)}`);
    svg.append(sv('path', { class: 'range', d: 'M' + top.join(' L') + ' L' + bot.join(' L') + ' Z' }));
  }
  svg.append(sv('path', { class: 'mean-line', d: 'M' + wins.map(w => `${x(w.t).toFixed(1)},${y(w.mean).toFixed(1)}`).join(' L') }));
  const guide = sv('line', { class: 'guide', y1: mt, y2: mt + ph, x1: -10, x2: -10 });
  const dot = sv('circle', { class: 'focus-dot', r: 4, cx: -10, cy: -10 });
  const over = sv('rect', { class: 'overlay', x: ml, y: mt, width: pw, height: ph });
  svg.append(over, guide, dot);
  const times = wins.map(w => w.t);
  const showWin = (w, ev) => {
    guide.setAttribute('x1', x(w.t)); guide.setAttribute('x2', x(w.t));
    dot.setAttribute('cx', x(w.t)); dot.setAttribute('cy', y(w.mean));
    const z = zoned(w.t, tz);
    const flags = [w.direction ? `<span class="bad">${esc(w.direction)} the band</span>` : 'inside the band',
      (w.revision || 0) > 1 ? `revision ${w.revision}` : '', w.alerted ? '<span class="bad">alerted</span>' : ''].filter(Boolean).join(' \u00b7 ');
    tipShow(`<b>${esc(st.sensor)}</b> ${esc(st.metric)}<br>` +
      `window ${esc(new Date(w.t).toISOString().slice(0, 16).replace('T', ' '))} UTC<br>` +
      `local ${esc(z.date)} <b>${esc(z.time)} (${esc(z.offset)})</b> ${esc(tz)}<br>` +
      `mean <b>${fmt2(w.mean)}</b> ${esc(unit)} \u00b7 ${fmtInt(w.count)} reading${w.count === 1 ? '' : 's'}` +
      (w.min != null ? ` \u00b7 min ${fmt2(w.min)}, max ${fmt2(w.max)}` : '') + '<br>' +
      `band ${fmt2(st.low)}\u2013${fmt2(st.high)} ${esc(unit)}<br>${flags}`, ev.clientX, ev.clientY);
  };
  const hide = () => { tipHide(); guide.setAttribute('x1', -10); guide.setAttribute('x2', -10); dot.setAttribute('cx', -10); };
  over.addEventListener('mousemove', ev => {
    const r = svg.getBoundingClientRect(), px = (ev.clientX - r.left) * (W / r.width);
    const t = tA + (px - ml) / pw * (tB - tA);
    let k = lowerBound(times, t);
    if (k > 0 && (k >= wins.length || t - times[k - 1] < times[k] - t)) k--;
    showWin(wins[Math.max(0, Math.min(wins.length - 1, k))], ev);
  });
  over.addEventListener('mouseleave', hide);
  const marks = sv('g', { class: 'marks' });
  for (const w of wins) {
    const cx = x(w.t).toFixed(1), cy = y(w.mean).toFixed(1);
    const els = [];
    if ((w.revision || 0) > 1) els.push(sv('circle', { class: 'revised', cx, cy, r: 7, 'data-start': w.start, 'data-revision': w.revision }));
    if (w.direction != null) els.push(sv('circle', { class: 'anomaly ' + w.direction, cx, cy, r: 3.8, 'data-start': w.start, 'data-direction': w.direction }));
    if (w.alerted) els.push(sv('path', { class: 'alert', d: `M${cx},${mt + 9} l-4.5,-8 h9 z`, 'data-start': w.start }));
    for (const el of els) {
      el.addEventListener('mousemove', ev => showWin(w, ev));
      el.addEventListener('mouseleave', hide);
      marks.append(el);
    }
  }
  svg.append(marks);
  return card;
}
