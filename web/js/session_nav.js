// The app's header when accounts are on: who is logged in, a link to the admin page for admins,
// and Log out. Sends a visitor without a session to the login page. A server without accounts
// (no /api/v1/session) leaves the header as it is. Resolves false when it is sending the visitor
// away, so that the app does not first ask for health data it may not see.

import { h } from './dom.js';
import { describeAccountError, loadSession, logout } from './session.js';
import { showError } from './notices.js';

export async function mountSessionNav() {
  const nav = document.querySelector('.site-nav');
  let session;
  try {
    session = await loadSession();
  } catch (err) {
    showError(describeAccountError(err));
    return true;
  }
  if (session === undefined) return true;  // no accounts on this server
  const next = encodeURIComponent(location.pathname + location.hash);
  if (session === null || session.must_change_password) {
    location.assign(`/static/login.html?next=${next}`);
    return false;
  }
  if (session.role === 'admin') nav.append(h('a', { href: '/static/admin.html', id: 'nav-admin' }, 'Admin'));
  nav.append(
    h('a', { href: '/static/login.html#change-password', id: 'nav-password' }, 'Password'),
    h('span', { class: 'muted small', 'data-testid': 'session-user' }, session.user),
    h('button', {
      class: 'button', type: 'button', id: 'logout-button',
      onclick: () => logout().catch((err) => showError(describeAccountError(err))),
    }, 'Log out'));
  return true;
}
