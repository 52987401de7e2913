// The migrations view: each database of the project with how its migrations run (the built-in
// SQL runner over its folder, or the team's own tool), its status (applied and pending
// migrations with when and by whom, or what the tool reports; the error when the database
// cannot be reached) and the recorded runs of those tools (GET /api/v1/migrations).
// Read-only: migrations run with deploys and `slipway migrate`.
import { api } from './api.js';
import { $, say, para, table } from './dom.js';

let ctx = null;
let generation = 0;

export function start(c) {
  ctx = c;
  generation += 1;
  refresh(generation);
}

export function stop() {
  generation += 1;
}

function statusText(s) {
  if (!s) return 'unknown';
  if (s.error) return `cannot be read: ${s.error}`;
  let text = `${s.pending} pending`;
  if (s.current !== undefined) text = `at ${s.current || '(nothing applied)'}, ${text}`;
  if (s.blocked) text += `; blocked: ${s.blocked}`;
  return text;
}

async function refresh(gen) {
  let r;
  try {
    r = await api('/api/v1/migrations');
  } catch (e) {
    if (gen !== generation) return;
    if (e.status === 401) return ctx.onLoggedOut();
    say('migrations-status', `Could not read the migrations: ${e.message}`);
    return;
  }
  if (gen !== generation) return;
  const parts = [];
  if (!r.databases.length) {
    parts.push(para('The project declares no databases (x-slipway.databases): there are no migrations.'));
  } else {
    parts.push(table('Databases', ['Database', 'Runs with', 'Folder', 'Status'],
      r.databases.map((d) => [d.name, d.runner === 'sql' ? 'built-in SQL runner' : d.runner, d.folder || '–',
        statusText(d.status)])));
    for (const d of r.databases) {
      const ms = (d.status && d.status.migrations) || [];
      if (!ms.length) continue;
      parts.push(table(`Migrations of ${d.name}`, ['Version', 'Name', 'State', 'Applied', 'By'],
        ms.map((m) => [m.version, m.name, m.state, m.applied_ms ? new Date(m.applied_ms).toLocaleString() : '–',
          m.applied_by || '–'])));
    }
  }
  if (r.runs.length) {
    const runs = [...r.runs].sort((a, b) => b.started_ms - a.started_ms);
    parts.push(table('Tool runs, newest first', ['Started', 'Database', 'Direction', 'Result', 'Before → after', 'By'],
      runs.map((x) => [new Date(x.started_ms).toLocaleString(), x.database, `${x.tool} ${x.direction}`,
        x.ok ? `ok (${(x.duration_ms / 1000).toFixed(1)} s)` : 'failed', `${x.before} → ${x.after}`, x.applied_by])));
  } else if (r.databases.length) {
    parts.push(para('No migration tool runs recorded. The built-in runner keeps its history in the database itself (slipway migrate status).'));
  }
  $('migrations-list').replaceChildren(...parts);
}
