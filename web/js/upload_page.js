// #/upload: drag and drop or pick a file, watch it upload, see the result.
// The page is built once and kept, so an upload in flight and the last result survive a
// visit to another page.
import { describeError, uploadPrediction } from './api.js';
import { h, replaceChildren } from './dom.js';
import { formatProbability } from './format.js';
import { clearError, showError } from './notices.js';
import { renderResult } from './result_panel.js';

const ACCEPT = '.jpg,.jpeg,.png,.dcm,application/dicom,image/jpeg,image/png';

let root = null;

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function build() {
  const input = h('input', {
    type: 'file', id: 'file-input', 'data-testid': 'file-input', accept: ACCEPT,
    class: 'visually-hidden', tabindex: '-1', 'aria-label': 'Chest X-ray file',
  });
  const chooseButton = h('button', { type: 'button', class: 'button button--primary', id: 'choose-file' }, 'Choose file…');
  const dropZone = h('div', {
    class: 'drop-zone', id: 'drop-zone', 'data-testid': 'drop-zone', role: 'button', tabindex: '0',
    'aria-label': 'Drop a chest X-ray here, or press Enter to choose a file', 'aria-describedby': 'drop-hint',
  },
    uploadIcon(),
    h('p', { class: 'drop-zone__title' }, 'Drag and drop a chest X-ray here'),
    h('p', { class: 'drop-zone__hint', id: 'drop-hint' }, 'JPEG, PNG or DICOM (.dcm). Frontal view (AP or PA).'));

  const fileLine = h('p', { class: 'progress-block__file', id: 'upload-file' });
  const progress = h('progress', { id: 'upload-progress', 'data-testid': 'upload-progress', max: '100', value: '0',
                                   'aria-labelledby': 'upload-file' });
  const percent = h('span', { class: 'progress-block__percent', id: 'upload-percent' }, '0 %');
  const progressBlock = h('div', { class: 'progress-block', id: 'upload-progress-block', hidden: true },
    fileLine, h('div', { class: 'progress-block__row' }, progress, percent));
  const status = h('p', { class: 'upload__status', id: 'upload-status', role: 'status', 'aria-live': 'polite' });
  const resultSlot = h('div', { id: 'upload-result', class: 'upload__result' });

  let busy = false;
  const setBusy = (value) => {
    busy = value;
    chooseButton.disabled = value;
    dropZone.setAttribute('aria-disabled', String(value));
    dropZone.classList.toggle('is-busy', value);
  };
  const openPicker = () => { if (!busy) input.click(); };

  async function upload(file) {
    if (busy || !file) return;
    clearError();
    setBusy(true);
    replaceChildren(resultSlot);
    fileLine.textContent = `${file.name} (${formatSize(file.size)})`;
    progress.value = 0;
    percent.textContent = '0 %';
    progressBlock.hidden = false;
    progressBlock.classList.remove('is-analysing');
    status.textContent = `Uploading ${file.name}…`;
    try {
      const prediction = await uploadPrediction(file, {
        onProgress: (fraction) => {
          const pct = Math.round(fraction * 100);
          progress.value = pct;
          percent.textContent = `${pct} %`;
        },
        onUploaded: () => {
          progress.value = 100;
          percent.textContent = '100 %';
          progressBlock.classList.add('is-analysing');
          status.textContent = 'Analysing…';
        },
      });
      progressBlock.hidden = true;
      status.textContent =
        `Done: ${prediction.label}, probability of pneumonia ${formatProbability(prediction.probability)}.`;
      replaceChildren(resultSlot,
        renderResult(prediction),
        prediction.id
          ? h('p', { class: 'upload__more' }, h('a', { href: `#/history/${encodeURIComponent(prediction.id)}` },
              'Open this result in the history'))
          : null);
      if (root.isConnected) resultSlot.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (err) {
      progressBlock.hidden = true;
      const message = describeError(err);
      // The banner belongs to the page on screen: use it only if that is still this one, and
      // otherwise leave the reason here for when the person comes back.
      if (root.isConnected) {
        status.textContent = `No result for ${file.name}.`;
        showError(message);
      } else {
        status.textContent = `No result for ${file.name}: ${message}`;
      }
    } finally {
      setBusy(false);
    }
  }

  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';  // so that choosing the same file again still fires `change`
    upload(file);
  });
  chooseButton.addEventListener('click', openPicker);
  dropZone.addEventListener('click', openPicker);
  dropZone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      openPicker();
    }
  });
  for (const type of ['dragenter', 'dragover']) {
    dropZone.addEventListener(type, (e) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = busy ? 'none' : 'copy';
      dropZone.classList.add('is-dragover');
    });
  }
  dropZone.addEventListener('dragleave', (e) => {
    if (!dropZone.contains(e.relatedTarget)) dropZone.classList.remove('is-dragover');
  });
  dropZone.addEventListener('drop', (e) => {
    e.preventDefault();
    dropZone.classList.remove('is-dragover');
    const files = e.dataTransfer?.files;
    if (files?.length) upload(files[0]);
  });

  return h('section', { class: 'page page--upload', 'aria-labelledby': 'upload-heading' },
    h('h1', { id: 'upload-heading', tabindex: '-1' }, 'Analyse a chest X-ray'),
    h('p', { class: 'lead' },
      'Upload a frontal chest X-ray. The model estimates the probability of pneumonia and shows where it looked.'),
    h('div', { class: 'card upload' },
      dropZone,
      h('div', { class: 'upload__actions' }, h('span', { class: 'upload__or' }, 'or'), chooseButton, input),
      progressBlock,
      status),
    resultSlot);
}

function uploadIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 48 48');
  svg.setAttribute('width', '48');
  svg.setAttribute('height', '48');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'drop-zone__icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M24 32V10m0 0-8 8m8-8 8 8M8 30v6a4 4 0 0 0 4 4h24a4 4 0 0 0 4-4v-6');
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '3');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}

export function mount(main) {
  root ??= build();
  main.append(root);
  return { title: 'Upload' };
}
