// The dashboard's entry: who is logged in decides the view (login, or the tab the hash
// names: #/services by default, #/flags, #/alerts, ...). Each view is a module with
// start(ctx)/stop(); only the shown one runs.
import { api, setCsrf, ApiError } from './api.js';
import { startServices, stopServices } from './services.js';
// ops views
import * as flagsView from './flags.js';
import * as alertsView from './alerts.js';
import * as metricsView from './metrics.js';
import * as backupsView from './backups.js';
import * as migrationsView from './migrations.js';

const $ = (id) => document.getElementById(id);

const VIEWS = {
  services: {
    start: (ctx) => startServices({ admin: ctx.canDeploy, onLoggedOut: ctx.onLoggedOut }),
    stop: stopServices,
  },
  // ops views
  flags: flagsView,
  alerts: alertsView,
  metrics: metricsView,
  backups: backupsView,
  migrations: migrationsView,
};
let viewCtx = null; // set while logged in
let shown = null; // the name of the view on screen

function stopView() {
  if (!shown) return;
  VIEWS[shown].stop();
  $(`${shown}-view`).hidden = true;
  shown = null;
}

function route() {
  if (!viewCtx) return;
  const m = /^#\/([a-z]+)$/.exec(location.hash);
  const name = m && VIEWS[m[1]] ? m[1] : 'services';
  if (name === shown) return;
  stopView();
  shown = name;
  for (const a of document.querySelectorAll('#tabs a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $(`${name}-view`).hidden = false;
  VIEWS[name].start(viewCtx);
}
window.addEventListener('hashchange', route);

function showLogin(message = '') {
  viewCtx = null;
  stopView();
  setCsrf(null);
  $('tabs').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

function showServices(session) {
  setCsrf(session.csrf);
  $('login-view').hidden = true;
  $('tabs').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = session.user
    ? `Logged in as ${session.role} (${session.user})`
    : `Logged in as ${session.role}`;
  // Deployers and admins get the deploy buttons; the API refuses a viewer's requests anyway.
  const canDeploy = session.role === 'admin' || session.role === 'deployer';
  viewCtx = {
    role: session.role,
    who: session.user || session.role,
    canDeploy,
    isAdmin: session.role === 'admin',
    onLoggedOut: () => showLogin('Your session ended; log in again.'),
  };
  route();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('token');
  const token = input.value.trim();
  input.value = '';
  $('login-error').textContent = '';
  try {
    showServices(await api('/api/v1/session', { method: 'POST', body: { token } }));
  } catch (e) {
    $('login-error').textContent = e.status === 401 ? 'Wrong token.' : e.message;
    input.focus();
  }
});

$('logout').addEventListener('click', async () => {
  try {
    await api('/api/v1/session', { method: 'DELETE' });
  } catch {
    // Logged out already or the daemon is gone: the login form either way.
  }
  showLogin();
});

try {
  showServices(await api('/api/v1/session'));
} catch (e) {
  showLogin(e instanceof ApiError && e.status !== 401 ? e.message : '');
}
