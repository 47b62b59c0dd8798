// The result of one prediction: label, probability against threshold, review warning,
// preview image with a heatmap toggle, and the facts behind it. Used by the upload page and
// the history detail page.
import { h } from './dom.js';
import { abbreviateHash, formatDateTime, formatMs, formatProbability } from './format.js';

const LABELS = {
  PNEUMONIA: {
    sentence: 'The model finds signs of pneumonia on this X-ray.',
    icon: '!',
  },
  NORMAL: {
    sentence: 'The model finds no signs of pneumonia on this X-ray.',
    icon: '✓',
  },
};

function clamp01(x) {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}

function probabilityBlock(p, threshold) {
  const pct = (x) => `${(clamp01(x) * 100).toFixed(2)}%`;
  // Keep the threshold's caption inside the bar near either end.
  const edge = threshold > 0.8 ? 'end' : threshold < 0.2 ? 'start' : 'middle';
  return h('div', { class: 'probability' },
    h('p', { class: 'probability__numbers', id: 'result-probability', 'data-testid': 'result-probability',
             'data-probability': p, 'data-threshold': threshold },
      h('span', {}, 'Probability of pneumonia ', h('strong', { class: 'probability__value' }, formatProbability(p))),
      h('span', { class: 'probability__sep', 'aria-hidden': 'true' }, ' · '),
      h('span', {}, 'decision threshold ', h('strong', {}, formatProbability(threshold)))),
    h('div', { class: 'prob-bar', 'aria-hidden': 'true' },
      h('div', { class: 'prob-bar__track' }, h('div', { class: 'prob-bar__fill', style: { width: pct(p) } })),
      h('div', { class: 'prob-bar__threshold', style: { left: pct(threshold) } }),
      h('div', { class: `prob-bar__threshold-label prob-bar__threshold-label--${edge}`, style: { left: pct(threshold) } },
        `threshold ${formatProbability(threshold)}`),
      h('div', { class: 'prob-bar__scale' }, h('span', {}, '0'), h('span', {}, '0.5'), h('span', {}, '1'))),
    h('p', { class: 'probability__explain' },
      'Calibrated probability. The result is PNEUMONIA when the probability reaches the threshold.'));
}

function reviewBlock(prediction) {
  const reasons = Array.isArray(prediction.review_reasons) ? prediction.review_reasons : [];
  if (!prediction.review && reasons.length === 0) return null;
  return h('div', { class: 'review-warning', id: 'review-warning', 'data-testid': 'review-warning', role: 'note' },
    h('p', { class: 'review-warning__title' },
      h('span', { class: 'review-warning__icon', 'aria-hidden': 'true' }, '⚠'),
      'Review with extra care'),
    reasons.length
      ? h('ul', { class: 'review-warning__reasons' }, reasons.map((r) => h('li', {}, String(r))))
      : h('p', {}, 'The server marked this result for review.'));
}

// The model's own check found the image unlike the chest X-rays it knows: said first and loudest,
// because the verdict below it may mean nothing.
function oodBlock(prediction) {
  if (!prediction.out_of_distribution) return null;
  return h('div', { class: 'ood-warning', id: 'ood-warning', 'data-testid': 'ood-warning', role: 'alert' },
    h('p', { class: 'ood-warning__title' },
      h('span', { class: 'ood-warning__icon', 'aria-hidden': 'true' }, '⚠'),
      'This image does not look like a frontal chest X-ray'),
    h('p', {}, 'The model was not made for images like this one, so the result below is unreliable. '
      + 'Check that the right file was uploaded.'));
}

function imageBlock(prediction) {
  const links = prediction.links ?? {};
  const name = prediction.filename || 'the uploaded file';
  const img = h('img', {
    id: 'result-image', 'data-testid': 'result-image', class: 'result-image',
    src: links.image, alt: `Chest X-ray preview of ${name}`, 'data-showing': 'image',
  });
  const caption = h('p', { class: 'result-figure__caption', id: 'image-caption' }, 'Preview of the uploaded X-ray.');
  const toggle = h('button', {
    type: 'button', class: 'switch', id: 'heatmap-toggle', 'data-testid': 'heatmap-toggle',
    'aria-pressed': 'false', disabled: !links.heatmap,
  }, h('span', { class: 'switch__track', 'aria-hidden': 'true' }, h('span', { class: 'switch__thumb' })),
     h('span', { class: 'switch__label' }, 'Show heatmap'));

  // The heatmap is requested only when first asked for; the browser caches it after that.
  let showHeatmap = false;
  const show = (heatmap) => {
    showHeatmap = heatmap;
    toggle.setAttribute('aria-pressed', String(heatmap));
    img.dataset.showing = heatmap ? 'heatmap' : 'image';
    img.alt = heatmap ? `Heatmap over the X-ray of ${name}` : `Chest X-ray preview of ${name}`;
    img.src = heatmap ? links.heatmap : links.image;
    if (heatmap && !img.complete) caption.textContent = 'Loading the heatmap…';
    else setCaption();
  };
  const setCaption = () => {
    caption.textContent = showHeatmap
      ? 'Heatmap (Grad-CAM): red marks where the model’s evidence for pneumonia is strongest. It shows where the model looked, not a finding.'
      : 'Preview of the uploaded X-ray.';
  };
  img.addEventListener('load', setCaption);
  img.addEventListener('error', () => {
    caption.textContent = showHeatmap
      ? 'The heatmap could not be loaded. Try again in a moment.'
      : 'The preview could not be loaded.';
  });
  toggle.addEventListener('click', () => show(!showHeatmap));

  return h('figure', { class: 'result-figure' },
    h('div', { class: 'result-figure__frame' }, img),
    h('figcaption', {}, toggle, caption));
}

function factsBlock(prediction) {
  const rows = [];
  const add = (term, ...desc) => rows.push(h('dt', {}, term), h('dd', {}, ...desc));
  const model = prediction.model ?? {};
  add('Model', h('span', { id: 'result-model' }, `${model.name ?? '—'} ${model.version ?? ''}`.trim()));
  if (prediction.image) {
    const im = prediction.image;
    add('Image', `${String(im.format ?? '').toUpperCase()} ${im.width ?? '?'} × ${im.height ?? '?'} px`.trim());
  }
  // In the order a request meets them: decode, queue, inference, then any others.
  const order = ['decode', 'queue', 'inference'];
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  const timings = Object.entries(prediction.timings_ms ?? {})
    .filter(([, v]) => typeof v === 'number')
    .sort(([a], [b]) => rank(a) - rank(b));
  if (timings.length) {
    add('Timings', h('span', { id: 'result-timings' }, timings.map(([k, v]) => `${k} ${formatMs(v)}`).join(' · ')));
  }
  if (typeof prediction.ood_score === 'number') {
    add('Out-of-distribution score', h('span', { id: 'result-ood-score' },
      `${prediction.ood_score.toFixed(2)} (${prediction.out_of_distribution
        ? 'above the range of the chest X-rays the model knows' : 'within the range of chest X-rays'})`));
  }
  if (prediction.dicom) {
    const d = prediction.dicom;
    add('Accession number', h('span', { id: 'result-accession' }, d.accession_number || '—'));
    add('DICOM study', h('code', { id: 'result-study-uid', class: 'uid' }, d.study_instance_uid || '—'));
    add('DICOM instance', h('code', { id: 'result-sop-uid', class: 'uid' }, d.sop_instance_uid || '—'),
      ` (${d.modality || '?'})`);
    if (prediction.links?.sr) add('Structured report', h('a', { href: prediction.links.sr, id: 'result-sr' }, 'Download DICOM SR'));
  }
  if (Array.isArray(prediction.dicom_sends)) {
    const kinds = { sr: 'Structured report', sc: 'Heatmap image' };
    add('Sent to PACS', h('ul', { id: 'result-dicom-sends', class: 'plain-list' },
      prediction.dicom_sends.length === 0 ? h('li', {}, 'nothing queued')
        : prediction.dicom_sends.map((s) => h('li', { 'data-kind': s.kind, 'data-state': s.state },
          `${kinds[s.kind] ?? s.kind}: ${s.state}`,
          s.state === 'sent' && s.sent_at ? ` ${formatDateTime(s.sent_at)}` : '',
          s.state !== 'sent' ? ` after ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}` : '',
          s.last_error && s.state !== 'sent' ? h('span', { class: 'muted' }, ` — ${s.last_error}`) : ''))));
  }
  add('Analysed', formatDateTime(prediction.created_at));
  add('SHA-256', h('code', { title: prediction.sha256 ?? '', id: 'result-sha256' }, abbreviateHash(prediction.sha256)));
  add('Id', h('code', { id: 'result-id' }, prediction.id ?? '—'));
  return h('dl', { class: 'facts' }, rows);
}

/** Builds the panel for one prediction (the API's prediction object). */
export function renderResult(prediction, { headingLevel = 2 } = {}) {
  const label = prediction.label === 'PNEUMONIA' ? 'PNEUMONIA' : prediction.label === 'NORMAL' ? 'NORMAL' : String(prediction.label ?? '?');
  const style = LABELS[label] ?? { sentence: '', icon: '?' };
  const heading = h(`h${headingLevel}`, { class: 'result__heading', id: 'result-heading' },
    'Result for ', h('span', { id: 'result-filename', class: 'result__filename' }, prediction.filename || '(unnamed file)'));

  return h('section', { class: 'card result', id: 'result', 'data-testid': 'result', 'aria-labelledby': 'result-heading',
                        'data-id': prediction.id ?? '' },
    heading,
    h('div', { class: 'result__grid' },
      imageBlock(prediction),
      h('div', { class: 'result__details' },
        oodBlock(prediction),
        h('div', { class: `verdict verdict--${label.toLowerCase()}${prediction.out_of_distribution ? ' verdict--unreliable' : ''}` },
          h('span', { class: 'verdict__icon', 'aria-hidden': 'true' }, style.icon),
          h('div', {},
            h('p', { class: 'verdict__label', id: 'result-label', 'data-testid': 'result-label' }, label),
            h('p', { class: 'verdict__sentence' }, style.sentence))),
        probabilityBlock(prediction.probability, prediction.threshold),
        reviewBlock(prediction),
        factsBlock(prediction),
        h('p', { class: 'decision-note', id: 'decision-note' },
          h('strong', {}, 'Decision support only — not a diagnosis.'),
          ' A clinician must read the X-ray and decide.'))));
}
