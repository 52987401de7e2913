// The deploys view: the running deploy of one service, live, and its release history.
// Live from the daemon's event stream (GET /api/v1/events/stream, `event: deploy`: every
// running job's state, both sets and their traffic weights, each set's numbers over the last
// second or so (`live`, read each time the stream checks: twice a second) beside the job's last
// analysis window, and the last progress lines), sent when it changes; if the stream is refused
// or dropped the view polls GET /api/v1/deploy/live every second and tries the stream again
// after 10 s. The split, and the 5xx rate and p95 of the new and the old set, move in small SVG
// charts (the last 2 minutes, at most 600 points): solid and dashed lines the live numbers of
// each sample, a thin dotted line the analysis window's figure for the new set, and a tick at
// each decision of the job (red: a rollback); each decision is listed with its reason as the
// API words it. Deployers and admins get deploy, promote,
// pause, resume and roll back buttons behind a confirmation dialog (POST /api/v1/deploy,
// /api/v1/deploy/{service}/promote|pause|resume, /api/v1/rollback: the typed routes the CLI
// calls; the API's error text shown);
// viewers get none. The release history (GET /api/v1/releases, secrets redacted by the API)
// with a line diff of two releases' specs.
import { api } from './api.js';
import { $, confirmDialog } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const WINDOW_MS = 120000;
const MAX_POINTS = 600;

let ctx = { canDeploy: false, onLoggedOut: () => {} };
let generation = 0;
let source = null;
let timer = null;
let retry = null;
let service = '';
let job = null; // the selected service's running job (the stream's words), or null
let lines = []; // the last progress lines (all services)
let releases = []; // the selected service's, newest first
// service → [{t, weight, errNew, errOld, p95New, p95Old (live), aErrNew, aP95New (analysis)}]
const samples = new Map();
const marks = new Map(); // service → [{t, breach}]: the job's decisions, for the charts' ticks
let lagSeen = 0; // the newest decision's time whose lag was measured
let busy = false; // an action of this page is under way

export function start(c) {
  ctx = c;
  generation += 1;
  $('dep-actions').hidden = !c.canDeploy;
  job = null;
  render();
  loadServices(generation);
  live(generation);
}

export function stop() {
  generation += 1;
  if (source) source.close();
  source = null;
  if (timer) clearTimeout(timer);
  if (retry) clearTimeout(retry);
  timer = null;
  retry = null;
}

// --- Data ----------------------------------------------------------------------------------

async function loadServices(gen) {
  try {
    const ps = await api('/api/v1/ps');
    if (gen === generation) setServices(ps);
  } catch (e) {
    if (e.status === 401) return ctx.onLoggedOut();
    say(`Could not list the services: ${e.message}`);
  }
}

function setServices(ps) {
  const names = [...new Set((ps || []).map((r) => r.service))].sort();
  const select = $('dep-service');
  const have = [...select.options].map((o) => o.value);
  if (names.join('\n') !== have.join('\n')) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  if (!service || !names.includes(service)) {
    const pick = names.includes('web') ? 'web' : names[0] || '';
    if (pick !== service) selectService(pick);
  }
  select.value = service;
}

function selectService(name) {
  service = name;
  $('dep-service').value = name;
  $('dep-diff').hidden = true;
  job = null;
  render();
  refreshReleases();
}

$('dep-service').addEventListener('change', (ev) => selectService(ev.target.value));

function live(gen) {
  if (gen !== generation) return;
  if (typeof EventSource === 'undefined') return poll(gen);
  const es = new EventSource('/api/v1/events/stream');
  source = es;
  let opened = false;
  const fallBack = () => {
    es.close();
    if (source === es) source = null;
    if (gen !== generation) return;
    poll(gen);
    retry = setTimeout(() => {
      if (gen !== generation) return;
      if (timer) clearTimeout(timer);
      timer = null;
      live(gen);
    }, 10000);
  };
  es.addEventListener('open', () => {
    opened = true;
    $('dep-live-mode').dataset.mode = 'live';
    $('dep-live-mode').textContent = 'Live (event stream)';
  });
  es.addEventListener('ps', (ev) => {
    try {
      setServices(JSON.parse(ev.data));
    } catch {
      // A malformed event: the next one will do.
    }
  });
  es.addEventListener('deploy', (ev) => {
    let d = null;
    try {
      d = JSON.parse(ev.data);
    } catch {
      return;
    }
    onDeploy(d);
  });
  es.addEventListener('dropped', fallBack);
  es.addEventListener('error', () => {
    if (!opened || es.readyState === EventSource.CLOSED) fallBack();
  });
}

async function poll(gen) {
  if (gen !== generation) return;
  try {
    const d = await api('/api/v1/deploy/live');
    if (gen !== generation) return;
    $('dep-live-mode').dataset.mode = 'polling';
    $('dep-live-mode').textContent = 'Polling every second (the event stream is unavailable)';
    onDeploy(d);
  } catch (e) {
    if (e.status === 401) return ctx.onLoggedOut();
    say(`Update failed: ${e.message}`);
  }
  if (gen === generation && !source) timer = setTimeout(() => poll(gen), 1000);
}

function rate(errors, requests) {
  return requests > 0 ? (100 * errors) / requests : null;
}

// A set's live numbers: the 5xx share in percent and the p95 (null without responses).
const liveErr = (n) => (n && n.requests > 0 ? (100 * n.errors_5xx) / n.requests : null);
const liveP95 = (n) => (n && n.requests > 0 ? n.p95_ms : null);

function onDeploy(d) {
  const now = Date.now();
  lines = Array.isArray(d.progress) ? d.progress : [];
  const jobs = Array.isArray(d.jobs) ? d.jobs : [];
  for (const j of jobs) {
    const a = j.analysis || {};
    const l = j.live && typeof j.live === 'object' ? j.live : null;
    const aErrNew = a.window_s ? rate(a.errors_5xx, a.requests) : null;
    const aP95New = a.window_s && a.requests > 0 ? a.p95_ms : null;
    const list = samples.get(j.service) || [];
    list.push({
      t: now,
      weight: j.new_weight ?? 0,
      // The live numbers when the daemon sends them; else the analysis window's.
      errNew: l ? liveErr(l.new) : aErrNew,
      errOld: l ? liveErr(l.old) : a.window_s ? rate(a.old_errors_5xx, a.old_requests) : null,
      p95New: l ? liveP95(l.new) : aP95New,
      p95Old: l ? liveP95(l.old) : a.window_s && a.old_requests > 0 ? a.old_p95_ms : null,
      aErrNew,
      aP95New,
    });
    while (list.length > MAX_POINTS || (list.length && list[0].t < now - WINDOW_MS)) list.shift();
    samples.set(j.service, list);
    const m = marks.get(j.service) || [];
    for (const tr of Array.isArray(j.transitions) ? j.transitions : []) {
      if (typeof tr.t !== 'number' || m.some((x) => x.t === tr.t)) continue;
      m.push({ t: tr.t, breach: tr.to === 'rolling-back' });
    }
    m.sort((x, y) => x.t - y.t);
    while (m.length > 100 || (m.length && m[0].t < now - WINDOW_MS)) m.shift();
    marks.set(j.service, m);
  }
  const mine = jobs.find((j) => j.service === service) || null;
  const ended = job && (!mine || mine.release !== job.release);
  const began = mine && (!job || mine.release !== job.release);
  job = mine;
  if (ended || began) refreshReleases();
  render();
}

async function refreshReleases() {
  const name = service;
  if (!name) return;
  try {
    const list = await api(`/api/v1/releases?service=${encodeURIComponent(name)}&limit=20`);
    if (name !== service) return;
    releases = Array.isArray(list) ? list : [];
    renderReleases();
    render();
  } catch (e) {
    if (e.status === 401) return ctx.onLoggedOut();
    say(`Could not read the release history: ${e.message}`);
  }
}

// --- Rendering -----------------------------------------------------------------------------

function say(text) {
  $('dep-status').textContent = text;
}

const pct = (x) => (x == null ? '–' : `${x.toFixed(1)} %`);
const ms = (x) => (x == null ? '–' : `${x.toFixed(0)} ms`);
// A set and its release: "r3" when the set is named after it (the usual), else "blue (r3)".
const setName = (set, release) => (set === `r${release}` ? set : `${set} (r${release})`);
const time = (t) => (t ? new Date(t).toLocaleTimeString() : '');

function render() {
  const j = job;
  const split = $('dep-split');
  if (j) {
    const paused = j.state === 'paused';
    $('dep-job').textContent =
      `${j.service}: r${j.release}${j.version ? ` (${j.version})` : ''}, ${j.strategy}, from r${j.old_release}`;
    const last = (j.transitions || []).at(-1);
    let state = `State: ${j.state}${j.pausing ? ' (pausing once the step in flight ends)' : ''}`;
    if (last && last.reason) state += ` — ${last.reason}`;
    if (paused && j.paused) {
      state += `. Paused by ${j.paused.by || 'the strategy'}${j.paused.reason ? `: ${j.paused.reason}` : ''}`;
    }
    $('dep-state').textContent = state;
    $('dep-state').dataset.state = j.state;
    // How far behind the job the page is: a new decision's age when it shows.
    if (last && last.t > lagSeen) {
      lagSeen = last.t;
      $('dep-state').dataset.lag = String(Date.now() - last.t);
    }
    split.dataset.new = String(j.new_weight);
    $('dep-split-new').setAttribute('width', String(4 * Math.min(100, j.new_weight)));
    $('dep-split-text').textContent =
      `Traffic: new set ${setName(j.new_set, j.release)} ${j.new_weight} % · old set ${setName(j.old_set, j.old_release)} ${j.old_weight} %`;
  } else {
    const lastRel = releases[0];
    $('dep-job').textContent = `No deploy of ${service || 'this service'} running`;
    $('dep-state').dataset.state = lastRel ? lastRel.status : '';
    $('dep-state').textContent = lastRel
      ? `Last release: r${lastRel.number}${lastRel.version ? ` (${lastRel.version})` : ''} ${lastRel.status}${lastRel.reason ? `: ${lastRel.reason}` : ''}`
      : '';
    const full = lastRel && lastRel.status === 'succeeded' ? '100' : '0';
    split.dataset.new = full;
    $('dep-split-new').setAttribute('width', full === '100' ? '400' : '0');
    $('dep-split-text').textContent =
      full === '100'
        ? `Traffic: all on r${lastRel.number}, the last release`
        : 'Traffic: all on the running release';
  }
  renderCharts();
  renderDecisions();
  renderButtons();
}

function renderButtons() {
  if (!ctx.canDeploy) return;
  const j = job;
  $('dep-deploy').disabled = busy || !service || !!j;
  $('dep-promote').disabled =
    !j || j.state !== 'watching' || j.pausing || !['blue-green', 'canary'].includes(j.strategy);
  $('dep-pause').disabled = !j || j.state === 'paused' || j.pausing || j.state === 'rolling-back';
  $('dep-resume').disabled = !j || (j.state !== 'paused' && !j.pausing);
  $('dep-rollback').disabled = !service;
}

function renderDecisions() {
  const ol = $('dep-decisions');
  const mine = lines.filter((l) => l.service === service).slice(-50).reverse();
  const key = mine.map((l) => l.seq).join(',');
  if (ol.dataset.key === key) return;
  ol.dataset.key = key;
  ol.replaceChildren(
    ...mine.map((l) => {
      const li = document.createElement('li');
      const t = document.createElement('time');
      t.dateTime = new Date(l.t).toISOString();
      t.textContent = time(l.t);
      li.append(t, ` r${l.release}: ${l.text}`);
      return li;
    }),
  );
  if (!mine.length) {
    const li = document.createElement('li');
    li.className = 'hint';
    li.textContent = 'No decisions since the daemon started.';
    ol.append(li);
  }
}

// A small line chart: `series` [{key, cls}] over the samples' last 2 minutes; y from 0 to the
// largest value (at least `min`); a tick at each of `ticks` ([{t, breach}]).
function chart(id, list, series, min, unit, ticks = []) {
  const svg = $(id);
  const W = 320;
  const H = 90;
  const top = 12;
  const now = Date.now();
  let max = min;
  for (const s of list) for (const { key } of series) if (s[key] != null) max = Math.max(max, s[key]);
  const x = (t) => Math.max(0, W - ((now - t) / WINDOW_MS) * W);
  const y = (v) => H - 2 - ((H - top - 2) * v) / max;
  const kids = [];
  const grid = document.createElementNS(SVG, 'line');
  for (const [k, v] of Object.entries({ x1: 0, x2: W, y1: y(0), y2: y(0), class: 'axis' })) grid.setAttribute(k, v);
  kids.push(grid);
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '2');
  label.setAttribute('y', '10');
  label.setAttribute('class', 'chart-max');
  label.textContent = `${max.toFixed(max < 10 ? 1 : 0)} ${unit}`;
  kids.push(label);
  for (const { t, breach } of ticks) {
    const tick = document.createElementNS(SVG, 'line');
    const px = x(t).toFixed(1);
    for (const [k, v] of Object.entries({ x1: px, x2: px, y1: top, y2: H - 2, class: breach ? 'tick-breach' : 'tick' })) {
      tick.setAttribute(k, v);
    }
    kids.push(tick);
  }
  for (const { key, cls } of series) {
    // Gaps where a value is missing: one polyline per run (a lone point: a short dash).
    let run = [];
    const flush = () => {
      if (run.length === 1) run.unshift([run[0][0] - 3, run[0][1]]);
      if (run.length) {
        const p = document.createElementNS(SVG, 'polyline');
        p.setAttribute('class', cls);
        p.setAttribute('points', run.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' '));
        kids.push(p);
      }
      run = [];
    };
    for (const s of list) {
      if (s[key] == null) flush();
      else run.push([x(s.t), y(s[key])]);
    }
    flush();
  }
  svg.replaceChildren(...kids);
}

function renderCharts() {
  const list = samples.get(service) || [];
  chart('chart-weight', list, [{ key: 'weight', cls: 'line-new' }], 100, '%');
  const ticks = marks.get(service) || [];
  const err = [
    { key: 'errNew', cls: 'line-new' },
    { key: 'errOld', cls: 'line-old' },
    { key: 'aErrNew', cls: 'line-window' },
  ];
  const p95 = [
    { key: 'p95New', cls: 'line-new' },
    { key: 'p95Old', cls: 'line-old' },
    { key: 'aP95New', cls: 'line-window' },
  ];
  chart('chart-err', list, err, 5, '%', ticks);
  chart('chart-p95', list, p95, 10, 'ms', ticks);
  const s = list.at(-1);
  $('chart-weight-now').textContent = s ? `now ${s.weight} %` : 'no deploy data yet';
  $('chart-err-now').textContent = s
    ? `new ${pct(s.errNew)}, old ${pct(s.errOld)} (analysis window: new ${pct(s.aErrNew)})`
    : '';
  $('chart-p95-now').textContent = s
    ? `new ${ms(s.p95New)}, old ${ms(s.p95Old)} (analysis window: new ${ms(s.aP95New)})`
    : '';
  $('chart-err').dataset.new = s && s.errNew != null ? s.errNew.toFixed(1) : '';
}

function renderReleases() {
  const tbody = $('dep-releases').querySelector('tbody');
  tbody.replaceChildren(
    ...releases.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.release = String(r.number);
      const cells = [
        `r${r.number}`, r.version || '', r.strategy || '', r.status || '', r.reason || '',
        r.created_ms ? new Date(r.created_ms).toLocaleString() : '',
      ];
      cells.forEach((text, i) => {
        const c = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) c.scope = 'row';
        if (i === 3) c.className = `rel-${text}`;
        c.textContent = text;
        tr.append(c);
      });
      return tr;
    }),
  );
  for (const [id, pick] of [['diff-a', 1], ['diff-b', 0]]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(
      ...releases.map((r) => new Option(`r${r.number}${r.version ? ` (${r.version})` : ''}`, String(r.number))),
    );
    if (releases.some((r) => String(r.number) === keep)) select.value = keep;
    else if (releases[pick]) select.value = String(releases[pick].number);
  }
}

// --- Spec diff -----------------------------------------------------------------------------

// Lines of `a` and `b` as [' ' | '-' | '+', line], by their longest common subsequence.
export function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push([' ', a[i]]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(['-', a[i++]]);
    else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}

// The spec as sorted, indented JSON lines (so a diff lines up key by key).
function specLines(spec) {
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(spec ?? {}), null, 2).split('\n').slice(0, 2000);
}

$('diff-go').addEventListener('click', () => {
  const a = releases.find((r) => String(r.number) === $('diff-a').value);
  const b = releases.find((r) => String(r.number) === $('diff-b').value);
  const pre = $('dep-diff');
  pre.hidden = false;
  if (!a || !b) {
    pre.textContent = 'Pick two releases.';
    return;
  }
  const d = diffLines(specLines(a.spec), specLines(b.spec));
  const changed = d.filter(([k]) => k !== ' ').length;
  const head = document.createElement('span');
  head.className = 'diff-head';
  head.textContent = `r${a.number} → r${b.number}: ${changed} line(s) differ`;
  pre.replaceChildren(
    head,
    ...d
      // Unchanged lines far from a change are left out.
      .filter(([k], i) => k !== ' ' || d.slice(Math.max(0, i - 2), i + 3).some(([x]) => x !== ' '))
      .map(([k, line]) => {
        const span = document.createElement('span');
        span.className = k === '+' ? 'diff-add' : k === '-' ? 'diff-del' : 'diff-same';
        span.textContent = `${k} ${line}`;
        return span;
      }),
  );
});

// --- Actions -------------------------------------------------------------------------------

// The dialog: resolves with its fields on confirm, null on cancel. `kind`: deploy | reason | plain.
const DIALOG = { dialog: 'dep-dialog', title: 'dep-dialog-title', text: 'dep-dialog-text', ok: 'dep-ok' };
function ask(title, text, okLabel, kind) {
  $('dep-dialog-error').textContent = '';
  return confirmDialog(
    DIALOG,
    {
      title,
      text,
      ok: okLabel,
      groups: { 'dep-deploy-fields': kind === 'deploy', 'dep-reason-fields': kind === 'reason' },
      clear: ['dep-version', 'dep-strategy', 'dep-env', 'dep-reason'],
    },
    () => ({
      version: $('dep-version').value.trim(),
      strategy: $('dep-strategy').value,
      env: $('dep-env').value,
      reason: $('dep-reason').value.trim(),
    }),
  );
}

// NAME=value lines → an object; throws with the line that is not one.
function parseEnv(text) {
  const env = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`environment line ${i + 1}: expected NAME=value`);
    env[m[1]] = m[2];
  });
  return env;
}

async function act(label, fn) {
  busy = true;
  renderButtons();
  try {
    say(await fn());
  } catch (e) {
    if (e.status === 401) return ctx.onLoggedOut();
    say(`${label} failed: ${e.message}`);
  } finally {
    busy = false;
    renderButtons();
    refreshReleases();
  }
}

$('dep-deploy').addEventListener('click', async () => {
  const svc = service;
  const f = await ask(
    `Deploy ${svc}?`,
    `Deploys ${svc} from the project's files as the daemon last loaded them, as slipway deploy does.`,
    'Deploy',
    'deploy',
  );
  if (!f) return;
  let env;
  try {
    env = parseEnv(f.env);
  } catch (e) {
    say(`Deploy of ${svc} not started: ${e.message}`);
    return;
  }
  say(`Deploying ${svc}…`);
  await act(`Deploy of ${svc}`, async () => {
    const load = await api('/api/v1/project/load');
    const body = {
      load: {
        files: load.files,
        working_dir: load.working_dir,
        env_files: load.env_files,
        profiles: load.profiles,
        project_name: load.project_name,
        env: load.env,
      },
      // The environment the running project was loaded with (a browser has no shell).
      reuse_environ: true,
      services: [svc],
      version: f.version,
      env,
    };
    if (f.strategy) body.strategy = f.strategy;
    const r = await api('/api/v1/deploy', { method: 'POST', body });
    const rel = (r.releases || []).map((x) => `r${x.number}${x.version ? ` (${x.version})` : ''}`);
    return `Deployed ${svc}: ${rel.join(', ') || 'nothing changed'}`;
  });
});

for (const verb of ['pause', 'resume']) {
  $(`dep-${verb}`).addEventListener('click', async () => {
    const svc = service;
    const Verb = verb === 'pause' ? 'Pause' : 'Resume';
    const f = await ask(
      `${Verb} the deploy of ${svc}?`,
      verb === 'pause'
        ? 'Both sets keep running and the traffic keeps its weights until it is resumed or rolled back.'
        : 'The deploy goes on from the step where it held.',
      Verb,
      'reason',
    );
    if (!f) return;
    const body = f.reason ? { reason: f.reason } : {};
    await act(`${Verb} of ${svc}`, async () => {
      const r = await api(`/api/v1/deploy/${encodeURIComponent(svc)}/${verb}`, { method: 'POST', body });
      return `${verb === 'pause' ? 'Paused' : 'Resumed'} the deploy of ${svc}${r.release ? ` (r${r.release}, ${r.state})` : ''}`;
    });
  });
}

$('dep-promote').addEventListener('click', async () => {
  const svc = service;
  const f = await ask(
    `Promote the deploy of ${svc}?`,
    'Skips the rest of the judging and of the canary steps: the new set takes all the traffic now and becomes primary.',
    'Promote',
    'reason',
  );
  if (!f) return;
  const body = f.reason ? { reason: f.reason } : {};
  await act(`Promote of ${svc}`, async () => {
    const r = await api(`/api/v1/deploy/${encodeURIComponent(svc)}/promote`, { method: 'POST', body });
    return `Promoted the deploy of ${svc}${r.release ? ` (r${r.release})` : ''}`;
  });
});

$('dep-rollback').addEventListener('click', async () => {
  const svc = service;
  const f = await ask(
    `Roll back ${svc}?`,
    job
      ? `Rolls back the running deploy of ${svc} (r${job.release}), as slipway rollback does.`
      : `Rolls ${svc} back to its previous release, as slipway rollback does.`,
    'Roll back',
    'plain',
  );
  if (!f) return;
  say(`Rolling back ${svc}…`);
  await act(`Rollback of ${svc}`, async () => {
    const r = await api('/api/v1/rollback', { method: 'POST', body: { service: svc } });
    return `Rolled back ${svc}: ${(r.releases || []).map((x) => `r${x.number}`).join(', ')}`;
  });
});
