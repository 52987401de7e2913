// The flags view: every flag of an environment (state, variants, default variant, rollout,
// targeting, stale marker) from GET /api/v1/flags and /api/v1/flags/stale, refreshed every
// 5 s; enable/disable for deployers and admins; per flag its audit history and, for admins, a
// rollout slider whose preview (which of a few sample targeting keys get which variant) is
// evaluated by the daemon (GET /api/v1/flags/{key}/preview), never in this page. Errors are
// shown as the API words them. Viewers get no buttons; the API refuses them anyway. Edits send
// no actor: the history names the logged-in user (the session the daemon knows).
import { api } from './api.js';
import { $, button } from './dom.js';

const enc = encodeURIComponent;

let ctx = null;
let generation = 0;
let timer = null;
let env = '';
let shownJson = '';
let selected = null; // the key whose detail is open
let previewTimer = null;
let previewGen = 0;
let pollSeq = 0; // only the latest refresh schedules the next one

export function start(c) {
  ctx = c;
  generation += 1;
  shownJson = '';
  closeDetail();
  loadEnvironments(generation);
}

export function stop() {
  generation += 1;
  if (timer) clearTimeout(timer);
  timer = null;
  clearTimeout(previewTimer);
}

function say(text) {
  $('flags-status').textContent = text;
}

function failed(e) {
  if (e.status === 401) ctx.onLoggedOut();
  return e.message;
}

async function loadEnvironments(gen) {
  try {
    const r = await api('/api/v1/flags/environments');
    if (gen !== generation) return;
    const names = r.environments.length ? r.environments : [r.default];
    if (!env || !names.includes(env)) env = names.includes(r.default) ? r.default : names[0];
    const sel = $('flags-env');
    sel.replaceChildren(
      ...names.map((n) => {
        const o = document.createElement('option');
        o.value = n;
        o.textContent = n;
        o.selected = n === env;
        return o;
      }),
    );
  } catch (e) {
    say(`Could not list environments: ${failed(e)}`);
  }
  refresh(gen);
}

$('flags-env').addEventListener('change', () => {
  env = $('flags-env').value;
  shownJson = '';
  closeDetail();
  refresh(generation);
});

async function refresh(gen) {
  if (gen !== generation) return;
  if (timer) clearTimeout(timer);
  timer = null;
  const seq = ++pollSeq;
  try {
    const [list, stale] = await Promise.all([
      api(`/api/v1/flags?env=${enc(env)}`),
      api(`/api/v1/flags/stale?env=${enc(env)}`),
    ]);
    if (gen !== generation) return;
    const staleBy = new Map(stale.flags.map((s) => [s.key, s.why]));
    const text = JSON.stringify([list.flags, [...staleBy]]);
    if (text !== shownJson) {
      shownJson = text;
      render(list.flags, staleBy);
    }
  } catch (e) {
    if (gen === generation) say(`Could not list flags: ${failed(e)}`);
  }
  if (gen === generation && seq === pollSeq) timer = setTimeout(() => refresh(gen), 5000);
}

// The fractional split inside a targeting rule, if any: [[variant, weight], ...].
function findFractional(rule) {
  if (Array.isArray(rule)) {
    for (const r of rule) {
      const f = findFractional(r);
      if (f) return f;
    }
  } else if (rule && typeof rule === 'object') {
    if (Array.isArray(rule.fractional)) return rule.fractional.filter(Array.isArray);
    for (const v of Object.values(rule)) {
      const f = findFractional(v);
      if (f) return f;
    }
  }
  return null;
}

function rolloutText(def) {
  const f = findFractional(def.targeting);
  if (!f) return '–';
  const total = f.reduce((n, b) => n + (Number(b[b.length - 1]) || 0), 0) || 1;
  return f.map((b) => `${b[0]} ${Math.round((100 * (Number(b[b.length - 1]) || 0)) / total)}%`).join(', ');
}

function targetingText(def) {
  const t = def.targeting;
  if (!t || (typeof t === 'object' && Object.keys(t).length === 0)) return 'none';
  const s = JSON.stringify(t);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

// The percentage of the on variant now (what the slider starts from).
function currentPercent(def) {
  const f = findFractional(def.targeting);
  if (!f || !f.length) return 0;
  const total = f.reduce((n, b) => n + (Number(b[b.length - 1]) || 0), 0) || 1;
  return Math.round((100 * (Number(f[0][f[0].length - 1]) || 0)) / total);
}

function td(text, cls) {
  const c = document.createElement('td');
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}

function render(flags, staleBy) {
  const tbody = $('flags').querySelector('tbody');
  const rows = flags.map((f) => {
    const def = f.definition || {};
    const tr = document.createElement('tr');
    tr.dataset.flag = f.key;
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = f.key;
    const enabled = def.state !== 'DISABLED';
    tr.append(
      name,
      td(enabled ? 'enabled' : 'disabled', enabled ? 'state-running' : 'state-failed'),
      td(Object.keys(def.variants || {}).join(', ')),
      td(def.defaultVariant == null ? '(none)' : String(def.defaultVariant)),
      td(rolloutText(def)),
      td(targetingText(def)),
      td(staleBy.has(f.key) ? staleBy.get(f.key) : '', staleBy.has(f.key) ? 'stale' : ''),
    );
    tr.children[1].dataset.key = 'state';
    const actions = document.createElement('td');
    if (ctx.canDeploy) {
      actions.append(
        enabled
          ? button('Disable', `Disable ${f.key}`, () => toggle(f.key, false))
          : button('Enable', `Enable ${f.key}`, () => toggle(f.key, true)),
      );
    }
    actions.append(button('Details', `Details of ${f.key}`, () => openDetail(f)));
    tr.append(actions);
    return tr;
  });
  tbody.replaceChildren(...rows);
  if (!flags.length) say(`No flags in environment ${env}.`);
  if (selected) {
    const f = flags.find((x) => x.key === selected);
    if (f) loadHistory(f.key, generation);
    else closeDetail();
  }
}

async function toggle(key, on) {
  say(`${on ? 'Enabling' : 'Disabling'} ${key}…`);
  try {
    await api(`/api/v1/flags/${enc(key)}/${on ? 'enable' : 'disable'}`, {
      method: 'POST',
      body: { env },
    });
    say(`${key} ${on ? 'enabled' : 'disabled'} in ${env}.`);
  } catch (e) {
    say(`${on ? 'Enable' : 'Disable'} of ${key} failed: ${failed(e)}`);
  }
  shownJson = '';
  refresh(generation);
}

function closeDetail() {
  selected = null;
  $('flag-detail').hidden = true;
}

function openDetail(f) {
  selected = f.key;
  const def = f.definition || {};
  $('flag-detail').hidden = false;
  $('flag-detail-title').textContent = `${f.key} (${env})`;
  const pct = currentPercent(def);
  $('rollout-percent').value = String(pct);
  $('rollout-value').textContent = `${pct}%`;
  // The slider and its apply are admin tools (the rollout route is the admin's); everyone
  // sees the preview of the flag as it is.
  $('rollout-percent').hidden = !ctx.isAdmin;
  $('rollout-percent').previousElementSibling.hidden = !ctx.isAdmin;
  $('rollout-apply').hidden = !ctx.isAdmin;
  $('rollout-error').textContent = '';
  preview(ctx.isAdmin ? pct : null);
  loadHistory(f.key, generation);
  $('flag-detail').scrollIntoView({ block: 'nearest' });
}

function sampleKeys() {
  return $('preview-keys')
    .value.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .slice(0, 50);
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(() => preview(ctx.isAdmin ? Number($('rollout-percent').value) : null), 120);
}

$('rollout-percent').addEventListener('input', () => {
  $('rollout-value').textContent = `${$('rollout-percent').value}%`;
  schedulePreview();
});
$('preview-keys').addEventListener('input', schedulePreview);

async function preview(percent) {
  if (!selected) return;
  const gen = ++previewGen;
  const keys = sampleKeys();
  const tbody = $('preview').querySelector('tbody');
  if (!keys.length) {
    tbody.replaceChildren();
    return;
  }
  const q = `keys=${keys.map(enc).join(',')}&env=${enc(env)}` +
    (percent == null ? '' : `&percent=${percent}`);
  try {
    const r = await api(`/api/v1/flags/${enc(selected)}/preview?${q}`);
    if (gen !== previewGen) return;
    $('rollout-error').textContent = '';
    $('preview').dataset.percent = percent == null ? '' : String(percent);
    tbody.replaceChildren(
      ...r.answers.map((a) => {
        const tr = document.createElement('tr');
        tr.dataset.targetingKey = a.targeting_key;
        const k = document.createElement('th');
        k.scope = 'row';
        k.textContent = a.targeting_key;
        tr.append(k, td(a.variant || '(no value)'), td(a.error ? `${a.reason}: ${a.error}` : a.reason));
        return tr;
      }),
    );
  } catch (e) {
    if (gen !== previewGen) return;
    tbody.replaceChildren();
    $('rollout-error').textContent = failed(e);
  }
}

$('rollout-apply').addEventListener('click', async () => {
  if (!selected) return;
  const key = selected;
  const percent = Number($('rollout-percent').value);
  $('rollout-error').textContent = '';
  try {
    await api(`/api/v1/flags/${enc(key)}/rollout`, {
      method: 'POST',
      body: { env, percent },
    });
    say(`${key} rolled out to ${percent}% in ${env}.`);
  } catch (e) {
    $('rollout-error').textContent = failed(e);
  }
  shownJson = '';
  refresh(generation);
});

async function loadHistory(key, gen) {
  try {
    const h = await api(`/api/v1/flags/${enc(key)}/history?env=${enc(env)}&limit=20`);
    if (gen !== generation || key !== selected) return;
    const items = [...h].sort((a, b) => b.id - a.id).map((a) => {
      const li = document.createElement('li');
      const when = new Date(a.t).toLocaleString();
      li.textContent = `${when}: ${a.action} by ${a.actor}${a.comment ? ` (${a.comment})` : ''}`;
      return li;
    });
    $('flag-history').replaceChildren(...items);
  } catch (e) {
    if (gen !== generation) return;
    const li = document.createElement('li');
    li.textContent = `History unavailable: ${failed(e)}`;
    $('flag-history').replaceChildren(li);
  }
}
