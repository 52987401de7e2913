// The alerts view: firing and pending alerts (a silenced one marked so), the recent history
// of state changes, every rule with its state, and the silences, from GET /api/v1/alerts and
// GET /api/v1/silences every 3 s while the view is shown. Deployers and admins may add a
// silence (POST /api/v1/silences, from a dialog) and expire one (DELETE
// /api/v1/silences/{id}, confirmed first).
import { api } from './api.js';
import { button, confirmDialog } from './dom.js';

const $ = (id) => document.getElementById(id);

let ctx = null;
let generation = 0;
let timer = null;
let shownJson = '';

export function start(c) {
  ctx = c;
  generation += 1;
  shownJson = '';
  refresh(generation);
}

export function stop() {
  generation += 1;
  if (timer) clearTimeout(timer);
  timer = null;
}

async function refresh(gen) {
  if (gen !== generation) return;
  try {
    const [a, s] = await Promise.all([api('/api/v1/alerts'), api('/api/v1/silences')]);
    if (gen !== generation) return;
    const text = JSON.stringify([a.alerts, a.history, a.rules, s.silences]);
    if (text !== shownJson) {
      shownJson = text;
      render(a);
      renderSilences(s.silences || []);
    }
    $('silence-new').hidden = !ctx.canDeploy;
    $('alerts-status').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (gen !== generation) return;
    if (e.status === 401) return ctx.onLoggedOut();
    $('alerts-status').textContent = `Could not read the alerts: ${e.message}`;
  }
  timer = setTimeout(() => refresh(gen), 3000);
}

function cell(tag, text, cls) {
  const c = document.createElement(tag);
  c.textContent = text;
  if (cls) c.className = cls;
  if (tag === 'th') c.scope = 'row';
  return c;
}

function labelsText(labels) {
  return Object.entries(labels || {})
    .filter(([k]) => k !== 'alertname')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function valueText(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v ?? '');
}

function time(ms) {
  return ms ? new Date(ms).toLocaleString() : '–';
}

function durationText(ms) {
  if (!ms) return '0s';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function render(a) {
  const active = (a.alerts || []).filter((x) => x.state === 'firing' || x.state === 'pending');
  active.sort((x, y) => (x.state === y.state ? x.rule.localeCompare(y.rule) : x.state === 'firing' ? -1 : 1));
  $('alerts-active').querySelector('tbody').replaceChildren(
    ...active.map((x) => {
      const tr = document.createElement('tr');
      tr.dataset.rule = x.rule;
      tr.dataset.state = x.state;
      const silenced = (x.silenced_by || []).length > 0;
      if (silenced) tr.dataset.silenced = 'true';
      tr.append(
        cell('th', x.rule),
        cell('td', silenced ? `${x.state} (silenced)` : x.state, `state-${x.state}`),
        cell('td', labelsText(x.labels)),
        cell('td', (x.annotations && (x.annotations.summary || x.annotations.description)) || ''),
        cell('td', time(x.state === 'firing' ? x.fired_ms : x.active_ms)),
        cell('td', valueText(x.value), 'num'),
      );
      return tr;
    }),
  );
  $('alerts-active').hidden = active.length === 0;
  $('alerts-none').hidden = active.length !== 0;

  const history = [...(a.history || [])].sort((x, y) => y.t - x.t).slice(0, 100);
  $('alerts-history').querySelector('tbody').replaceChildren(
    ...history.map((h) => {
      const tr = document.createElement('tr');
      tr.dataset.rule = h.rule;
      tr.append(
        cell('td', time(h.t)),
        cell('th', h.rule),
        cell('td', h.state, `state-${h.state}`),
        cell('td', labelsText(h.labels)),
        cell('td', valueText(h.value), 'num'),
      );
      return tr;
    }),
  );

  $('alerts-rules').querySelector('tbody').replaceChildren(
    ...(a.rules || [])
      .filter((r) => r.type === 'alerting')
      .map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.rule = r.name;
        const expr = document.createElement('code');
        expr.className = 'expr';
        expr.textContent = r.expr;
        const exprCell = document.createElement('td');
        exprCell.append(expr);
        tr.append(
          cell('th', r.builtin ? `${r.name} (built-in)` : r.name),
          cell('td', r.state, `state-${r.state}`),
          exprCell,
          cell('td', durationText(r.for_ms)),
          cell('td', r.last_error || '', r.last_error ? 'error' : ''),
        );
        return tr;
      }),
  );
}

function renderSilences(silences) {
  const shown = silences.filter((x) => x.state !== 'expired' || Date.now() - x.ends_ms < 3600 * 1000);
  $('alerts-silences').querySelector('tbody').replaceChildren(
    ...shown.map((x) => {
      const tr = document.createElement('tr');
      tr.dataset.silence = x.id;
      tr.dataset.state = x.state;
      const actions = document.createElement('td');
      if (ctx.canDeploy && x.state !== 'expired') {
        actions.append(button('Expire', `Expire silence ${(x.matchers || []).join(', ')}`, () => expire(x)));
      }
      tr.append(
        cell('th', (x.matchers || []).join(', ')),
        cell('td', x.state),
        cell('td', time(x.ends_ms)),
        cell('td', x.created_by || ''),
        cell('td', x.comment || ''),
        actions,
      );
      return tr;
    }),
  );
  $('alerts-silences').hidden = shown.length === 0;
  $('silences-none').hidden = shown.length !== 0;
}

const CONFIRM = { dialog: 'confirm', title: 'confirm-title', text: 'confirm-text', ok: 'confirm-ok' };
const SILENCE = {
  dialog: 'silence-dialog',
  title: 'silence-dialog-title',
  text: 'silence-dialog-text',
  ok: 'silence-ok',
};

async function expire(x) {
  const ok = await confirmDialog(
    CONFIRM,
    {
      title: 'Expire this silence?',
      text: `Alerts matching ${(x.matchers || []).join(', ')} notify again from now on.`,
      ok: 'Expire',
      groups: { 'deploy-fields': false },
    },
    () => true,
  );
  if (!ok) return;
  try {
    await api(`/api/v1/silences/${encodeURIComponent(x.id)}`, { method: 'DELETE' });
    $('silences-error').textContent = '';
  } catch (e) {
    if (e.status === 401) return ctx.onLoggedOut();
    $('silences-error').textContent = `Could not expire the silence: ${e.message}`;
  }
  shownJson = '';
}

async function newSilence() {
  const fields = await confirmDialog(
    SILENCE,
    {
      title: 'New silence',
      text: 'Alerts matching every matcher are listed but not notified until the silence ends.',
      ok: 'Silence',
      clear: ['silence-matchers', 'silence-comment'],
    },
    () => ({
      matchers: $('silence-matchers')
        .value.split('\n')
        .map((m) => m.trim())
        .filter((m) => m),
      duration: $('silence-duration').value.trim() || '2h',
      comment: $('silence-comment').value.trim(),
    }),
  );
  if (!fields) return;
  try {
    await api('/api/v1/silences', { method: 'POST', body: { ...fields, by: ctx.who || undefined } });
    $('silences-error').textContent = '';
  } catch (e) {
    if (e.status === 401) return ctx.onLoggedOut();
    $('silences-error').textContent = `Could not add the silence: ${e.message}`;
  }
  shownJson = '';
}

$('silence-new').addEventListener('click', () => newSilence());
