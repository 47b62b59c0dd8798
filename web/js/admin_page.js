// admin.html: users (add, disable, reset password), a user's API tokens (create, revoke) and the
// audit trail (filters, paging). Admins only; the server enforces it, this page just says so.

import { h, replaceChildren } from './dom.js';
import { clearError, showError } from './notices.js';
import { describeAccountError, loadSession, logout, sendJson } from './session.js';

const $ = (id) => document.getElementById(id);
const PER_PAGE = 50;
const state = { me: null, tokensOf: null, auditPage: 1, auditTotal: 0, filter: {} };

const when = (iso) => (iso ? iso.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC') : '');

function fail(err) {
  showError(describeAccountError(err));
}

/** Shows a one-time password or token once, in a dismissable box. */
function showSecret(label, value) {
  $('secret-label').textContent = label;
  $('secret-value').textContent = value;
  $('secret-notice').hidden = false;
  $('secret-dismiss').focus();
}

async function loadUsers() {
  const body = await sendJson('GET', '/api/v1/users');
  const rows = body.items.map((u) => {
    const status = u.disabled ? 'disabled' : u.must_change_password ? 'must change password' : 'active';
    const actions = h('td', { class: 'actions' },
      h('button', { class: 'button', type: 'button', onclick: () => selectTokens(u.name) }, 'Tokens'),
      h('button', {
        class: 'button', type: 'button', onclick: () => resetPassword(u.name),
        'data-testid': `reset-${u.name}`,
      }, 'New password'),
      u.disabled || u.name === state.me.user ? null : h('button', {
        class: 'button', type: 'button', onclick: () => disableUser(u.name),
        'data-testid': `disable-${u.name}`,
      }, 'Disable'));
    return h('tr', { 'data-user': u.name },
      h('td', {}, u.name), h('td', {}, u.role), h('td', {}, status), h('td', {}, when(u.created_at)),
      actions);
  });
  replaceChildren($('users-body'), rows);
}

async function addUser(event) {
  event.preventDefault();
  clearError();
  const name = $('new-user-name').value.trim();
  if (!name) return showError('Enter a name for the new user.');
  try {
    const created = await sendJson('POST', '/api/v1/users', { name, role: $('new-user-role').value });
    $('new-user-name').value = '';
    showSecret(`One-time password for ${created.name} (${created.role}):`, created.one_time_password);
    await loadUsers();
    await loadAudit();
  } catch (err) { fail(err); }
}

async function disableUser(name) {
  clearError();
  if (!window.confirm(`Disable ${name}? Every session and API token of theirs stops at once.`)) return;
  try {
    await sendJson('POST', `/api/v1/users/${encodeURIComponent(name)}/disable`);
    await loadUsers();
    if (state.tokensOf === name) await loadTokens();
    await loadAudit();
  } catch (err) { fail(err); }
}

async function resetPassword(name) {
  clearError();
  if (!window.confirm(`Give ${name} a new one-time password? Their sessions and tokens end.`)) return;
  try {
    const reset = await sendJson('POST', `/api/v1/users/${encodeURIComponent(name)}/password`);
    showSecret(`New one-time password for ${reset.name}:`, reset.one_time_password);
    await loadUsers();
    await loadAudit();
  } catch (err) { fail(err); }
}

async function selectTokens(name) {
  state.tokensOf = name;
  try { await loadTokens(); } catch (err) { fail(err); }
}

async function loadTokens() {
  const name = state.tokensOf;
  $('tokens-user').textContent = name;
  const body = await sendJson('GET', `/api/v1/users/${encodeURIComponent(name)}/tokens`);
  const rows = body.items.map((t) => {
    const status = t.revoked ? 'revoked' : t.expired ? 'expired' : 'active';
    return h('tr', { 'data-token': t.id },
      h('td', {}, h('code', {}, t.id)), h('td', {}, t.label), h('td', {}, status),
      h('td', {}, when(t.created_at)), h('td', {}, when(t.expires_at)),
      h('td', { class: 'actions' }, t.revoked ? null : h('button', {
        class: 'button', type: 'button', onclick: () => revokeToken(t.id),
        'data-testid': `revoke-${t.id}`,
      }, 'Revoke')));
  });
  replaceChildren($('tokens-body'), rows);
}

async function createToken(event) {
  event.preventDefault();
  clearError();
  const days = Number.parseInt($('token-days').value, 10);
  try {
    const made = await sendJson('POST', `/api/v1/users/${encodeURIComponent(state.tokensOf)}/tokens`,
      { label: $('token-label').value, expires_days: Number.isFinite(days) ? days : 90 });
    $('token-label').value = '';
    showSecret(`API token ${made.id} for ${made.user} (send it as "Authorization: Bearer …"):`, made.token);
    await loadTokens();
    await loadAudit();
  } catch (err) { fail(err); }
}

async function revokeToken(id) {
  clearError();
  try {
    await sendJson('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    await loadTokens();
    await loadAudit();
  } catch (err) { fail(err); }
}

async function loadAudit() {
  const q = new URLSearchParams({ page: String(state.auditPage), per_page: String(PER_PAGE) });
  for (const [key, value] of Object.entries(state.filter)) if (value) q.set(key, value);
  const body = await sendJson('GET', `/api/v1/audit?${q}`);
  state.auditTotal = body.total;
  replaceChildren($('audit-body'), body.items.map((e) => h('tr', {},
    h('td', {}, String(e.seq)), h('td', {}, when(e.time)), h('td', {}, e.user),
    h('td', {}, e.action), h('td', {}, e.target_id), h('td', {}, e.client_address),
    h('td', {}, e.outcome))));
  const pages = Math.max(1, Math.ceil(body.total / PER_PAGE));
  $('audit-page').textContent = `page ${state.auditPage} of ${pages} (${body.total} entries)`;
  $('audit-newer').disabled = state.auditPage <= 1;
  $('audit-older').disabled = state.auditPage >= pages;
}

function filterAudit(event) {
  event.preventDefault();
  clearError();
  // <input type=date> gives YYYY-MM-DD, which the API reads as midnight UTC.
  state.filter = {
    user: $('audit-user').value.trim(), action: $('audit-action').value.trim(),
    since: $('audit-since').value, until: $('audit-until').value,
  };
  state.auditPage = 1;
  loadAudit().catch(fail);
}

function page(delta) {
  state.auditPage = Math.max(1, state.auditPage + delta);
  loadAudit().catch(fail);
}

async function start() {
  $('logout-button').addEventListener('click', () => logout().catch(fail));
  $('secret-dismiss').addEventListener('click', () => {
    $('secret-notice').hidden = true;
    $('secret-value').textContent = '';
  });
  $('user-form').addEventListener('submit', addUser);
  $('token-form').addEventListener('submit', createToken);
  $('audit-form').addEventListener('submit', filterAudit);
  $('audit-newer').addEventListener('click', () => page(-1));
  $('audit-older').addEventListener('click', () => page(1));
  try {
    const session = await loadSession();
    if (!session) {
      location.assign(`/static/login.html?next=${encodeURIComponent('/static/admin.html')}`);
      return;
    }
    if (session.must_change_password) {
      location.assign(`/static/login.html?next=${encodeURIComponent('/static/admin.html')}`);
      return;
    }
    state.me = session;
    $('session-user').textContent = `${session.user} (${session.role})`;
    if (session.role !== 'admin') {
      showError('This page is for administrators. Your account is a doctor account.');
      return;
    }
    state.tokensOf = session.user;
    await Promise.all([loadUsers(), loadTokens(), loadAudit()]);
  } catch (err) { fail(err); }
}

start();
