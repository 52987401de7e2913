// The dashboard's entry: who is logged in decides the view (login or services).
import { api, setCsrf, ApiError } from './api.js';
import { startServices, stopServices } from './services.js';

const $ = (id) => document.getElementById(id);

function showLogin(message = '') {
  stopServices();
  setCsrf(null);
  $('services-view').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

function showServices(session) {
  setCsrf(session.csrf);
  $('login-view').hidden = true;
  $('services-view').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = session.user
    ? `Logged in as ${session.role} (${session.user})`
    : `Logged in as ${session.role}`;
  // Deployers and admins get the deploy buttons; the API refuses a viewer's requests anyway.
  const canDeploy = session.role === 'admin' || session.role === 'deployer';
  startServices({ admin: canDeploy, onLoggedOut: () => showLogin('Your session ended; log in again.') });
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
