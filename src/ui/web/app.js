// The dashboard's entry: who is logged in decides what shows (the login form, or the tab bar
// and one view). Views are hash routes (#/services, #/deploys, ...; never a token in a URL):
// each is one module with start(ctx)/stop() and one <section id="<name>-view" hidden>.
import { api, setCsrf, ApiError } from './api.js';
import { startServices, stopServices } from './services.js';
import * as deploys from './deploys.js';
import * as logs from './logs.js';
import * as flags from './flags.js';
import * as alerts from './alerts.js';
import * as metrics from './metrics.js';
import * as backups from './backups.js';
import * as migrations from './migrations.js';

const $ = (id) => document.getElementById(id);

const VIEWS = {
  services: {
    start: (ctx) => startServices({ admin: ctx.canDeploy, onLoggedOut: ctx.onLoggedOut }),
    stop: stopServices,
  },
  deploys,
  logs,
  flags,
  alerts,
  metrics,
  backups,
  migrations,
};
const DEFAULT_VIEW = 'services';

let session = null;
let active = null; // the name of the view shown

function viewOfHash() {
  const name = location.hash.replace(/^#\/?/, '');
  return Object.hasOwn(VIEWS, name) ? name : DEFAULT_VIEW;
}

function stopActive() {
  if (active) VIEWS[active].stop();
  active = null;
  for (const name of Object.keys(VIEWS)) $(`${name}-view`).hidden = true;
}

function showView() {
  if (!session) return;
  const name = viewOfHash();
  if (name === active) return;
  stopActive();
  for (const a of document.querySelectorAll('#tabs a[data-view]')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $(`${name}-view`).hidden = false;
  active = name;
  // Deployers and admins get the mutating buttons; the API refuses a viewer's requests anyway.
  const canDeploy = session.role === 'admin' || session.role === 'deployer';
  VIEWS[name].start({
    role: session.role,
    who: session.user || session.role,
    canDeploy,
    isAdmin: session.role === 'admin',
    onLoggedOut: () => showLogin('Your session ended; log in again.'),
  });
}

function showLogin(message = '') {
  stopActive();
  session = null;
  setCsrf(null);
  $('tabs').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

function showSession(s) {
  session = s;
  setCsrf(s.csrf);
  $('login-view').hidden = true;
  $('tabs').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = s.user ? `Logged in as ${s.role} (${s.user})` : `Logged in as ${s.role}`;
  showView();
}

window.addEventListener('hashchange', showView);

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('token');
  const token = input.value.trim();
  input.value = '';
  $('login-error').textContent = '';
  try {
    showSession(await api('/api/v1/session', { method: 'POST', body: { token } }));
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
  showSession(await api('/api/v1/session'));
} catch (e) {
  showLogin(e instanceof ApiError && e.status !== 401 ? e.message : '');
}
