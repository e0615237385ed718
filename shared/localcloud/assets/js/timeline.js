// timeline.js: the run in lanes on a canvas, one per function (its invocations, overlapping ones stacked in
// sub-rows so concurrency shows) and one per queue (its depth: messages in it, visible or in flight, as an area;
// retries, dead-letter and park moves marked). The lanes are drawn once per view change into an offscreen
// canvas; a slider move only redraws the cursor over it. Zoomed out, invocations and marks are bucketed per
// pixel column, and only what is on screen is drawn.

const TL = {
  M: null, canvas: null, ctx: null, base: null, baseCtx: null, lanes: [], t0: 0, t1: 1, W: 0, H: 0, dpr: 1,
  labelW: 212, axisH: 28, baseDirty: true, raf: 0, drag: null, hover: null,
};
const TL_COLORS = {
  ok: '#4a7fd4', fail: '#d4302b', open: '#e39b12', retry: '#ea6a0c', dead: '#8f1d1d', park: '#7c3aed',
  depth: '#a7d8cf', flight: '#0f766e', crash: '#d4302b', grid: '#e8ebf0', text: '#1f2937', sub: '#6b7280',
  stripe: '#f8f9fb', cursor: '#c2410c', axis: '#4b5563',
};

// sorted copy of the times in `list`
function sortedTimes(list) { const a = Float64Array.from(list); a.sort(); return a; }

// a step series from sorted interval starts and ends: T (times) and V (value from T[k] on)
function stepSeries(starts, ends) {
  const T = [], V = [];
  let i = 0, j = 0, v = 0;
  while (i < starts.length || j < ends.length) {
    const ts = i < starts.length ? starts[i] : Infinity, te = j < ends.length ? ends[j] : Infinity;
    const t = Math.min(ts, te);
    if (t === Infinity) break;
    while (i < starts.length && starts[i] === t) { v++; i++; }
    while (j < ends.length && ends[j] === t) { v--; j++; }
    if (T.length && T[T.length - 1] === t) V[V.length - 1] = v;
    else { T.push(t); V.push(v); }
  }
  return { T: Float64Array.from(T), V: Int32Array.from(V) };
}
function seriesAt(S, t) { const k = upperBound(S.T, t) - 1; return k < 0 ? 0 : S.V[k]; }

function buildLanes(M) {
  if (M.tlLanes) return M.tlLanes;
  const nf = M.functions.length, nq = M.queues.length;
  // function lanes: their invocations, with a sub-row each (first row free at its start)
  const fnInv = Array.from({ length: nf }, () => []);
  for (let i = 0; i < M.nInv; i++) fnInv[M.iFunc[i]].push(i);
  const parkBy = new Map(); // function crate -> park times
  const fnLanes = M.functions.map((F, f) => {
    const idx = Int32Array.from(fnInv[f]);
    const starts = new Float64Array(idx.length), sub = new Int16Array(idx.length);
    const rowEnd = [];
    let maxDur = 0;
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k], s0 = M.iStart[i], e0 = M.iEnd[i] === Infinity ? M.end : M.iEnd[i];
      starts[k] = s0;
      maxDur = Math.max(maxDur, e0 - s0);
      let r = 0;
      while (r < rowEnd.length && rowEnd[r] > s0) r++;
      rowEnd[r] = Math.max(e0, s0 + 0.0001);
      sub[k] = r;
    }
    return { kind: 'function', key: F.label, title: F.label, F, f, idx, starts, sub, nSub: Math.max(1, rowEnd.length), maxDur,
      crashes: sortedTimes(M.crashes.filter(c => c.f === f).map(c => c.at)), parks: null,
      active: idx.length > 0 };
  });
  // queue lanes: depth (visible + in flight: from visible_at, or its first receive, to gone) and in flight
  const qStarts = Array.from({ length: nq }, () => []), qEnds = Array.from({ length: nq }, () => []);
  const fStarts = Array.from({ length: nq }, () => []), fEnds = Array.from({ length: nq }, () => []);
  const retries = Array.from({ length: nq }, () => []), deadOut = Array.from({ length: nq }, () => []);
  const arrivals = Array.from({ length: nq }, () => []);
  for (let i = 0; i < M.nMsg; i++) {
    const q = M.mQueue[i], r0 = M.rStart[i], r1 = M.rStart[i + 1], gone = M.mGone[i];
    let s0 = M.mVis[i];
    if (r1 > r0) s0 = Math.min(s0, M.rAt[r0]);
    s0 = Math.max(s0, M.mSent[i]);
    if (s0 < gone) { qStarts[q].push(s0); if (gone !== Infinity) qEnds[q].push(gone); }
    for (let j = r0; j < r1; j++) {
      const a = M.rAt[j];
      if (a >= gone) break;
      let b = Math.min(M.rUntil[j], gone);
      if (j + 1 < r1) b = Math.min(b, M.rAt[j + 1]);
      if (b > a) { fStarts[q].push(a); fEnds[q].push(b); }
      if (j > r0) retries[q].push(a);
    }
    if (M.mGoneWhy[i] === 2) deadOut[q].push(gone);
    if (M.qHeld[q]) arrivals[q].push(M.mSent[i]);
  }
  M.run.sent.forEach((o, i) => {
    const q = M.mQueue[i];
    if (M.queues[q].kind === 'parking' && M.fnIndex.has(o.from)) {
      const l = parkBy.get(o.from);
      if (l) l.push(o.at); else parkBy.set(o.from, [o.at]);
    }
  });
  for (const L of fnLanes) L.parks = sortedTimes(parkBy.get(L.key) || []);
  const qLanes = M.queues.map((Q, q) => {
    const depth = stepSeries(sortedTimes(qStarts[q]), sortedTimes(qEnds[q]));
    const flight = stepSeries(sortedTimes(fStarts[q]), sortedTimes(fEnds[q]));
    let max = 0;
    for (let k = 0; k < depth.V.length; k++) if (depth.V[k] > max) max = depth.V[k];
    return { kind: 'queue', key: Q.id, title: Q.kind === 'dlq' ? Q.id.replace(/DeadLetterQueue$/, ' DLQ') : Q.id, Q, q, depth, flight, max,
      retries: sortedTimes(retries[q]), dead: sortedTimes(deadOut[q]),
      arrivals: sortedTimes(arrivals[q]), active: Q.sent > 0 };
  });
  // order: each queue followed by the functions it feeds; functions fed by nothing first; idle lanes last
  const firstAt = L => L.kind === 'function' ? (L.idx.length ? M.iStart[L.idx[0]] : Infinity) : (L.depth.T.length ? L.depth.T[0] : Infinity);
  const feeds = new Map();
  for (let i = 0; i < M.nInv; i++) if (M.iQueue[i] >= 0) {
    const q = M.iQueue[i];
    if (!feeds.has(q)) feeds.set(q, new Set());
    feeds.get(q).add(M.iFunc[i]);
  }
  for (const e of M.edges) {
    const a = M.nodeById.get(e.from), b = M.nodeById.get(e.to);
    if (a && b && QUEUE_KINDS[a.kind] && b.kind === 'function' && M.qIndex.has(a.id) && M.fnIndex.has(b.label || b.id)) {
      const q = M.qIndex.get(a.id);
      if (!feeds.has(q)) feeds.set(q, new Set());
      feeds.get(q).add(M.fnIndex.get(b.label || b.id));
    }
  }
  const fedFns = new Set();
  for (const s of feeds.values()) for (const f of s) fedFns.add(f);
  const lanes = [], used = new Set();
  const push = L => { if (!used.has(L)) { used.add(L); lanes.push(L); } };
  const byTime = (a, b) => firstAt(a) - firstAt(b);
  fnLanes.filter(L => L.active && !fedFns.has(L.f)).sort(byTime).forEach(push);
  qLanes.filter(L => L.active && L.Q.kind === 'queue').sort(byTime).forEach(L => {
    push(L);
    for (const f of feeds.get(L.q) || []) if (fnLanes[f].active) push(fnLanes[f]);
  });
  fnLanes.filter(L => L.active).sort(byTime).forEach(push);
  qLanes.filter(L => L.active).forEach(push);
  qLanes.filter(L => !L.active && L.Q.kind !== 'queue').forEach(push);
  fnLanes.filter(L => !L.active).forEach(push);
  qLanes.filter(L => !L.active).forEach(push);
  M.tlLanes = lanes;
  return lanes;
}

// ------------------------------------------------------------------------------------------------------------
// Layout and drawing

function tlLayout() {
  let y = 0;
  for (const L of TL.lanes) {
    if (!L.active) { L.h = 20; L.rowH = 0; }
    else if (L.kind === 'function') {
      L.rowH = Math.max(4, Math.min(13, Math.floor(84 / L.nSub)));
      L.h = 12 + L.nSub * L.rowH + 8;
    } else L.h = 48;
    L.y = y; y += L.h;
  }
  TL.contentH = y;
}

function tlResize() {
  const wrap = document.getElementById('timeline-scroll'), c = TL.canvas;
  if (!c || !wrap.clientWidth) return false;
  const dpr = window.devicePixelRatio || 1;
  const avail = Math.max(240, window.innerHeight - wrap.getBoundingClientRect().top - 16);
  const W = wrap.clientWidth, H = Math.min(avail, TL.axisH + TL.contentH + 4);
  if (W === TL.W && H === TL.H && dpr === TL.dpr) return true;
  TL.W = W; TL.H = H; TL.dpr = dpr;
  for (const cv of [c, TL.base]) { cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr); }
  c.style.width = W + 'px'; c.style.height = H + 'px';
  TL.scrollY = Math.max(0, Math.min(TL.scrollY || 0, TL.contentH - (H - TL.axisH)));
  TL.baseDirty = true;
  return true;
}

function niceStep(msPerPx) {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000];
  for (const s of steps) if (s / msPerPx >= 84) return s;
  return steps[steps.length - 1];
}

// the highest value of a step series in each pixel column
const TL_COLS = { a: new Float32Array(4096), b: new Float32Array(4096) };
function columnMax(S, tA, mpp, W, out) {
  const T = S.T, V = S.V, tB = tA + W * mpp;
  let k = upperBound(T, tA) - 1, v = k >= 0 ? V[k] : 0, c = 0;
  out[0] = v;
  for (k = k + 1; k < T.length; k++) {
    const t = T[k];
    if (t >= tB) break;
    const cc = Math.min(W - 1, Math.floor((t - tA) / mpp));
    while (c < cc) { c++; out[c] = v; }
    v = V[k];
    if (v > out[c]) out[c] = v;
  }
  while (c < W - 1) { c++; out[c] = v; }
}

function drawMarks(ctx, times, tA, mpp, x0, W, draw) {
  const tB = tA + W * mpp;
  let last = -1;
  for (let k = lowerBound(times, tA); k < times.length && times[k] <= tB; k++) {
    const x = Math.floor(x0 + (times[k] - tA) / mpp);
    if (x === last) continue;
    last = x; draw(x);
  }
}
function tri(ctx, x, y, down, size) {
  ctx.beginPath();
  if (down) { ctx.moveTo(x - size, y - size); ctx.lineTo(x + size, y - size); ctx.lineTo(x, y + size * 0.6); }
  else { ctx.moveTo(x - size, y + size); ctx.lineTo(x + size, y + size); ctx.lineTo(x, y - size * 0.6); }
  ctx.closePath(); ctx.fill();
}

let tlOcc = new Uint8Array(0);
function drawFnLane(ctx, L, y0, x0, W, tA, mpp) {
  const M = TL.M, top = y0 + 12, rowH = L.rowH, tB = tA + W * mpp;
  const k0 = lowerBound(L.starts, tA - L.maxDur - mpp), k1 = upperBound(L.starts, tB);
  if (k1 - k0 > W * 0.5) {
    // zoomed out: one cell per sub-row and pixel column; failed beats not-ended beats ok
    const need = L.nSub * W;
    if (tlOcc.length < need) tlOcc = new Uint8Array(need);
    const occ = tlOcc; occ.fill(0, 0, need);
    for (let k = k0; k < k1; k++) {
      const i = L.idx[k], e = M.iEnd[i] === Infinity ? M.end : M.iEnd[i];
      if (e < tA) continue;
      const flag = M.iOk[i] === 0 ? 4 : M.iOk[i] < 0 ? 2 : 1;
      const c0 = Math.max(0, Math.floor((L.starts[k] - tA) / mpp)), c1 = Math.min(W - 1, Math.floor((e - tA) / mpp));
      const base = L.sub[k] * W;
      for (let c = c0; c <= c1; c++) occ[base + c] |= flag;
    }
    const color = f => f & 4 ? TL_COLORS.fail : f & 2 ? TL_COLORS.open : TL_COLORS.ok;
    for (let r = 0; r < L.nSub; r++) {
      const base = r * W, yy = top + r * rowH;
      let c = 0;
      while (c < W) {
        const f = occ[base + c];
        if (!f) { c++; continue; }
        const cls = f & 4 ? 4 : f & 2 ? 2 : 1;
        let c2 = c + 1;
        while (c2 < W && occ[base + c2] && ((occ[base + c2] & 4 ? 4 : occ[base + c2] & 2 ? 2 : 1) === cls)) c2++;
        ctx.fillStyle = color(cls);
        ctx.fillRect(x0 + c, yy, c2 - c, Math.max(1, rowH - 1));
        c = c2;
      }
    }
  } else {
    ctx.font = '600 10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (let k = k0; k < k1; k++) {
      const i = L.idx[k], open = M.iEnd[i] === Infinity, e = open ? M.end : M.iEnd[i];
      if (e < tA) continue;
      const x = x0 + (L.starts[k] - tA) / mpp, w = Math.max(1.5, (e - L.starts[k]) / mpp);
      const yy = top + L.sub[k] * rowH;
      ctx.fillStyle = M.iOk[i] === 0 ? TL_COLORS.fail : open ? TL_COLORS.open : TL_COLORS.ok;
      const xa = Math.max(x, x0 - 2), wa = Math.min(x + w, x0 + W + 2) - xa;
      ctx.fillRect(xa, yy, wa, Math.max(1, rowH - 1));
      if (wa > 20 && rowH >= 9 && M.iRecords[i] > 0) {
        ctx.fillStyle = '#fff';
        ctx.fillText(String(M.iRecords[i]), xa + 4, yy + rowH / 2);
      }
    }
  }
  ctx.fillStyle = TL_COLORS.crash;
  ctx.strokeStyle = TL_COLORS.crash; ctx.lineWidth = 2;
  drawMarks(ctx, L.crashes, tA, mpp, x0, W, x => {
    ctx.beginPath(); ctx.moveTo(x - 3.5, y0 + 2.5); ctx.lineTo(x + 3.5, y0 + 9.5); ctx.moveTo(x + 3.5, y0 + 2.5); ctx.lineTo(x - 3.5, y0 + 9.5); ctx.stroke();
  });
  ctx.fillStyle = TL_COLORS.park;
  drawMarks(ctx, L.parks, tA, mpp, x0, W, x => {
    ctx.beginPath(); ctx.moveTo(x, y0 + 1); ctx.lineTo(x + 4, y0 + 6); ctx.lineTo(x, y0 + 11); ctx.lineTo(x - 4, y0 + 6); ctx.closePath(); ctx.fill();
  });
}

function drawQueueLane(ctx, L, y0, x0, W, tA, mpp) {
  const bottom = y0 + L.h - 5, hh = L.h - 17, scale = Math.max(1, L.max);
  if (TL_COLS.a.length < W) { TL_COLS.a = new Float32Array(W); TL_COLS.b = new Float32Array(W); }
  const area = (S, out, color) => {
    columnMax(S, tA, mpp, W, out);
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(x0, bottom);
    for (let c = 0; c < W; c++) {
      const y = bottom - (out[c] / scale) * hh;
      ctx.lineTo(x0 + c, y); ctx.lineTo(x0 + c + 1, y);
    }
    ctx.lineTo(x0 + W, bottom); ctx.closePath(); ctx.fill();
  };
  area(L.depth, TL_COLS.a, L.Q.kind === 'queue' ? TL_COLORS.depth : L.Q.kind === 'parking' ? '#ddd0fb' : '#f5c2c0');
  area(L.flight, TL_COLS.b, TL_COLORS.flight);
  ctx.fillStyle = TL_COLORS.retry;
  drawMarks(ctx, L.retries, tA, mpp, x0, W, x => tri(ctx, x, y0 + 6, false, 3.5));
  ctx.fillStyle = TL_COLORS.dead;
  drawMarks(ctx, L.dead, tA, mpp, x0, W, x => tri(ctx, x, y0 + 6, true, 4));
  if (L.Q.kind !== 'queue') {
    ctx.fillStyle = L.Q.kind === 'parking' ? TL_COLORS.park : TL_COLORS.dead;
    drawMarks(ctx, L.arrivals, tA, mpp, x0, W, x => {
      ctx.beginPath(); ctx.moveTo(x, y0 + 1); ctx.lineTo(x + 4, y0 + 6); ctx.lineTo(x, y0 + 11); ctx.lineTo(x - 4, y0 + 6); ctx.closePath(); ctx.fill();
    });
  }
}

function tlDrawBase() {
  const ctx = TL.baseCtx, W = TL.W, H = TL.H, dpr = TL.dpr, M = TL.M;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  const x0 = TL.labelW, PW = Math.max(10, W - x0 - 8), tA = TL.t0, mpp = (TL.t1 - TL.t0) / PW;
  TL.plotW = PW; TL.mpp = mpp;
  const sy = TL.scrollY || 0, top = TL.axisH;
  // lanes (clipped below the axis)
  ctx.save();
  ctx.beginPath(); ctx.rect(0, top, W, H - top); ctx.clip();
  const step = niceStep(mpp);
  TL.lanes.forEach((L, n) => {
    const y = top + L.y - sy;
    if (y + L.h < top || y > H) return;
    if (n % 2 === 1) { ctx.fillStyle = TL_COLORS.stripe; ctx.fillRect(0, y, W, L.h); }
    ctx.strokeStyle = TL_COLORS.grid; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, y + L.h - 0.5); ctx.lineTo(W, y + L.h - 0.5); ctx.stroke();
  });
  // grid lines
  ctx.strokeStyle = TL_COLORS.grid; ctx.lineWidth = 1;
  ctx.beginPath();
  for (let t = Math.ceil(tA / step) * step; t <= TL.t1; t += step) {
    const x = Math.round(x0 + (t - tA) / mpp) + 0.5;
    ctx.moveTo(x, top); ctx.lineTo(x, H);
  }
  ctx.stroke();
  ctx.save();
  ctx.beginPath(); ctx.rect(x0, top, PW, H - top); ctx.clip();
  for (const L of TL.lanes) {
    const y = top + L.y - sy;
    if (y + L.h < top || y > H || !L.active) continue;
    if (L.kind === 'function') drawFnLane(ctx, L, y, x0, PW, tA, mpp);
    else drawQueueLane(ctx, L, y, x0, PW, tA, mpp);
  }
  ctx.restore();
  // lane labels
  ctx.fillStyle = '#fff'; ctx.fillRect(0, top, x0 - 4, H - top);
  ctx.textBaseline = 'alphabetic';
  for (const L of TL.lanes) {
    const y = top + L.y - sy;
    if (y + L.h < top || y > H) continue;
    ctx.strokeStyle = TL_COLORS.grid;
    ctx.beginPath(); ctx.moveTo(0, y + L.h - 0.5); ctx.lineTo(x0 - 4, y + L.h - 0.5); ctx.stroke();
    const icon = L.kind === 'function' ? '\u03bb' : L.Q.kind === 'dlq' ? '\u2620' : L.Q.kind === 'parking' ? 'P' : '\u2261';
    ctx.fillStyle = L.active ? (L.kind === 'function' ? '#1d4ed8' : L.Q.kind === 'queue' ? '#0f766e' : L.Q.kind === 'parking' ? TL_COLORS.park : TL_COLORS.dead) : '#b6bcc6';
    ctx.font = '600 12px system-ui, sans-serif';
    ctx.fillText(icon, 10, y + (L.active ? 17 : 14));
    ctx.fillStyle = L.active ? TL_COLORS.text : '#9aa1ab';
    ctx.font = (L.active ? '600 ' : '') + '12px system-ui, sans-serif';
    let title = L.title;
    while (title.length > 4 && ctx.measureText(title).width > x0 - 36) title = title.slice(0, -2);
    if (title !== L.title) title += '\u2026';
    ctx.fillText(title, 26, y + (L.active ? 17 : 14));
    if (L.active) {
      ctx.fillStyle = TL_COLORS.sub; ctx.font = '11px system-ui, sans-serif';
      const sub = L.kind === 'function'
        ? `${fmtInt(L.idx.length)} inv${L.F.failed ? ' \u00b7 ' + fmtInt(L.F.failed) + ' failed' : ''} \u00b7 ${L.nSub} at once`
        : `${fmtInt(L.Q.sent)} ${L.Q.kind === 'queue' ? 'sent' : 'in'} \u00b7 max ${fmtInt(L.max)}`;
      ctx.fillText(sub, 26, y + 31);
    }
  }
  ctx.restore();
  // axis
  ctx.fillStyle = '#f3f4f6'; ctx.fillRect(0, 0, W, top);
  ctx.strokeStyle = '#d1d5db'; ctx.beginPath(); ctx.moveTo(0, top - 0.5); ctx.lineTo(W, top - 0.5); ctx.stroke();
  ctx.fillStyle = TL_COLORS.axis; ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'middle';
  ctx.fillText(`${fmtRel(tA)} \u2026 ${fmtRel(TL.t1)}`, 10, top / 2);
  ctx.save(); ctx.beginPath(); ctx.rect(x0, 0, PW, top); ctx.clip();
  for (let t = Math.ceil(tA / step) * step; t <= TL.t1; t += step) {
    const x = Math.round(x0 + (t - tA) / mpp) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, top - 6); ctx.lineTo(x, top); ctx.stroke();
    ctx.fillText(fmtRelShort(t, step), x + 3, top / 2);
  }
  ctx.restore();
  // a scroll indicator when the lanes do not fit
  const viewH = H - top;
  if (TL.contentH > viewH) {
    const bh = Math.max(24, viewH * viewH / TL.contentH), by = top + (sy / (TL.contentH - viewH)) * (viewH - bh);
    ctx.fillStyle = 'rgba(100,110,125,0.35)'; ctx.fillRect(W - 5, by, 4, bh);
  }
  TL.baseDirty = false;
}

function tlDraw() {
  TL.raf = 0;
  if (!TL.M || !tlResize()) return;
  if (TL.baseDirty) tlDrawBase();
  const ctx = TL.ctx, dpr = TL.dpr;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.drawImage(TL.base, 0, 0);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const x = TL.labelW + (LC.t - TL.t0) / TL.mpp;
  if (x >= TL.labelW - 1 && x <= TL.labelW + TL.plotW + 1) {
    ctx.strokeStyle = TL_COLORS.cursor; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, TL.axisH - 8); ctx.lineTo(x, TL.H); ctx.stroke();
    const label = fmtRel(LC.t);
    ctx.font = '600 11px system-ui, sans-serif';
    const w = ctx.measureText(label).width + 10;
    const lx = Math.min(Math.max(x - w / 2, TL.labelW), TL.W - w - 2);
    ctx.fillStyle = TL_COLORS.cursor; ctx.fillRect(lx, 3, w, TL.axisH - 10);
    ctx.fillStyle = '#fff'; ctx.textBaseline = 'middle'; ctx.fillText(label, lx + 5, 3 + (TL.axisH - 10) / 2);
  }
  if (TL.hover && TL.hover.box) {
    const b = TL.hover.box;
    ctx.strokeStyle = '#111827'; ctx.lineWidth = 1.5; ctx.strokeRect(b.x - 1, b.y - 1, b.w + 2, b.h + 2);
  }
}
function tlRequest(base) { if (base) TL.baseDirty = true; if (!TL.raf) TL.raf = requestAnimationFrame(tlDraw); }

// ------------------------------------------------------------------------------------------------------------
// Interaction

function tlTimeAt(x) { return TL.t0 + (x - TL.labelW) * TL.mpp; }
function tlSetView(t0, t1) {
  const end = Math.max(TL.M ? TL.M.end : 1000, 10);
  let span = Math.min(Math.max(t1 - t0, 2), end * 1.5 + 1000);
  const lo = -span * 0.5, hi = end + span * 0.5;
  if (t0 < lo) t0 = lo;
  if (t0 + span > hi) t0 = hi - span;
  TL.t0 = t0; TL.t1 = t0 + span;
  tlRequest(true);
}
function tlZoom(factor, around) {
  if (around == null) around = (LC.t >= TL.t0 && LC.t <= TL.t1) ? LC.t : (TL.t0 + TL.t1) / 2;
  tlSetView(around - (around - TL.t0) * factor, around + (TL.t1 - around) * factor);
}
function tlFit() {
  const end = Math.max(TL.M ? TL.M.end : 1000, 10), pad = Math.max(1, end * 0.01);
  tlSetView(-pad, end + pad);
}
function tlCenter() { const span = TL.t1 - TL.t0; tlSetView(LC.t - span / 2, LC.t + span / 2); }

function tlHit(x, y) {
  if (!TL.M || y < TL.axisH) return null;
  const yy = y - TL.axisH + (TL.scrollY || 0);
  const L = TL.lanes.find(l => yy >= l.y && yy < l.y + l.h);
  if (!L) return null;
  const t = tlTimeAt(x), hit = { lane: L, t, inLabels: x < TL.labelW };
  if (hit.inLabels || !L.active || L.kind !== 'function') return hit;
  const r = Math.floor((yy - L.y - 12) / L.rowH);
  if (r < 0 || r >= L.nSub) return hit;
  const M = TL.M, tol = 3 * TL.mpp;
  for (let k = upperBound(L.starts, t + tol) - 1; k >= 0 && L.starts[k] >= t - L.maxDur - tol; k--) {
    if (L.sub[k] !== r) continue;
    const i = L.idx[k], e = M.iEnd[i] === Infinity ? M.end : M.iEnd[i];
    if (e >= t - tol) {
      const bx = TL.labelW + (L.starts[k] - TL.t0) / TL.mpp;
      hit.inv = i;
      hit.box = { x: bx, y: TL.axisH + L.y - (TL.scrollY || 0) + 12 + r * L.rowH, w: Math.max(1.5, (e - L.starts[k]) / TL.mpp), h: L.rowH - 1 };
      return hit;
    }
  }
  return hit;
}

function invocationTip(M, i) {
  const o = M.run.invoked[i], open = M.iEnd[i] === Infinity;
  const status = M.iOk[i] === 0 ? '<span class="bad">failed</span>' : open ? '<span class="warn">not ended</span>' : 'ok';
  const err = M.iError.get(i);
  return `<b>${esc(o.function)}</b> invocation ${esc(o.invocation)} \u00b7 ${status}<br>` +
    `${esc(o.request_id || '')} \u00b7 trigger ${esc(o.trigger)}${M.iRecords[i] ? ' \u00b7 batch of ' + M.iRecords[i] : ''}<br>` +
    `${fmtRel(M.iStart[i])} \u2192 ${open ? '\u2026' : fmtRel(M.iEnd[i]) + ' (' + fmtInt(M.iEnd[i] - M.iStart[i]) + ' ms)'}` +
    (err ? `<br><span class="bad">${esc(err)}</span>` : '') + (o.trace ? `<br>trace ${esc(o.trace)}` : '');
}
function laneTip(M, hit) {
  const L = hit.lane, t = hit.t;
  if (hit.inLabels) return `<b>${esc(L.key)}</b> (${L.kind === 'function' ? 'function' : L.Q.kind})`;
  if (L.kind === 'function') {
    let n = 0;
    for (let k = 0; k < L.idx.length && L.starts[k] <= t; k++) if (M.iEnd[L.idx[k]] > t) n++;
    return `<b>${esc(L.key)}</b> at ${fmtRel(t)}: ${n} in flight`;
  }
  const near = (arr) => { const k = lowerBound(arr, t - 4 * TL.mpp); return k < arr.length && arr[k] <= t + 4 * TL.mpp; };
  const extra = [near(L.retries) ? 'a retry (a message received again)' : '', near(L.dead) ? 'a dead-letter move' : '',
    L.Q.kind !== 'queue' && near(L.arrivals) ? (L.Q.kind === 'parking' ? 'a message parked' : 'a message dead-lettered here') : ''].filter(Boolean);
  return `<b>${esc(L.key)}</b> at ${fmtRel(t)}: ${fmtInt(seriesAt(L.depth, t))} in the queue, ${fmtInt(seriesAt(L.flight, t))} in flight` +
    (extra.length ? '<br>' + extra.join(', ') : '');
}

function initTimeline() {
  const c = document.getElementById('timeline');
  TL.canvas = c; TL.ctx = c.getContext('2d');
  TL.base = document.createElement('canvas'); TL.baseCtx = TL.base.getContext('2d');
  const pt = ev => { const r = c.getBoundingClientRect(); return { x: ev.clientX - r.left, y: ev.clientY - r.top }; };
  c.addEventListener('mousedown', ev => {
    if (ev.button !== 0) return;
    const p = pt(ev);
    TL.drag = { x: p.x, y: p.y, t0: TL.t0, t1: TL.t1, sy: TL.scrollY || 0, moved: false };
    ev.preventDefault();
  });
  window.addEventListener('mousemove', ev => {
    if (!TL.drag) return;
    const p = pt(ev), d = TL.drag, dx = p.x - d.x, dy = p.y - d.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) d.moved = true;
    if (!d.moved) return;
    tipHide();
    const shift = dx * (d.t1 - d.t0) / TL.plotW;
    TL.scrollY = Math.max(0, Math.min(d.sy - dy, TL.contentH - (TL.H - TL.axisH)));
    tlSetView(d.t0 - shift, d.t1 - shift);
  });
  window.addEventListener('mouseup', ev => {
    const d = TL.drag;
    TL.drag = null;
    if (!d || d.moved) return;
    const p = pt(ev);
    if (p.x < TL.labelW) return;
    const hit = tlHit(p.x, p.y);
    setInstant(Math.round(Math.max(0, Math.min(TL.M.end, tlTimeAt(p.x)))));
    if (hit && hit.inv != null && typeof showInvocation === 'function') showInvocation(hit.inv);
  });
  c.addEventListener('mousemove', ev => {
    if (TL.drag) return;
    const p = pt(ev), hit = tlHit(p.x, p.y);
    const before = TL.hover && TL.hover.inv;
    TL.hover = hit;
    if ((hit && hit.inv) !== before) tlRequest(false);
    if (!hit) { tipHide(); return; }
    tipShow(hit.inv != null ? invocationTip(TL.M, hit.inv) : laneTip(TL.M, hit), ev.clientX, ev.clientY);
    c.style.cursor = hit.inv != null ? 'pointer' : 'crosshair';
  });
  c.addEventListener('mouseleave', () => { TL.hover = null; tipHide(); tlRequest(false); });
  c.addEventListener('wheel', ev => {
    if (!TL.M) return;
    ev.preventDefault();
    tipHide();
    if (ev.shiftKey) {
      TL.scrollY = Math.max(0, Math.min((TL.scrollY || 0) + ev.deltaY, TL.contentH - (TL.H - TL.axisH)));
      tlRequest(true);
    } else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      const shift = ev.deltaX * TL.mpp;
      tlSetView(TL.t0 + shift, TL.t1 + shift);
    } else {
      const p = pt(ev);
      const around = p.x >= TL.labelW ? tlTimeAt(p.x) : undefined;
      tlZoom(Math.exp(ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), around);
    }
  }, { passive: false });
  document.getElementById('tl-zoom-in').addEventListener('click', () => tlZoom(0.5));
  document.getElementById('tl-zoom-out').addEventListener('click', () => tlZoom(2));
  document.getElementById('tl-fit').addEventListener('click', () => { TL.scrollY = 0; tlFit(); });
  document.getElementById('tl-center').addEventListener('click', tlCenter);
  window.addEventListener('resize', () => tlRequest(true));
}

function renderTimeline(M) {
  TL.M = M;
  TL.lanes = buildLanes(M);
  tlLayout();
  TL.scrollY = 0; TL.hover = null;
  TL.W = 0; // size again
  tlFit();
}
function timelineInstant() { if (TL.M) tlRequest(false); }
