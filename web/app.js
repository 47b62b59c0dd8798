// pneumo web UI: a hash router over four pages.
//   #/upload            analyse an X-ray (default)
//   #/history?page=N    past predictions
//   #/history/<id>      one past prediction
//   #/model             the model card and its limits
import { h } from './js/dom.js';
import { mountDetail, mountList } from './js/history_page.js';
import { mount as mountModel } from './js/model_page.js';
import { clearError } from './js/notices.js';
import { mountSessionNav } from './js/session_nav.js';
import { mount as mountUpload } from './js/upload_page.js';

const routes = [
  { pattern: /^\/upload$/, nav: 'upload', mount: (main) => mountUpload(main) },
  { pattern: /^\/history$/, nav: 'history', mount: (main, _m, params) => mountList(main, params) },
  { pattern: /^\/history\/([A-Za-z0-9_-]+)$/, nav: 'history', mount: (main, m) => mountDetail(main, m[1]) },
  { pattern: /^\/model$/, nav: 'model', mount: (main) => mountModel(main) },
];

function notFound(main) {
  main.append(h('section', { class: 'page', 'aria-labelledby': 'nf-heading' },
    h('h1', { id: 'nf-heading', tabindex: '-1' }, 'Page not found'),
    h('p', { class: 'lead' }, 'There is no such page. ', h('a', { href: '#/upload' }, 'Go to the upload page'), '.')));
  return { title: 'Not found' };
}

let firstRender = true;

function render() {
  let raw = location.hash.replace(/^#/, '');
  try { raw = decodeURI(raw); } catch { /* malformed %-escape: route it as it is */ }
  raw ||= '/upload';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const main = document.getElementById('main');

  clearError();
  main.replaceChildren();
  let route = null;
  let match = null;
  for (const r of routes) {
    match = path.match(r.pattern);
    if (match) { route = r; break; }
  }
  const { title } = route ? route.mount(main, match, params) : notFound(main);
  document.title = `${title} · pneumo`;

  for (const link of document.querySelectorAll('[data-nav]')) {
    if (route && link.dataset.nav === route.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // After a navigation, put keyboard and screen-reader focus on the new page's heading.
  if (!firstRender) main.querySelector('h1')?.focus({ preventScroll: false });
  firstRender = false;
  window.scrollTo(0, 0);
}

// A file dropped outside the drop zone must not make the browser navigate away to it.
for (const type of ['dragover', 'drop']) {
  window.addEventListener(type, (e) => {
    if (!e.target.closest?.('#drop-zone')) e.preventDefault();
  });
}

// The session first: a visitor without one goes to the login page before any page asks for data.
if (await mountSessionNav()) {
  window.addEventListener('hashchange', render);
  if (!location.hash) history.replaceState(null, '', '#/upload');
  render();
}
