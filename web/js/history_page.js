// #/history?page=N: the table of past predictions, newest first, 20 a page.
// #/history/<id>: one past prediction, shown with the same panel as an upload.
import { describeError, getPrediction, imageUrl, listPredictions } from './api.js';
import { h, replaceChildren } from './dom.js';
import { formatDateAndTime, formatDateTime, formatProbability } from './format.js';
import { showError } from './notices.js';
import { renderResult } from './result_panel.js';

const PER_PAGE = 20;

function openDetail(id) {
  location.hash = `#/history/${encodeURIComponent(id)}`;
}

/** The file name with optional line breaks after _ . - so that long names fit narrow screens. */
function breakable(name) {
  return name.split(/(?<=[_.-])/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

function timeCell(iso) {
  const [date, clock] = formatDateAndTime(iso);
  return h('time', { datetime: iso, title: formatDateTime(iso) }, date, ' ', h('span', { class: 'history__clock' }, clock));
}

function row(prediction) {
  const label = String(prediction.label ?? '?');
  const open = () => openDetail(prediction.id);
  return h('tr', {
    tabindex: '0', class: 'history-row', 'data-id': prediction.id, 'data-testid': 'history-row',
    'aria-label': `${prediction.filename || 'unnamed file'}: ${label}, open details`,
    onclick: open,
    onkeydown: (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        open();
      }
    },
  },
    h('td', { class: 'history__thumb' },
      h('img', { src: imageUrl(prediction.id), loading: 'lazy', alt: '', width: '48', height: '48' })),
    h('td', { class: 'history__file' }, breakable(prediction.filename || '(unnamed file)')),
    h('td', {}, h('span', { class: `tag tag--${label.toLowerCase()}` }, label),
      prediction.review ? h('span', { class: 'tag tag--review', title: 'Marked for careful review' }, 'review') : null),
    h('td', { class: 'num' }, formatProbability(prediction.probability)),
    h('td', { class: 'history__time' }, timeCell(prediction.created_at)),
    h('td', { class: 'history__model' }, prediction.model?.version ?? '—'));
}

export function mountList(main, params) {
  const requested = Number.parseInt(params.get('page') ?? '1', 10);
  const page = Number.isFinite(requested) && requested >= 1 ? requested : 1;
  const accession = params.get('accession') ?? '';
  const query = (p) => `#/history?page=${p}${accession ? `&accession=${encodeURIComponent(accession)}` : ''}`;

  const summary = h('p', { class: 'lead', id: 'history-total' }, 'Loading…');
  const body = h('div', { class: 'history__body' });
  const accessionInput = h('input', { type: 'search', id: 'accession-filter', name: 'accession',
                                      value: accession, placeholder: 'Accession number' });
  const filter = h('form', { class: 'history__filter', role: 'search', id: 'history-filter',
                             onsubmit: (event) => {
                               event.preventDefault();
                               const value = accessionInput.value.trim();
                               location.hash = `#/history?page=1${value ? `&accession=${encodeURIComponent(value)}` : ''}`;
                             } },
    h('label', { for: 'accession-filter' }, 'Filter by accession number '), accessionInput,
    h('button', { type: 'submit', class: 'button' }, 'Filter'));
  main.append(h('section', { class: 'page page--history', 'aria-labelledby': 'history-heading' },
    h('h1', { id: 'history-heading', tabindex: '-1' }, 'History'),
    filter,
    summary,
    body));

  listPredictions(page, PER_PAGE, accession).then((list) => {
    if (!body.isConnected) return;
    const total = Number(list.total ?? 0);
    const pages = Math.max(1, Number(list.pages ?? Math.ceil(total / PER_PAGE)));
    const items = Array.isArray(list.items) ? list.items : [];
    summary.textContent = total === 1 ? '1 prediction, newest first.' : `${total.toLocaleString('en')} predictions, newest first.`;
    if (total === 0) {
      replaceChildren(body, h('div', { class: 'card empty' },
        h('p', {}, 'No predictions yet.'), h('p', {}, h('a', { href: '#/upload' }, 'Upload a chest X-ray'), ' to start.')));
      return;
    }
    const go = (p) => { location.hash = query(p); };
    const table = h('table', { class: 'history', id: 'history-table', 'data-testid': 'history-table' },
      h('caption', { class: 'visually-hidden' }, `Past predictions, page ${page} of ${pages}. Select a row to open it.`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Preview')),
        h('th', { scope: 'col' }, 'File'),
        h('th', { scope: 'col' }, 'Result'),
        h('th', { scope: 'col', class: 'num' }, 'Probability'),
        h('th', { scope: 'col' }, 'Time'),
        h('th', { scope: 'col', class: 'history__model' }, 'Model'))),
      h('tbody', {}, items.map(row)));
    const pager = h('nav', { class: 'pager', 'aria-label': 'History pages' },
      h('button', { type: 'button', class: 'button', id: 'prev-page', 'data-testid': 'prev-page',
                    disabled: page <= 1, onclick: () => go(page - 1) }, '← Previous'),
      h('span', { class: 'pager__info', id: 'page-info', 'data-testid': 'page-info' },
        `Page ${page} of ${pages}`, h('span', { class: 'pager__total' }, ` · ${total.toLocaleString('en')} in all`)),
      h('button', { type: 'button', class: 'button', id: 'next-page', 'data-testid': 'next-page',
                    disabled: page >= pages, onclick: () => go(page + 1) }, 'Next →'));
    replaceChildren(body,
      items.length ? h('div', { class: 'card table-card' }, table)
                   : h('div', { class: 'card empty' }, h('p', {}, 'This page is past the end of the history.')),
      pager);
  }).catch((err) => {
    if (!body.isConnected) return;
    summary.textContent = 'The history could not be loaded.';
    showError(describeError(err));
  });
  return { title: page > 1 ? `History, page ${page}` : 'History' };
}

// The report a doctor keeps: the page's print stylesheet shows the X-ray and its heatmap side by
// side with the verdict; the heatmap is fetched first, so the printout never lacks it.
function printHeatmap(prediction) {
  return h('figure', { class: 'print-only print-heatmap' },
    h('img', { id: 'print-heatmap', alt: `Heatmap over the X-ray of ${prediction.filename || 'the upload'}` }),
    h('figcaption', {}, 'Heatmap (Grad-CAM): red marks where the model’s evidence for pneumonia is strongest. '
      + 'It shows where the model looked, not a finding.'));
}

function printButton(prediction) {
  const button = h('button', { type: 'button', class: 'button screen-only', id: 'print-report',
                               'data-testid': 'print-report' }, 'Print report');
  button.addEventListener('click', async () => {
    const img = document.getElementById('print-heatmap');
    if (img && prediction.links?.heatmap && !img.getAttribute('src')) {
      button.disabled = true;
      const loaded = new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; });
      img.src = prediction.links.heatmap;
      await loaded;
      button.disabled = false;
    }
    window.print();
  });
  return h('p', { class: 'detail__actions' }, button);
}

export function mountDetail(main, id) {
  const slot = h('div', { class: 'detail__body' }, h('p', { class: 'lead' }, 'Loading…'));
  main.append(h('section', { class: 'page page--detail', 'aria-labelledby': 'detail-heading' },
    h('p', { class: 'back' }, h('a', { href: '#/history', id: 'back-to-history' }, '← Back to history')),
    h('h1', { id: 'detail-heading', tabindex: '-1' }, 'Prediction'),
    slot));

  getPrediction(id).then((prediction) => {
    if (!slot.isConnected) return;
    replaceChildren(slot, printButton(prediction), renderResult(prediction), printHeatmap(prediction));
  }).catch((err) => {
    if (!slot.isConnected) return;
    replaceChildren(slot, h('p', { class: 'lead' }, 'This prediction could not be shown.'));
    showError(describeError(err));
  });
  return { title: 'Prediction' };
}
