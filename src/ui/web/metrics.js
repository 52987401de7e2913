// The metrics view: any PromQL expression charted over the series store
// (GET /api/v1/query_range, the last 15 minutes or hour), and the panels the project declares
// in x-slipway.dashboard (GET /api/v1/dashboard), refreshed every 15 s while shown. Charts are
// small hand-drawn SVG: one line per series, a legend with each series' labels. A bad
// expression shows the query API's own error.
import { api } from './api.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 220;
const PAD = { left: 64, right: 12, top: 10, bottom: 24 };
const MAX_SERIES = 12;
const COLOURS = 8;

let ctx = null;
let generation = 0;
let timer = null;
let panels = [];
let drawSeq = 0; // only the latest redraw schedules the next one

export function start(c) {
  ctx = c;
  generation += 1;
  loadPanels(generation);
  runQuery(generation);
}

export function stop() {
  generation += 1;
  if (timer) clearTimeout(timer);
  timer = null;
}

function rangeSeconds() {
  return Number($('query-range').value) || 900;
}

$('query-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  runQuery(generation);
});
$('query-range').addEventListener('change', () => {
  runQuery(generation);
  drawPanels(generation);
});

async function queryRange(expr) {
  const range = rangeSeconds();
  const end = Date.now() / 1000;
  const step = Math.max(1, Math.round(range / 150));
  const q = new URLSearchParams({
    query: expr,
    start: (end - range).toFixed(3),
    end: end.toFixed(3),
    step: String(step),
  });
  const r = await api(`/api/v1/query_range?${q}`);
  return { result: (r.data && r.data.result) || [], start: end - range, end, step };
}

async function runQuery(gen) {
  const box = $('query-chart');
  const expr = $('query-expr').value.trim();
  if (!expr) {
    box.replaceChildren(note('Enter an expression.', 'hint'));
    return;
  }
  try {
    const data = await queryRange(expr);
    if (gen !== generation) return;
    box.replaceChildren(...chart(data, '', expr));
  } catch (e) {
    if (gen !== generation) return;
    if (e.status === 401) return ctx.onLoggedOut();
    box.replaceChildren(note(e.message, 'error', 'alert'));
  }
}

async function loadPanels(gen) {
  try {
    const r = await api('/api/v1/dashboard');
    if (gen !== generation) return;
    panels = r.panels || [];
  } catch (e) {
    if (gen !== generation) return;
    if (e.status === 401) return ctx.onLoggedOut();
    panels = [];
    $('panels').replaceChildren(note(`Could not read the panels: ${e.message}`, 'error'));
  }
  $('panels-none').hidden = panels.length > 0;
  const boxes = panels.map((p, i) => {
    const div = document.createElement('div');
    div.className = 'panel-box';
    div.dataset.panel = String(i);
    const h = document.createElement('h4');
    h.textContent = p.title;
    const body = document.createElement('div');
    body.className = 'panel-chart';
    div.append(h, body);
    return div;
  });
  $('panels').replaceChildren(...boxes);
  drawPanels(gen);
}

async function drawPanels(gen) {
  if (timer) clearTimeout(timer);
  timer = null;
  const seq = ++drawSeq;
  await Promise.all(
    panels.map(async (p, i) => {
      const body = document.querySelector(`#panels [data-panel="${i}"] .panel-chart`);
      if (!body) return;
      try {
        const data = await queryRange(p.expr);
        if (gen !== generation) return;
        body.replaceChildren(...chart(data, p.unit, p.title));
      } catch (e) {
        if (gen !== generation) return;
        body.replaceChildren(note(e.message, 'error'));
      }
    }),
  );
  if (gen === generation && seq === drawSeq) timer = setTimeout(() => drawPanels(gen), 15000);
}

function note(text, cls, role) {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  if (role) p.setAttribute('role', role);
  return p;
}

// A value as the unit writes it.
function formatValue(v, unit) {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const num = (x, d = 2) => {
    const a = Math.abs(x);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(2);
    return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : d);
  };
  switch (unit) {
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let x = v;
      let i = 0;
      while (Math.abs(x) >= 1024 && i < units.length - 1) {
        x /= 1024;
        i += 1;
      }
      return `${num(x, 1)} ${units[i]}`;
    }
    case 'seconds':
      return abs < 1 ? `${num(v * 1000, 1)} ms` : `${num(v)} s`;
    case 'ratio':
      return `${num(v * 100, 1)}%`;
    case 'percent':
      return `${num(v, 1)}%`;
    case 'req/s':
      return `${num(v)}/s`;
    default:
      return num(v);
  }
}

function seriesLabel(metric) {
  const m = { ...(metric || {}) };
  const name = m.__name__ || '';
  delete m.__name__;
  const inner = Object.entries(m)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return inner ? `${name}{${inner}}` : name || '{}';
}

function el(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// The chart (an <svg> and its legend) of a range query's matrix.
function chart(data, unit, what) {
  const all = data.result.map((s) => ({
    label: seriesLabel(s.metric),
    points: (s.values || [])
      .map(([t, v]) => [Number(t), Number(v)])
      .filter(([, v]) => Number.isFinite(v)),
  }));
  if (!all.length || all.every((s) => !s.points.length)) {
    return [note('No data in this range.', 'hint')];
  }
  const series = all.slice(0, MAX_SERIES);
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const [, v] of s.points) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (lo > 0 && lo < hi) lo = 0;
  if (lo === hi) {
    hi = lo === 0 ? 1 : hi + Math.abs(hi) * 0.1;
    lo = Math.min(0, lo);
  }
  const x = (t) => PAD.left + ((t - data.start) / (data.end - data.start)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' });
  svg.setAttribute('aria-label', `Chart of ${what}: ${series.length} series, from ${formatValue(lo, unit)} to ${formatValue(hi, unit)}`);
  svg.append(
    el('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' }),
    el('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: 'axis' }),
  );
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const t = el('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' });
    t.textContent = formatValue(v, unit);
    svg.append(t);
  }
  for (const [t, anchor] of [[data.start, 'start'], [data.end, 'end']]) {
    const label = el('text', { x: x(t), y: H - 6, 'text-anchor': anchor });
    label.textContent = new Date(t * 1000).toLocaleTimeString();
    svg.append(label);
  }
  series.forEach((s, i) => {
    // A gap longer than two steps breaks the line (a restarted target, a stale series).
    let run = [];
    const flush = () => {
      if (run.length === 1) run.push([run[0][0] + 0.5, run[0][1]]);
      if (run.length > 1) {
        svg.append(el('polyline', { points: run.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '), class: `c${i % COLOURS}` }));
      }
      run = [];
    };
    let last = null;
    for (const [t, v] of s.points) {
      if (last !== null && t - last > 2 * data.step + 0.001) flush();
      run.push([x(t), y(v)]);
      last = t;
    }
    flush();
  });
  const legend = document.createElement('ul');
  legend.className = 'legend';
  series.forEach((s, i) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch c${i % COLOURS}`;
    sw.setAttribute('aria-hidden', 'true');
    const last = s.points.length ? s.points[s.points.length - 1][1] : NaN;
    const text = document.createElement('span');
    text.textContent = `${s.label}: ${Number.isFinite(last) ? formatValue(last, unit) : '–'}`;
    li.append(sw, text);
    legend.append(li);
  });
  if (all.length > series.length) {
    const li = document.createElement('li');
    li.textContent = `${all.length - series.length} more series not drawn`;
    legend.append(li);
  }
  return [svg, legend];
}
