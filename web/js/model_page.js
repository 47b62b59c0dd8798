// #/model: the model card from GET /api/v1/model, and its limits in plain words.
import { describeError, getModel } from './api.js';
import { h, replaceChildren } from './dom.js';
import { abbreviateHash, formatMetric, formatProbability, humanizeKey } from './format.js';
import { showError } from './notices.js';

const METRIC_NAMES = {
  n: 'Images',
  accuracy: 'Accuracy',
  auc: 'ROC AUC',
  sensitivity: 'Sensitivity (recall)',
  specificity: 'Specificity',
  precision: 'Precision (PPV)',
  f1: 'F1',
  ece: 'Expected calibration error (ECE)',
  brier: 'Brier score',
  threshold: 'Threshold',
  confusion: 'Confusion',
  split: 'Split',
};
const METRIC_ORDER = Object.keys(METRIC_NAMES);

function describeValue(key, value) {
  if (value == null) return '—';
  if (key === 'confusion' && typeof value === 'object') {
    const c = value;
    return `TP ${c.tp ?? '?'} · FN ${c.fn ?? '?'} · FP ${c.fp ?? '?'} · TN ${c.tn ?? '?'}`;
  }
  if (Array.isArray(value)) return value.map((v) => describeValue('', v)).join(', ');
  if (typeof value === 'object') {
    return Object.entries(value).map(([k, v]) => `${humanizeKey(k).toLowerCase()}: ${describeValue(k, v)}`).join('; ');
  }
  return formatMetric(value);
}

/** The object's entries, the keys named in `first` leading in that order. */
function orderedEntries(obj, first) {
  const rank = (k) => (first.includes(k) ? first.indexOf(k) : first.length);
  return Object.entries(obj).sort(([a], [b]) => rank(a) - rank(b));
}

function definitionList(entries, attrs = {}) {
  return h('dl', { class: 'facts', ...attrs },
    entries.filter(([, v]) => v != null && v !== '').map(([term, desc]) => [h('dt', {}, term), h('dd', {}, desc)]));
}

function inputDescription(card) {
  const size = card.input_size ?? card.input?.size;
  if (size == null) return null;
  const side = Array.isArray(size) ? size.join(' × ') : `${size} × ${size}`;
  const channels = card.input?.channels;
  const parts = [`${side} px`];
  if (channels != null) parts.push(channels === 1 ? 'grayscale (1 channel)' : `${channels} channels`);
  if (card.input?.resize) parts.push(card.input.resize);
  return parts.join(', ');
}

function limitsCard() {
  return h('section', { class: 'card limits', id: 'model-limits', 'aria-labelledby': 'limits-heading' },
    h('h2', { id: 'limits-heading' }, 'What this model can and cannot do'),
    h('ul', { class: 'limits__list' },
      h('li', {}, h('strong', {}, 'Not a diagnosis. '),
        'It is decision support: it flags chest X-rays that may show pneumonia for a clinician to review.'),
      h('li', {}, h('strong', {}, 'Trained on children only. '),
        'Pediatric chest X-rays (ages 1 to 5) from one hospital in Guangzhou, China (Kermany et al. 2018).'),
      h('li', {}, h('strong', {}, 'Not validated on adults or at other hospitals. '),
        'Nor on other X-ray devices or lateral views; results there may be wrong.'),
      h('li', {}, 'It does not tell bacterial from viral pneumonia and does not look for any other finding.'),
      h('li', {}, h('strong', {}, 'Every result must be read by a clinician.'))));
}

// Clean validation beside the stress validation's mean and worst case: a new site sees
// something nearer the stressed figures than the clean ones.
function stressCard(validation) {
  const stress = validation?.stress;
  if (!stress || !stress.mean || !stress.worst) return null;
  const rows = ['accuracy', 'auc', 'sensitivity', 'specificity', 'ece'];
  const worstOf = stress.worst.conditions ?? {};
  const count = Array.isArray(stress.conditions) ? stress.conditions.length : 0;
  return h('section', { class: 'card', id: 'model-stress', 'aria-labelledby': 'stress-heading' },
    h('h2', { id: 'stress-heading' }, 'Under acquisition shifts'),
    h('p', { class: 'muted' },
      `The same validation patients under ${count} simulated differences between hospitals and devices `
      + '(exposure, contrast, processing, blur, noise, compression, framing, borders, markers). '
      + 'Expect figures nearer these than the clean ones at another hospital.'),
    h('table', { class: 'metrics', 'data-testid': 'model-stress' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Metric'), h('th', { scope: 'col' }, 'Clean'),
        h('th', { scope: 'col' }, 'Stress, mean'), h('th', { scope: 'col' }, 'Stress, worst case'))),
      h('tbody', {}, rows.map((k) => h('tr', { 'data-key': k },
        h('th', { scope: 'row' }, METRIC_NAMES[k] ?? humanizeKey(k)),
        h('td', {}, describeValue(k, validation[k])),
        h('td', { 'data-stress': 'mean' }, describeValue(k, stress.mean[k])),
        h('td', { 'data-stress': 'worst' }, describeValue(k, stress.worst[k]),
          worstOf[k] ? h('span', { class: 'muted small' }, ` (${humanizeKey(worstOf[k]).toLowerCase()})`) : null))))));
}

function validationCard(validation) {
  const keys = Object.keys(validation ?? {}).filter((k) => k !== 'stress');
  if (!keys.length) return null;
  keys.sort((a, b) => {
    const ia = METRIC_ORDER.indexOf(a), ib = METRIC_ORDER.indexOf(b);
    return (ia < 0 ? 1e3 : ia) - (ib < 0 ? 1e3 : ib);
  });
  return h('section', { class: 'card', 'aria-labelledby': 'validation-heading' },
    h('h2', { id: 'validation-heading' }, 'Validation'),
    h('p', { class: 'muted' }, 'Measured on patients held out from training (never trained on).'),
    h('table', { class: 'metrics', id: 'model-validation', 'data-testid': 'model-validation' },
      h('caption', { class: 'visually-hidden' }, 'Validation figures'),
      h('tbody', {}, keys.map((k) => h('tr', { 'data-key': k },
        h('th', { scope: 'row' }, METRIC_NAMES[k] ?? humanizeKey(k)),
        h('td', {}, describeValue(k, validation[k])))))));
}

function trainingCard(training) {
  if (!training || typeof training !== 'object') return null;
  const data = training.data ?? {};
  return h('section', { class: 'card', 'aria-labelledby': 'training-heading' },
    h('h2', { id: 'training-heading' }, 'Training data'),
    definitionList([
      ['Data set', data.directory ? `${data.directory} (Kermany et al. 2018, pediatric chest X-rays)` : null],
      ['Images in the folder', data.images != null ? formatMetric(data.images) : null],
      ['Trained on', data.train_images != null
        ? `${formatMetric(data.train_images)} images of ${formatMetric(data.train_patients ?? 0)} patients` : null],
      ['Data fingerprint', data.fingerprint_sha256
        ? h('code', { title: data.fingerprint_sha256 }, abbreviateHash(data.fingerprint_sha256)) : null],
      ['Epochs', training.epochs_run != null
        ? `${training.epochs_run} run, best at epoch ${training.best_epoch ?? '?'}` : null],
      ['Trained', training.date ?? null],
    ]));
}

function render(card) {
  const threshold = card.threshold;
  const band = card.review_band;
  return [
    limitsCard(),
    h('div', { class: 'model-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'identity-heading' },
        h('h2', { id: 'identity-heading' }, 'Model'),
        definitionList([
          ['Name', h('span', { id: 'model-name' }, card.name ?? '—')],
          ['Version', h('span', { id: 'model-version' }, card.version ?? '—')],
          ['Architecture', card.architecture ?? null],
          ['Input', inputDescription(card)],
          ['Weights', card.weights?.sha256
            ? h('code', { title: card.weights.sha256 }, abbreviateHash(card.weights.sha256)) : null],
        ])),
      h('section', { class: 'card', 'aria-labelledby': 'threshold-heading' },
        h('h2', { id: 'threshold-heading' }, 'Decision threshold'),
        h('p', { class: 'big-number', id: 'model-threshold', 'data-testid': 'model-threshold',
                 'data-threshold': threshold }, formatProbability(threshold)),
        h('p', {}, 'The result is PNEUMONIA when the calibrated probability reaches this threshold.'),
        band != null
          ? h('p', { id: 'model-review-band' },
              `Results within ${formatProbability(band)} of the threshold are marked for careful review.`)
          : null,
        card.threshold_rule ? h('p', { class: 'muted small' }, h('strong', {}, 'How it was chosen: '), card.threshold_rule) : null,
        card.temperature != null
          ? h('p', { class: 'muted small' }, h('strong', {}, 'Calibration: '),
              `p = sigmoid(logit / ${formatMetric(card.temperature)}${card.bias != null ? ` + ${formatMetric(card.bias)}` : ''}).`)
          : null)),
    validationCard(card.validation),
    stressCard(card.validation),
    h('div', { class: 'model-grid' },
      trainingCard(card.training),
      card.intended_use
        ? h('section', { class: 'card', 'aria-labelledby': 'use-heading' },
            h('h2', { id: 'use-heading' }, 'Intended use'),
            typeof card.intended_use === 'string'
              ? h('p', {}, card.intended_use)
              : definitionList(orderedEntries(card.intended_use, ['use', 'population', 'limits'])
                  .map(([k, v]) => [humanizeKey(k), String(v)])))
        : null),
  ];
}

export function mount(main) {
  const body = h('div', { class: 'model__body' }, h('p', { class: 'lead' }, 'Loading…'));
  main.append(h('section', { class: 'page page--model', 'aria-labelledby': 'model-heading' },
    h('h1', { id: 'model-heading', tabindex: '-1' }, 'About the model'),
    body));
  getModel().then((card) => {
    if (body.isConnected) replaceChildren(body, render(card));
  }).catch((err) => {
    if (!body.isConnected) return;
    replaceChildren(body, h('p', { class: 'lead' }, 'The model card could not be loaded.'), limitsCard());
    showError(describeError(err));
  });
  return { title: 'Model' };
}
