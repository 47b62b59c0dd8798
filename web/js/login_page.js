// login.html: the login form, then (for a one-time password, or when asked with
// #change-password) the change-password form; on success, on to the app or to ?next=.

import { clearError, showError } from './notices.js';
import { changePassword, describeAccountError, loadSession, login } from './session.js';

const $ = (id) => document.getElementById(id);

function nextPage() {
  // Only same-site paths: an open redirect would let a link send a logged-in user anywhere.
  const next = new URLSearchParams(location.search).get('next') || '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function showChangeForm(reason) {
  $('login-section').hidden = true;
  $('change-section').hidden = false;
  if (reason) $('change-reason').textContent = reason;
  $('change-heading').focus();
}

async function onLogin(event) {
  event.preventDefault();
  clearError();
  const user = $('login-user').value.trim();
  const password = $('login-password').value;
  if (!user || !password) return showError('Enter your user name and password.');
  $('login-submit').disabled = true;
  try {
    const session = await login(user, password);
    if (session.must_change_password) {
      $('change-old').value = password;
      showChangeForm();
    } else {
      location.assign(nextPage());
    }
  } catch (err) {
    showError(describeAccountError(err));
    $('login-password').value = '';
    $('login-password').focus();
  } finally {
    $('login-submit').disabled = false;
  }
}

async function onChange(event) {
  event.preventDefault();
  clearError();
  const oldPassword = $('change-old').value;
  const newPassword = $('change-new').value;
  if (newPassword.length < 12) return showError('The new password needs at least 12 characters.');
  if (newPassword !== $('change-repeat').value) return showError('The two new passwords differ.');
  $('change-submit').disabled = true;
  try {
    await changePassword(oldPassword, newPassword);
    location.assign(nextPage());
  } catch (err) {
    showError(describeAccountError(err));
  } finally {
    $('change-submit').disabled = false;
  }
}

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('change-form').addEventListener('submit', onChange);
  try {
    const session = await loadSession();
    if (session && (session.must_change_password || location.hash === '#change-password')) {
      showChangeForm(session.must_change_password ? null : 'Choose a new password.');
    } else if (session) {
      location.assign(nextPage());
    }
  } catch (err) {
    showError(describeAccountError(err));
  }
}

start();
