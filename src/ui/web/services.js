// The services view: one row per service (instances, state, health, release, req/s, 5xx
// share, p95, CPU, memory, restarts), live from the daemon's event stream
// (GET /api/v1/events/stream, the `ps` rows whenever they change); p95, CPU and memory from the
// series store's query API every 5 s. If the stream fails or the daemon drops it, the view
// polls GET /api/v1/ps every second and tries the stream again after 10 s. Sortable by any
// column. Deployers and admins get deploy and rollback buttons (confirmed in a dialog) that
// call the same routes as `slipway deploy` and `slipway rollback`; viewers get none.
import { api } from './api.js';
import { $, button, confirmDialog } from './dom.js';

const P95 =
  'histogram_quantile(0.95, sum by (route, le) (rate(slipway_http_request_duration_seconds_bucket[1m])))';
const CPU = 'sum by (service) (rate(slipway_instance_cpu_seconds_total[1m]))';
const MEM = 'sum by (service) (slipway_instance_memory_rss_bytes)';

let timer = null;
let source = null; // the EventSource while the stream is up
let metrics = { p95: null, cpu: null, mem: null };
let metricsAt = 0;
let lastPs = [];
let generation = 0;
let options = { admin: false, onLoggedOut: () => {} };
let sortKey = 'service';
let sortDir = 1;
const rows = new Map(); // service → <tr>
const versions = new Map(); // "service/number" → version label
const current = new Map(); // service → its latest succeeded release
let releasesAt = 0; // when the release history was last asked (ms)
let last = [];

export function startServices(opts) {
  options = opts;
  generation += 1;
  rows.clear();
  releasesAt = 0;
  metricsAt = 0;
  $('services').querySelector('tbody').replaceChildren();
  document.querySelector('th.actions-col').hidden = !opts.admin;
  live(generation);
}

export function stopServices() {
  generation += 1;
  if (timer) clearTimeout(timer);
  timer = null;
  if (source) source.close();
  source = null;
}

// The stream: every `ps` event is a whole snapshot of the rows.
function live(gen) {
  if (gen !== generation) return;
  if (typeof EventSource === 'undefined') return tick(gen);
  const es = new EventSource('/api/v1/events/stream');
  source = es;
  let opened = false;
  const fallBack = () => {
    es.close();
    if (source === es) source = null;
    if (gen !== generation) return;
    // Polling until the stream is tried again: a 401 there sends the page to the login.
    tick(gen);
    setTimeout(() => {
      if (gen !== generation) return;
      if (timer) clearTimeout(timer);
      timer = null;
      live(gen);
    }, 10000);
  };
  es.addEventListener('open', () => {
    opened = true;
    $('updated').dataset.mode = 'live';
  });
  es.addEventListener('ps', (ev) => {
    let ps = null;
    try {
      ps = JSON.parse(ev.data);
    } catch {
      return;
    }
    update(gen, ps, 'live');
  });
  es.addEventListener('dropped', fallBack);
  es.addEventListener('error', () => {
    // EventSource retries by itself after a network hiccup; a refused or ended stream falls
    // back to polling.
    if (!opened || es.readyState === EventSource.CLOSED) fallBack();
    else if (es.readyState === EventSource.CONNECTING) $('updated').dataset.mode = 'reconnecting';
  });
}

// True when it asked (at most every 5 s).
async function refreshMetrics() {
  if (Date.now() - metricsAt < 5000) return false;
  metricsAt = Date.now();
  const q = (expr) => api('/api/v1/query?query=' + encodeURIComponent(expr)).catch(() => null);
  const [p95, cpu, mem] = await Promise.all([q(P95), q(CPU), q(MEM)]);
  metrics = { p95, cpu, mem };
  return true;
}

// The rows are drawn from each `ps` at once, with the metrics and release labels last known;
// those are asked for beside it (one round at a time) and the rows drawn again when they came,
// so a slow query never holds back what the stream said.
async function update(gen, ps, mode) {
  lastPs = ps;
  draw(gen, mode);
  enrich(gen, mode);
}

function draw(gen, mode) {
  if (gen !== generation) return;
  last = summarize(lastPs, metrics);
  applyReleases(last);
  render(last);
  $('updated').dataset.mode = mode;
  $('updated').textContent = `Updated ${new Date().toLocaleTimeString()} (${mode})`;
}

let enriching = false;
async function enrich(gen, mode) {
  if (enriching) return;
  enriching = true;
  try {
    const [m, r] = await Promise.all([refreshMetrics(), refreshReleases()]);
    if (m || r) draw(gen, mode);
  } catch (e) {
    if (e.status === 401) return options.onLoggedOut();
    $('updated').textContent = `Update failed: ${e.message}`;
  } finally {
    enriching = false;
  }
}

async function tick(gen) {
  if (gen !== generation) return;
  try {
    const ps = await api('/api/v1/ps');
    if (gen !== generation) return;
    await update(gen, ps, 'polling');
  } catch (e) {
    if (e.status === 401) return options.onLoggedOut();
    $('updated').textContent = `Update failed: ${e.message}`;
  }
  if (gen === generation && !source) timer = setTimeout(() => tick(gen), 1000);
}

function countText(values) {
  const counts = new Map();
  for (const v of values) if (v) counts.set(v, (counts.get(v) || 0) + 1);
  if (counts.size <= 1) return [...counts.keys()][0] || '';
  return [...counts].map(([v, n]) => `${n} ${v}`).join(', ');
}

// service → value of an instant query's vector (`label` names the service).
function vectorBy(answer, label) {
  const out = new Map();
  for (const s of (answer && answer.data && answer.data.result) || []) {
    const v = Number(s.value && s.value[1]);
    if (Number.isFinite(v)) out.set(s.metric[label], v);
  }
  return out;
}

function summarize(ps, m) {
  const cpu = vectorBy(m.cpu, 'service');
  const mem = vectorBy(m.mem, 'service');
  const byService = new Map();
  for (const r of ps || []) {
    if (!byService.has(r.service)) byService.set(r.service, []);
    byService.get(r.service).push(r);
  }
  const latency = vectorBy(m.p95, 'route');
  return [...byService].map(([service, rs]) => {
    const live = rs.filter((r) => r.instance > 0);
    return {
      service,
      instances: live.filter((r) => r.state === 'running').length,
      total: live.length,
      state: countText(rs.map((r) => r.state)),
      health: countText(rs.map((r) => r.health)),
      release: Math.max(0, ...rs.map((r) => r.release || 0)),
      rps: rs[0].requests_per_second ?? null,
      err: rs[0].error_ratio ?? null,
      p95: latency.has(service) ? latency.get(service) : null,
      cpu: cpu.has(service) ? cpu.get(service) : null,
      mem: mem.has(service) ? mem.get(service) : null,
      restarts: rs.reduce((n, r) => n + (r.restarts || 0), 0),
    };
  });
}

// The release each service runs, from the release history: `ps` numbers a service's instance
// groups, which a recreate deploy restarts in place, so its number can lag behind. Asked every
// 5 s, and at once after a deploy or rollback from this page.
async function refreshReleases() {
  if (Date.now() - releasesAt < 5000) return false;
  releasesAt = Date.now();
  let rels;
  try {
    // Every service's last five in one answer (not one request per service).
    rels = await api('/api/v1/releases?per_service=5');
  } catch (e) {
    if (e.status === 401) throw e;
    return false; // the history is a nicety: the number from ps still shows
  }
  const done = new Map();
  for (const r of rels) {
    versions.set(`${r.service}/${r.number}`, r.version || '');
    if (r.status === 'succeeded') done.set(r.service, Math.max(done.get(r.service) || 0, r.number));
  }
  for (const [service, number] of done) current.set(service, number);
  return true;
}

function applyReleases(list) {
  for (const s of list) s.release = Math.max(s.release, current.get(s.service) || 0);
}

const fmt = {
  instances: (s) => (s.total ? `${s.instances}/${s.total}` : '–'),
  release: (s) => {
    if (!s.release) return '–';
    const label = versions.get(`${s.service}/${s.release}`);
    return label ? `r${s.release} (${label})` : `r${s.release}`;
  },
  rps: (s) => (s.rps == null ? '–' : s.rps.toFixed(1)),
  err: (s) => (s.err == null ? '–' : `${(s.err * 100).toFixed(1)}%`),
  p95: (s) => (s.p95 == null ? '–' : `${(s.p95 * 1000).toFixed(0)} ms`),
  cpu: (s) => (s.cpu == null ? '–' : `${(s.cpu * 100).toFixed(1)}%`),
  mem: (s) => (s.mem == null ? '–' : `${(s.mem / 1048576).toFixed(1)} MiB`),
  restarts: (s) => String(s.restarts),
};
const COLUMNS = [
  'service', 'instances', 'state', 'health', 'release', 'rps', 'err', 'p95', 'cpu', 'mem', 'restarts',
];
const NUMERIC = new Set(['instances', 'release', 'rps', 'err', 'p95', 'cpu', 'mem', 'restarts']);

function compare(a, b) {
  const x = a[sortKey];
  const y = b[sortKey];
  if (x == null && y == null) return a.service.localeCompare(b.service);
  if (x == null) return 1;
  if (y == null) return -1;
  const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
  return c !== 0 ? c * sortDir : a.service.localeCompare(b.service);
}

function rowFor(s) {
  let tr = rows.get(s.service);
  if (tr) return tr;
  tr = document.createElement('tr');
  tr.dataset.service = s.service;
  for (const key of COLUMNS) {
    const cell = document.createElement(key === 'service' ? 'th' : 'td');
    if (key === 'service') cell.scope = 'row';
    if (NUMERIC.has(key)) cell.className = 'num';
    cell.dataset.key = key;
    tr.append(cell);
  }
  if (options.admin) {
    const td = document.createElement('td');
    td.append(
      button('Deploy', `Deploy ${s.service}`, () => confirmDeploy(s.service)),
      button('Roll back', `Roll back ${s.service}`, () => confirmRollback(s.service)),
    );
    tr.append(td);
  }
  rows.set(s.service, tr);
  return tr;
}

function render(list) {
  const tbody = $('services').querySelector('tbody');
  const sorted = [...list].sort(compare);
  const seen = new Set(sorted.map((s) => s.service));
  for (const [name, tr] of rows) {
    if (!seen.has(name)) {
      tr.remove();
      rows.delete(name);
    }
  }
  sorted.forEach((s, i) => {
    const tr = rowFor(s);
    for (const cell of tr.children) {
      const key = cell.dataset.key;
      if (!key) continue;
      const text = fmt[key] ? fmt[key](s) : s[key] || '–';
      if (cell.textContent !== text) cell.textContent = text;
      if (key === 'state' || key === 'health') cell.className = `${key}-${s[key]}`;
    }
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
  for (const th of document.querySelectorAll('#services thead th[data-key]')) {
    if (th.dataset.key === sortKey) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
}

for (const th of document.querySelectorAll('#services thead th[data-key]')) {
  th.querySelector('button').addEventListener('click', () => {
    const key = th.dataset.key;
    sortDir = key === sortKey ? -sortDir : 1;
    sortKey = key;
    render(last);
  });
}

// The confirmation dialog: resolves with the version label on confirm, null on cancel.
const CONFIRM = { dialog: 'confirm', title: 'confirm-title', text: 'confirm-text', ok: 'confirm-ok' };
function ask(title, text, okLabel, withVersion) {
  return confirmDialog(
    CONFIRM,
    { title, text, ok: okLabel, groups: { 'deploy-fields': withVersion }, clear: ['version'] },
    () => $('version').value.trim(),
  );
}

function say(text) {
  $('status').textContent = text;
}

async function confirmDeploy(service) {
  const version = await ask(
    `Deploy ${service}?`,
    `Deploys ${service} from the project's files as the daemon last loaded them, as slipway deploy does.`,
    'Deploy',
    true,
  );
  if (version === null) return;
  say(`Deploying ${service}…`);
  try {
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
      services: [service],
      version,
    };
    const r = await api('/api/v1/deploy', { method: 'POST', body });
    const rel = (r.releases || []).map((x) => `r${x.number}${x.version ? ` (${x.version})` : ''}`);
    say(`Deployed ${service}: ${rel.join(', ') || 'nothing changed'}`);
    releasesAt = 0;
  } catch (e) {
    say(`Deploy of ${service} failed: ${e.message}`);
  }
}

async function confirmRollback(service) {
  const ok = await ask(
    `Roll back ${service}?`,
    `Rolls ${service} back to its previous release, as slipway rollback does.`,
    'Roll back',
    false,
  );
  if (ok === null) return;
  say(`Rolling back ${service}…`);
  try {
    const r = await api('/api/v1/rollback', { method: 'POST', body: { service } });
    const rel = (r.releases || []).map((x) => `r${x.number}`);
    say(`Rolled back ${service}: ${rel.join(', ')}`);
    releasesAt = 0;
  } catch (e) {
    say(`Rollback of ${service} failed: ${e.message}`);
  }
}
