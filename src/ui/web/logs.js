// The logs view: every service's output, followed live, searched and filtered by service,
// instance, level and time. GET /api/v1/logs?tail=…&follow=1 streams the kept lines and then
// each new one (newline-delimited JSON); when the stream ends or breaks the page asks again
// from the last line's time after 2 s. The page keeps at most MAX_LINES lines (the oldest go
// first) and renders only the rows in sight (a virtual list of fixed-height rows), so 100k
// lines neither freeze it nor grow it without end. Filtering runs over the kept lines; new
// lines are appended in batches (every 100 ms), and the list sticks to the bottom while it is
// scrolled there. The level is read from the text (error/warn/info/debug words), stderr lines
// without one count as warnings. Read-only: nothing here changes anything.
const $ = (id) => document.getElementById(id);
export const MAX_LINES = 100000;
const ROW = 20; // px, as .log-row in app.css
const OVERSCAN = 20;

let ctx = { onLoggedOut: () => {} };
let generation = 0;
let abort = null;
let retry = null;
let flushTimer = null;
let lines = []; // kept, oldest first
let shown = []; // those the filters let through, in order
let pending = []; // arrived, not yet added
let counter = 0;
let lastT = 0;
let stick = true; // the list is scrolled to its end: new lines keep it there
const instances = new Set();
const services = new Set();
let filter = { text: '', service: '', instance: '', level: '', since: 0 };

export function start(c) {
  ctx = c;
  generation += 1;
  if ($('log-follow').checked) follow(generation);
  else if (!lines.length) follow(generation, false);
  renderRows();
}

export function stop() {
  generation += 1;
  if (abort) abort.abort();
  abort = null;
  if (retry) clearTimeout(retry);
  retry = null;
}

function levelOf(text, stderr) {
  if (/\b(error|err|fatal|panic|critical)\b/i.test(text)) return 'error';
  if (/\bwarn(ing)?\b/i.test(text)) return 'warn';
  if (/\b(debug|trace)\b/i.test(text)) return 'debug';
  if (/\binfo\b/i.test(text)) return 'info';
  return stderr ? 'warn' : 'info';
}

// Reads the stream; `live`: follow it (else the kept lines only, once).
async function follow(gen, live = true) {
  const q = new URLSearchParams({ tail: String(MAX_LINES) });
  if (live) q.set('follow', '1');
  if (lastT) q.set('since', String(lastT + 1));
  const controller = new AbortController();
  abort = controller;
  let ended = 'the stream ended';
  try {
    const r = await fetch(`/api/v1/logs?${q}`, {
      credentials: 'same-origin',
      cache: 'no-store',
      signal: controller.signal,
      headers: { Accept: 'application/x-ndjson' },
    });
    if (r.status === 401) return ctx.onLoggedOut();
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try {
        msg = (await r.json()).error || msg;
      } catch {
        // Not JSON: the status says it.
      }
      throw new Error(msg);
    }
    setMode(live ? 'following' : 'loaded');
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gen !== generation) break;
      rest += decoder.decode(value, { stream: true });
      const parts = rest.split('\n');
      rest = parts.pop();
      for (const part of parts) if (part) take(part);
    }
    if (rest) take(rest);
  } catch (e) {
    if (controller.signal.aborted) return;
    ended = e.message;
  } finally {
    if (abort === controller) abort = null;
  }
  if (gen !== generation || !live) return;
  setMode(`reconnecting (${ended})`);
  retry = setTimeout(() => follow(gen), 2000);
}

function take(json) {
  let l = null;
  try {
    l = JSON.parse(json);
  } catch {
    return;
  }
  if (!l || typeof l.text !== 'string') return; // e.g. {"dropped": …}: the reconnect catches up
  const line = {
    n: ++counter,
    t: Number(l.t) || 0,
    service: String(l.service || ''),
    instance: Number(l.instance) || 0,
    stderr: !!l.stderr,
    text: l.text,
  };
  line.level = levelOf(line.text, line.stderr);
  line.lower = line.text.toLowerCase();
  pending.push(line);
  if (pending.length >= 20000) flush();
  else if (!flushTimer) flushTimer = setTimeout(flush, 100);
}

function setMode(text) {
  $('log-count').dataset.mode = text;
  renderCount();
}

function matches(l) {
  const f = filter;
  if (f.service && l.service !== f.service) return false;
  if (f.instance && `${l.service}.${l.instance}` !== f.instance) return false;
  if (f.level && l.level !== f.level) return false;
  if (f.since && l.t < Date.now() - f.since * 1000) return false;
  if (f.text && !l.lower.includes(f.text)) return false;
  return true;
}

function flush() {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = null;
  if (!pending.length) return;
  const batch = pending;
  pending = [];
  let newOptions = false;
  for (const l of batch) {
    lines.push(l);
    if (l.t > lastT) lastT = l.t;
    if (!services.has(l.service)) {
      services.add(l.service);
      newOptions = true;
    }
    const inst = `${l.service}.${l.instance}`;
    if (!instances.has(inst)) {
      instances.add(inst);
      newOptions = true;
    }
    if (matches(l)) shown.push(l);
  }
  if (lines.length > MAX_LINES) {
    const drop = lines.length - MAX_LINES;
    const firstKept = lines[drop].n;
    lines = lines.slice(drop);
    let k = 0;
    while (k < shown.length && shown[k].n < firstKept) k++;
    if (k) shown = shown.slice(k);
  }
  if (newOptions) renderOptions();
  renderRows();
}

function renderOptions() {
  for (const [id, set] of [['log-service', services], ['log-instance', instances]]) {
    const select = $(id);
    const keep = select.value;
    const names = [...set].sort();
    select.replaceChildren(new Option('all', ''), ...names.map((n) => new Option(n, n)));
    select.value = keep;
  }
}

function refilter() {
  filter = {
    text: $('log-search').value.trim().toLowerCase(),
    service: $('log-service').value,
    instance: $('log-instance').value,
    level: $('log-level').value,
    since: Number($('log-since').value) || 0,
  };
  shown = lines.filter(matches);
  stick = true;
  renderRows();
}

function renderCount() {
  const mode = $('log-count').dataset.mode || '';
  $('log-count').textContent =
    `Showing ${shown.length} of ${lines.length} lines (the page keeps the last ` +
    `${MAX_LINES.toLocaleString('en')} lines)${mode ? `; ${mode}` : ''}`;
  $('log-count').dataset.shown = String(shown.length);
}

const pad = (n) => String(n).padStart(2, '0');
function clock(t) {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

// Only the rows in sight (and OVERSCAN either side) are elements.
function renderRows() {
  const list = $('log-list');
  $('log-spacer').style.height = `${shown.length * ROW}px`;
  if (stick) list.scrollTop = list.scrollHeight;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW) - OVERSCAN);
  const count = Math.ceil((list.clientHeight || 600) / ROW) + 2 * OVERSCAN;
  const rows = $('log-rows');
  rows.style.transform = `translateY(${first * ROW}px)`;
  const end = Math.min(shown.length, first + count);
  const kids = [];
  for (let i = first; i < end; i++) {
    const l = shown[i];
    const div = document.createElement('div');
    div.className = `log-row lvl-${l.level}`;
    div.dataset.n = String(l.n);
    const t = document.createElement('time');
    t.textContent = clock(l.t);
    const src = document.createElement('span');
    src.className = 'src';
    src.textContent = ` ${l.service}.${l.instance}${l.stderr ? ' !' : ''} `;
    div.append(t, src, l.text);
    kids.push(div);
  }
  rows.replaceChildren(...kids);
  rows.dataset.first = String(first);
  renderCount();
}

let scrollQueued = false;
$('log-list').addEventListener('scroll', () => {
  const list = $('log-list');
  stick = list.scrollTop + list.clientHeight >= list.scrollHeight - ROW;
  if (scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(() => {
    scrollQueued = false;
    renderRows();
  });
});

let searchTimer = null;
$('log-search').addEventListener('input', () => {
  if (searchTimer) clearTimeout(searchTimer);
  searchTimer = setTimeout(refilter, 150);
});
for (const id of ['log-service', 'log-instance', 'log-level', 'log-since']) {
  $(id).addEventListener('change', refilter);
}
$('log-follow').addEventListener('change', (ev) => {
  stop();
  generation += 1;
  if (ev.target.checked) {
    stick = true;
    follow(generation);
  } else {
    setMode('paused (not following)');
  }
});
