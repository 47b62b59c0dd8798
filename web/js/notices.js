// The page-wide error banner (role="alert", so screen readers read it out when it changes).

const banner = () => document.getElementById('error-message');

/** Shows a plain-words error above the page. */
export function showError(message) {
  const el = banner();
  el.textContent = message;
  el.hidden = false;
}

export function clearError() {
  const el = banner();
  el.textContent = '';
  el.hidden = true;
}
