// The backups view: each database of the project with its backups and last verified restore,
// and the catalogued backups, from GET /api/v1/backups. Admins get "Back up" per database
// (POST /api/v1/backups, confirmed in a dialog first: a dump loads the database) and "Verify"
// per backup (POST /api/v1/backups/{id}/verify): both run in the daemon's database jobs and
// answer when done; errors show the API's words.
import { api } from './api.js';
import { $, say as sayIn, para, row, table, button, confirmDialog } from './dom.js';

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

function say(text) {
  sayIn('backups-status', text);
}

function time(ms) {
  return ms ? new Date(ms).toLocaleString() : 'never';
}

function sizeText(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

async function refresh(gen) {
  let r;
  try {
    r = await api('/api/v1/backups');
  } catch (e) {
    if (gen !== generation) return;
    if (e.status === 401) return ctx.onLoggedOut();
    say(`Could not list the backups: ${e.message}`);
    return;
  }
  if (gen !== generation) return;
  const list = $('backups-list');
  if (!r.databases.length) {
    list.replaceChildren(para('The project declares no databases (x-slipway.databases): there is nothing to back up.'));
    return;
  }
  const heads = ['Database', 'Backups', 'Last backup', 'Last verified restore'];
  if (ctx.isAdmin) heads.push('Actions');
  const dbRows = r.databases.map((d) => {
    const cells = [d.name + (d.configured ? '' : ' (no longer configured)'), String(d.backups),
      time(d.last_backup_ms), time(d.last_verified_ms)];
    if (ctx.isAdmin) {
      cells.push(d.configured ? button('Back up', `Back up ${d.name} now`, () => backupNow(d.name)) : '');
    }
    return row(cells, { database: d.name });
  });
  const bHeads = ['Backup', 'Database', 'Created', 'Size', 'Verified'];
  if (ctx.isAdmin) bHeads.push('Actions');
  const configured = new Set(r.databases.filter((d) => d.configured).map((d) => d.name));
  const bRows = r.backups.map((b) => {
    const cells = [`#${b.id} ${b.file}`, b.database, time(b.created_ms), sizeText(b.size),
      b.verified_ms ? `${b.verify_status} (${time(b.verified_ms)})` : 'not verified'];
    if (ctx.isAdmin) {
      cells.push(configured.has(b.database) ? button('Verify', `Verify backup ${b.id}`, () => verify(b.id)) : '');
    }
    return row(cells, { backup: String(b.id) });
  });
  const parts = [table('Databases', heads, dbRows)];
  if (bRows.length) parts.push(table('Backups, newest first', bHeads, bRows));
  else parts.push(para('No backups yet.'));
  list.replaceChildren(...parts);
}

const CONFIRM = { dialog: 'confirm', title: 'confirm-title', text: 'confirm-text', ok: 'confirm-ok' };

async function backupNow(database) {
  const ok = await confirmDialog(
    CONFIRM,
    {
      title: `Back up ${database} now?`,
      text: `The daemon dumps ${database} while it serves; the backup is listed when done.`,
      ok: 'Back up',
      groups: { 'deploy-fields': false },
    },
    () => true,
  );
  if (!ok) return;
  say(`Backing up ${database}…`);
  try {
    const r = await api('/api/v1/backups', { method: 'POST', body: { database } });
    say(`Backed up ${database}: ${r.summary}`);
  } catch (e) {
    say(`Backup of ${database} failed: ${e.message}`);
  }
  refresh(generation);
}

async function verify(id) {
  say(`Verifying backup ${id}…`);
  try {
    const r = await api(`/api/v1/backups/${id}/verify`, { method: 'POST', body: {} });
    say(`Backup ${id} verified: ${r.summary}`);
  } catch (e) {
    say(`Verify of backup ${id} failed: ${e.message}`);
  }
  refresh(generation);
}
