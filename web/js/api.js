// The only place that talks to the pneumo server (routes from docs/http-api.md), and the one
// place where server errors become plain words.

import { csrfToken } from './session.js';

/** An error from the server (status >= 400) or from the network (status 0). */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code);
    this.name = 'ApiError';
    this.status = status;  // HTTP status; 0 when the server could not be reached
    this.code = code;      // the body's error.code, 'network', or 'http_<status>'
    this.detail = detail;  // the body's error.message (may be empty)
  }
}

function errorFromResponse(status, text) {
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the status */ }
  const e = body && typeof body === 'object' ? body.error : null;
  return new ApiError(status, e?.code || `http_${status}`, typeof e?.message === 'string' ? e.message : '');
}

const networkError = () => new ApiError(0, 'network', '');

async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: 'application/json' } });
  } catch {
    throw networkError();
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) throw errorFromResponse(response.status, text);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'bad_response', 'the answer was not JSON');
  }
}

/** GET /api/v1/predictions?page=&per_page=[&accession=] -> {items, page, per_page, total, pages} */
export function listPredictions(page, perPage, accession = '') {
  const q = new URLSearchParams({ page: String(page), per_page: String(perPage) });
  if (accession) q.set('accession', accession);
  return getJson(`/api/v1/predictions?${q}`);
}

/** GET /api/v1/predictions/{id} -> prediction */
export function getPrediction(id) {
  return getJson(`/api/v1/predictions/${encodeURIComponent(id)}`);
}

/** GET /api/v1/model -> model card plus review_band */
export function getModel() {
  return getJson('/api/v1/model');
}

/** Preview image URL of a stored prediction. */
export function imageUrl(id) {
  return `/api/v1/predictions/${encodeURIComponent(id)}/image`;
}

/**
 * POST /api/v1/predictions as a multipart form (field `file`) through XMLHttpRequest, which,
 * unlike fetch, reports upload progress.
 *   onProgress(fraction)  while the bytes go out (fraction in 0..1)
 *   onUploaded()          once every byte is sent and the server is analysing
 * Resolves with the prediction; rejects with an ApiError.
 */
export function uploadPrediction(file, { onProgress = () => {}, onUploaded = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/predictions');
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrfToken()) xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.timeout = 180000;
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.upload.addEventListener('load', () => onUploaded());
    xhr.addEventListener('load', () => {
      if (xhr.status === 0) return reject(networkError());
      if (xhr.status >= 400) return reject(errorFromResponse(xhr.status, xhr.responseText));
      try {
        resolve(JSON.parse(xhr.responseText));
      } catch {
        reject(new ApiError(xhr.status, 'bad_response', 'the answer was not JSON'));
      }
    });
    xhr.addEventListener('error', () => reject(networkError()));
    xhr.addEventListener('timeout', () => reject(new ApiError(0, 'client_timeout', '')));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

function sentence(detail) {
  return String(detail ?? '').trim().replace(/[.;:\s]+$/, '');
}

/** The plain-words message shown to a person for an error from this module. */
export function describeError(err) {
  if (!(err instanceof ApiError)) return `Something went wrong in this page: ${sentence(err?.message)}.`;
  const detail = sentence(err.detail);
  const withDetail = (text) => (detail ? `${text}: ${detail}.` : `${text}.`);
  switch (err.code) {
    case 'network':
      return 'Cannot reach the pneumo server. Check that it is running, then try again.';
    case 'client_timeout':
      return 'The server did not answer in time. Try again in a moment.';
    case 'unsupported_format':
    case 'invalid_image':
    case 'unsupported_media_type':
      return withDetail('This file is not an image we can read');
    case 'empty_body':
    case 'missing_file':
      return 'The file is empty or was not sent. Choose the file again.';
    case 'payload_too_large':
      return withDetail('This file is too large to upload');
    case 'image_too_large':
      return withDetail('This image is too large to analyse');
    case 'busy':
      return 'The server is busy, try again in a moment.';
    case 'timeout':
      return 'The server took too long to analyse the image. Try again in a moment.';
    case 'store_unavailable':
      return 'The result store is unavailable, so results cannot be saved or shown right now. Try again later.';
    case 'not_found':
      return 'There is no prediction with that id.';
    case 'invalid_paging':
      return withDetail('That page does not exist');
    case 'unauthenticated':
      return 'Your session has ended. Reload the page to log in again.';
    case 'forbidden':
      return withDetail('Your account is not allowed to do this');
    default:
      return withDetail(`The server answered with an error (HTTP ${err.status})`);
  }
}
