// The login session as the pages see it: who is logged in, the CSRF token that every
// state-changing request must carry (X-CSRF-Token), and the JSON calls of docs/security-api.md.
// The session cookie itself is HttpOnly: scripts never see it.

import { ApiError } from './api.js';

let current = null;  // the last session body from the server, or null

/** The CSRF token of the current session ('' when none is known). */
export function csrfToken() {
  return current?.csrf_token ?? '';
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken();
    if (token) headers['X-CSRF-Token'] = token;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  const text = await response.text().catch(() => '');
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { /* handled below */ }
  }
  if (!response.ok) {
    const e = parsed && typeof parsed === 'object' ? parsed.error : null;
    throw new ApiError(response.status, e?.code || `http_${response.status}`,
      typeof e?.message === 'string' ? e.message : '');
  }
  return parsed;
}

/** Calls a JSON route with the session's CSRF token; resolves with the body (null for 204). */
export function sendJson(method, path, body) {
  return call(method, path, body);
}

/**
 * GET /api/v1/session: the session body, or null when not logged in. Resolves undefined when the
 * server runs without accounts ({"accounts": false}, or a server from before them: 404).
 */
export async function loadSession() {
  try {
    const body = await call('GET', '/api/v1/session');
    if (!body || body.accounts === false) return undefined;
    current = body.user ? body : null;
    return current;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** POST /api/v1/session {user, password} -> the session body. */
export async function login(user, password) {
  current = await call('POST', '/api/v1/session', { user, password });
  return current;
}

/** POST /api/v1/session/password: a fresh session replaces the old one. */
export async function changePassword(oldPassword, newPassword) {
  current = await call('POST', '/api/v1/session/password',
    { old_password: oldPassword, new_password: newPassword });
  return current;
}

/** DELETE /api/v1/session, then to the login page. */
export async function logout() {
  try {
    await call('DELETE', '/api/v1/session');
  } finally {
    current = null;
    location.assign('/static/login.html');
  }
}

/** Plain words for the errors of the account routes. */
export function describeAccountError(err) {
  if (!(err instanceof ApiError)) return `Something went wrong in this page: ${err?.message ?? ''}`;
  const detail = String(err.detail ?? '').trim();
  switch (err.code) {
    case 'network': return 'Cannot reach the pneumo server. Check that it is running, then try again.';
    case 'unauthenticated': return detail || 'You are not logged in.';
    case 'rate_limited': return detail ? `${detail}.` : 'Too many failed attempts; wait and try again.';
    case 'forbidden': return detail ? `Not allowed: ${detail}.` : 'Your account is not allowed to do this.';
    case 'store_unavailable': return 'The account store is unavailable. Try again later.';
    default: return detail ? `${detail}.` : `The server answered with an error (HTTP ${err.status}).`;
  }
}
