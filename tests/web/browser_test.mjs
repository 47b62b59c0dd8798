// Browser test of the pneumo web UI: starts the real `pneumo serve` (accounts on, as shipped) on
// a free local port with a fresh SQLite store and the UI served from web/ on disk, then drives
// Debian's headless Chromium through playwright-core (no browser download) as a person would:
// log in with the first admin's one-time password and choose a new one, upload a real X-ray,
// read the result, toggle the heatmap, browse the history, read the model page, upload a file
// that is not an image, add a doctor and give them a token on the admin page, log out, log in
// as the doctor (who sees none of the admin's studies), and log out again.
//
//   node tests/web/browser_test.mjs [--binary build/pneumo] [--artifacts build/artifacts]
//
// Exit status: 0 passed, 1 failed, 77 not run (../shared/data/chest_xray absent).
// Screenshots (full page) go to the artifacts folder: ui-result.png, ui-result-tablet.png,
// ui-history.png, ui-model.png, ui-upload-error.png, ui-login.png, ui-admin.png; the printed report
// as ui-report.pdf.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const CHROMIUM = process.env.PNEUMO_CHROMIUM || '/usr/bin/chromium';

const { values: args } = parseArgs({
  options: {
    binary: { type: 'string', default: process.env.PNEUMO_BINARY || path.join(repo, 'build', 'pneumo') },
    artifacts: { type: 'string', default: process.env.PNEUMO_ARTIFACTS || path.join(repo, 'build', 'artifacts') },
    data: { type: 'string', default: path.resolve(repo, '..', 'shared', 'data', 'chest_xray') },
  },
});

// --- Preconditions: a missing tool is a setup error (fail); missing data means "not run" (77).
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.error(`FAILED: playwright-core is not installed in ${path.join(here, 'node_modules')} ` +
                `(${err.code ?? err.message}). Run scripts/setup.sh (it runs npm ci --prefix tests/web).`);
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAILED: ${CHROMIUM} not found. Run scripts/setup.sh (it installs Debian's chromium).`);
  process.exit(1);
}
if (!fs.existsSync(args.data)) {
  console.log('NOT run: ../shared/data/chest_xray not found');
  process.exit(77);
}
const binary = path.resolve(args.binary);
if (!fs.existsSync(binary)) {
  console.error(`FAILED: pneumo binary not found at ${binary}. Build it (scripts/setup.sh) or pass --binary.`);
  process.exit(1);
}
const pneumoniaDir = path.join(args.data, 'train', 'PNEUMONIA');
const xrayName = fs.readdirSync(pneumoniaDir).filter((f) => /\.(jpe?g|png|dcm)$/i.test(f)).sort()[0];
if (!xrayName) {
  console.error(`FAILED: no X-ray found in ${pneumoniaDir}`);
  process.exit(1);
}
const xrayPath = path.join(pneumoniaDir, xrayName);
const artifacts = path.resolve(args.artifacts);
fs.mkdirSync(artifacts, { recursive: true });

// --- The server ---------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pneumo-web-'));
let server = null;       // ChildProcess
let serverLog = '';      // its stdout and stderr, shown when something fails
let fullServerLog = '';  // all of it, scanned for uploaded file names
let base = '';           // http://127.0.0.1:PORT

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const port = await freePort();
  const child = spawn(binary, [
    'serve', '--listen', `127.0.0.1:${port}`, '--store', storeUrl,
    '--web-root', path.join(repo, 'web'),
  ], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => { serverLog = (serverLog + chunk).slice(-20000); fullServerLog += chunk; };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (exited) return { child, url, exited };
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) return { child, url };
    } catch { /* not listening yet */ }
    await sleep(200);
  }
  return { child, url, exited: { code: 'not ready within 60 s' } };
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const gone = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

// Kill the server however this process ends.
process.on('exit', () => { if (server && server.exitCode === null) server.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { if (server) server.kill('SIGKILL'); process.exit(1); });
}

const storeUrl = `sqlite:${path.join(tmp, 'results.db')}`;
let apiToken = '';  // the admin's API token, for the test's own API calls (made after the login)

/** `pneumo ARGS` against the test's store; the last line of its stdout. */
function pneumoCli(...cliArgs) {
  const out = execFileSync(binary, [...cliArgs, '--store', storeUrl], { encoding: 'utf8' });
  return out.trim().split('\n').pop();
}

function authorized(headers = {}) {
  return apiToken ? { ...headers, Authorization: `Bearer ${apiToken}` } : headers;
}

async function api(route) {
  const r = await fetch(base + route, { headers: authorized() });
  assert.equal(r.status, 200, `GET ${route} answered ${r.status}`);
  return r.json();
}

// --- The browser --------------------------------------------------------------------------

let browser;
let page;
const problems = [];          // console errors, page errors, failed or foreign requests
let expectedErrorPath = null;  // while set, the browser's note about a 4xx answer of this path is expected
let fileChoosers = 0;           // file choosers the page has opened

function isLocal(url) {
  const u = new URL(url);
  if (!u.protocol.startsWith('http') && u.protocol !== 'ws:' && u.protocol !== 'wss:') return true;  // data:, blob:
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
}

before(async () => {
  let started = await startServer();
  if (started.exited) {  // e.g. the port was taken between probing and binding: try once more
    await sleep(500);
    started = await startServer();
  }
  server = started.child;
  base = started.url;
  if (started.exited) {
    throw new Error(`pneumo serve did not become ready (${JSON.stringify(started.exited)}):\n${serverLog}`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
           '--disable-extensions', '--disable-background-networking', '--disable-component-update'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  // Listening from the start keeps file-chooser interception on for the whole run (turning it
  // on per wait races with the key press that opens the chooser).
  page.on('filechooser', () => { fileChoosers += 1; });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url ?? '';
    const expected = expectedErrorPath !== null && /status of 4\d\d/.test(msg.text()) &&
                     (where === '' || new URL(where, base).pathname === expectedErrorPath);
    if (!expected) problems.push(`console error: ${msg.text()} (${where})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (req) => {
    if (!isLocal(req.url())) problems.push(`request to a non-local host: ${req.url()}`);
  });
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    // Navigating away cancels lazy thumbnails still loading: that is not a failure.
    if (why !== 'net::ERR_ABORTED') problems.push(`request failed: ${req.method()} ${req.url()} ${why}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 500) problems.push(`server error: ${res.status()} ${res.request().method()} ${res.url()}`);
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The page's way of writing a probability (web/js/format.js). */
function shown(p) {
  if (p >= 0.9995 && p < 1) return '> 0.999';
  if (p > 0 && p < 0.0005) return '< 0.001';
  return p.toFixed(3);
}

async function screenshot(name) {
  await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
}

/** Page-wide checks that every view must pass (the login page has no navigation to offer). */
async function checkPage(what, landmarks = ['header', 'nav', 'main', 'footer']) {
  const facts = await page.evaluate((wanted) => ({
    lang: document.documentElement.lang,
    landmarks: wanted.filter((t) => !document.querySelector(t)),
    h1: [...document.querySelectorAll('main h1')].filter((e) => !e.closest('[hidden]')).length,
    imgsWithoutAlt: [...document.querySelectorAll('img:not([alt])')].map((i) => i.src),
    unnamedButtons: [...document.querySelectorAll('button')]
      .filter((b) => !(b.textContent.trim() || b.getAttribute('aria-label'))).length,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  }), landmarks);
  assert.equal(facts.lang, 'en', `${what}: <html lang>`);
  assert.deepEqual(facts.landmarks, [], `${what}: missing landmarks`);
  assert.equal(facts.h1, 1, `${what}: one visible h1 in main`);
  assert.deepEqual(facts.imgsWithoutAlt, [], `${what}: images without alt`);
  assert.equal(facts.unnamedButtons, 0, `${what}: buttons without a name`);
  assert.ok(facts.overflow <= 0, `${what}: page scrolls sideways by ${facts.overflow} px`);
}

// --- The tests, in order: each builds on the one before --------------------------------------

let uploaded;  // the prediction the API stored for the X-ray uploaded through the page
const adminPassword = 'correct horse battery staple';

/** Logs in on the login page; with a one-time password, chooses `newPassword` there too. */
async function logIn(user, password, newPassword) {
  await page.waitForSelector('#login-form');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  if (newPassword) {
    await page.waitForSelector('#change-section:not([hidden])');
    await checkPage('change password', ['header', 'main', 'footer']);
    await page.fill('#change-new', newPassword);
    await page.fill('#change-repeat', newPassword);
    await page.click('#change-submit');
  }
}

test('a visitor is sent to the login page; the first admin logs in and replaces the one-time password', async () => {
  const oneTime = pneumoCli('user', 'add', 'admin', '--role', 'admin');
  assert.match(oneTime, /^\S{12,}$/, 'pneumo user add prints a one-time password last');
  await page.goto(`${base}/`);
  await page.waitForURL(/\/static\/login\.html\?next=/);
  await checkPage('login', ['header', 'main', 'footer']);
  await screenshot('ui-login.png');
  // A wrong password is refused in plain words and the form stays.
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', 'not the password');
  expectedErrorPath = '/api/v1/session';  // the browser notes the 401 in its console
  await page.click('#login-submit');
  await page.waitForSelector('#error-message:not([hidden])');
  expectedErrorPath = null;
  assert.match(await page.textContent('#error-message'), /password/i);
  // The one-time password gets the change form; a short new one is refused before it is sent.
  await page.fill('#login-password', oneTime);
  await page.click('#login-submit');
  await page.waitForSelector('#change-section:not([hidden])');
  await page.fill('#change-new', 'short');
  await page.fill('#change-repeat', 'short');
  await page.click('#change-submit');
  assert.match(await page.textContent('#error-message'), /at least 12 characters/);
  await page.fill('#change-new', adminPassword);
  await page.fill('#change-repeat', adminPassword);
  await page.click('#change-submit');
  await page.waitForSelector('#drop-zone');
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal((await page.textContent('[data-testid=session-user]')).trim(), 'admin');
  assert.ok(await page.$('#nav-admin'), 'an admin sees the Admin link');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.httpOnly);
  assert.ok(session, `an HttpOnly session cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(session.sameSite, 'Strict');
  // The password change ended every earlier credential: the test's own token is made now.
  apiToken = pneumoCli('token', 'create', 'admin', '--label', 'browser test');
  assert.match(apiToken, /^pnm_[0-9a-f]{16}_[0-9a-f]{64}$/);
  const anonymous = await fetch(`${base}/api/v1/predictions`);
  assert.equal(anonymous.status, 401, 'the API refuses a request without credentials');
});

test('upload page analyses a real chest X-ray and shows the stored result', async () => {
  await page.goto(`${base}/`);
  await page.waitForSelector('#drop-zone');
  await checkPage('upload page');
  // Record what the status line says while the upload runs ("Uploading…", "Analysing…", ...).
  await page.evaluate(() => {
    const status = document.querySelector('#upload-status');
    window.__statusTexts = [];
    new MutationObserver(() => window.__statusTexts.push(status.textContent))
      .observe(status, { childList: true, characterData: true, subtree: true });
  });
  await page.setInputFiles('#file-input', xrayPath);
  await page.waitForSelector('#result-label', { timeout: 60000 });

  const id = await page.getAttribute('#result', 'data-id');
  assert.match(id, /^[A-Za-z0-9_-]{26}$/, 'the result carries the prediction id');
  uploaded = await api(`/api/v1/predictions/${id}`);
  const label = (await page.textContent('#result-label')).trim();
  assert.ok(label === 'PNEUMONIA' || label === 'NORMAL', `label is ${label}`);
  assert.equal(label, uploaded.label, 'the page shows the label the API stored');
  assert.equal(uploaded.filename, xrayName);
  assert.equal((await page.textContent('#result-filename')).trim(), xrayName);

  const probabilityText = await page.textContent('#result-probability');
  assert.ok(probabilityText.includes(shown(uploaded.probability)),
            `probability ${shown(uploaded.probability)} in "${probabilityText}"`);
  assert.ok(probabilityText.includes(shown(uploaded.threshold)),
            `threshold ${shown(uploaded.threshold)} in "${probabilityText}"`);
  const fill = await page.$eval('.prob-bar__fill', (el) => el.style.width);
  assert.equal(parseFloat(fill).toFixed(1), (uploaded.probability * 100).toFixed(1), 'bar length');

  const review = await page.$('#review-warning');
  assert.equal(Boolean(review), uploaded.review, 'review warning shown exactly when review is true');
  if (review) {
    const text = await review.textContent();
    for (const reason of uploaded.review_reasons) assert.ok(text.includes(reason), `reason "${reason}" shown`);
  }
  assert.match(await page.textContent('#decision-note'), /Decision support only — not a diagnosis\./);
  assert.ok((await page.textContent('#result-model')).includes(uploaded.model.version), 'model version');
  assert.ok((await page.getAttribute('#result-sha256', 'title')) === uploaded.sha256, 'sha256');

  const statusTexts = await page.evaluate(() => window.__statusTexts);
  assert.ok(statusTexts.some((t) => t.startsWith('Analysing')), `status went through Analysing…: ${statusTexts}`);
  assert.ok((await page.textContent('#upload-status')).startsWith(`Done: ${uploaded.label}`));

  const preview = await page.$eval('#result-image', (img) => ({ src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0 }));
  assert.equal(preview.src, uploaded.links.image);
  await page.waitForFunction(() => {
    const img = document.querySelector('#result-image');
    return img.complete && img.naturalWidth > 0;
  });
  await checkPage('result');
  await screenshot('ui-result.png');
});

test('the heatmap toggle loads the heatmap image on demand', async (t) => {
  if (!uploaded) return t.skip('needs the upload of the first test');
  const toggle = page.locator('#heatmap-toggle');
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  const heatmapUrl = uploaded.links.heatmap;
  await page.waitForFunction((url) => {
    const img = document.querySelector('#result-image');
    return img.getAttribute('src') === url && img.complete && img.naturalWidth > 0;
  }, heatmapUrl, { timeout: 30000 });
  const src = await page.$eval('#result-image', (img) => new URL(img.src).pathname);
  assert.equal(src, heatmapUrl);
  assert.match(await page.textContent('#image-caption'), /Heatmap/);
  // At tablet width the page must still fit.
  await page.setViewportSize({ width: 768, height: 1024 });
  await checkPage('result at 768 px');
  await screenshot('ui-result-tablet.png');
  await page.setViewportSize({ width: 1280, height: 900 });
  // And back to the X-ray.
  await toggle.click();
  assert.equal(await page.getAttribute('#result-image', 'src'), uploaded.links.image);
});

test('the drop zone opens the file picker from the keyboard', async () => {
  for (const key of ['Enter', 'Space']) {
    await page.focus('#drop-zone');
    const before = fileChoosers;
    await page.keyboard.press(key);
    const deadline = Date.now() + 5000;
    while (fileChoosers === before && Date.now() < deadline) await sleep(50);
    assert.equal(fileChoosers, before + 1, `${key} on the drop zone opens the file picker`);
  }
  const accept = await page.getAttribute('#file-input', 'accept');
  for (const kind of ['.jpg', '.jpeg', '.png', '.dcm', 'application/dicom']) assert.ok(accept.includes(kind), `accept has ${kind}`);
});

test('history lists the upload and opens its detail view', async (t) => {
  if (!uploaded) return t.skip('needs the upload of the first test');
  await page.click('#nav-history');
  await page.waitForSelector('#history-table');
  await checkPage('history');
  const row = page.locator(`#history-table tbody tr[data-id="${uploaded.id}"]`);
  assert.equal(await row.count(), 1, 'the uploaded prediction has a row');
  assert.ok((await row.textContent()).includes(xrayName), 'row shows the file name');
  assert.ok((await row.textContent()).includes(shown(uploaded.probability)), 'row shows the probability');
  assert.equal(await row.locator('img').getAttribute('loading'), 'lazy');
  assert.equal(await row.locator('img').getAttribute('src'), `/api/v1/predictions/${uploaded.id}/image`);
  const list = await api('/api/v1/predictions?page=1&per_page=20');
  assert.equal((await page.textContent('#page-info')).trim().startsWith(`Page 1 of ${list.pages}`), true);
  assert.equal(await page.isDisabled('#prev-page'), true, 'no page before the first');
  assert.equal(await page.isDisabled('#next-page'), list.pages <= 1);
  await page.waitForFunction(() => [...document.querySelectorAll('#history-table img')].every((i) => i.complete));
  await screenshot('ui-history.png');

  await row.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => location.hash === `#/history/${id}`, uploaded.id);
  await page.waitForSelector('#result-label');
  assert.equal((await page.textContent('#result-label')).trim(), uploaded.label);
  assert.equal(await page.getAttribute('#result', 'data-id'), uploaded.id);
  await checkPage('history detail');
});

test('the detail page prints a report with the X-ray, the heatmap, the verdict and the disclaimer', async (t) => {
  if (!uploaded) return t.skip('needs the upload of the first test');
  await page.goto(`${base}/#/history/${uploaded.id}`);
  await page.waitForSelector('#print-report');
  // Printing is the browser's dialog: stub it, click, and check what the stylesheet prints.
  await page.evaluate(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  await page.click('#print-report');
  await page.waitForFunction(() => window.__printed === 1);
  await page.emulateMedia({ media: 'print' });
  const shown = await page.evaluate(() => {
    const visible = (sel) => { const e = document.querySelector(sel); return !!e && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0; };
    const heat = document.querySelector('#print-heatmap');
    return {
      nav: visible('.site-nav'), button: visible('#print-report'), toggle: visible('#heatmap-toggle'),
      xray: visible('#result-image'), heatmap: visible('#print-heatmap') && heat.complete && heat.naturalWidth > 0,
      heatmapSrc: heat?.getAttribute('src'), verdict: visible('#result-label'), probability: visible('#result-probability'),
      model: visible('#result-model'), disclaimer: visible('#decision-note'),
    };
  });
  assert.deepEqual(shown, { nav: false, button: false, toggle: false, xray: true, heatmap: true,
                            heatmapSrc: uploaded.links.heatmap, verdict: true, probability: true,
                            model: true, disclaimer: true });
  await page.pdf({ path: path.join(artifacts, 'ui-report.pdf'), format: 'A4', printBackground: true });
  assert.ok(fs.statSync(path.join(artifacts, 'ui-report.pdf')).size > 10000, 'a PDF of the report');
  await page.emulateMedia({ media: 'screen' });
  assert.equal(await page.isVisible('#print-heatmap'), false, 'on screen the print-only heatmap is hidden');
});

test('the model page shows the threshold, validation and limits', async () => {
  await page.click('#nav-model');
  await page.waitForSelector('#model-threshold');
  await checkPage('model');
  const card = await api('/api/v1/model');
  assert.equal((await page.textContent('#model-threshold')).trim(), shown(card.threshold));
  assert.equal((await page.textContent('#model-version')).trim(), card.version);
  const validation = await page.textContent('#model-validation');
  if (typeof card.validation?.auc === 'number') assert.ok(validation.includes(card.validation.auc.toFixed(4)), 'AUC shown');
  if (card.validation?.stress) {
    const stress = await page.textContent('[data-testid=model-stress]');
    for (const which of ['mean', 'worst']) {
      const value = card.validation.stress[which].accuracy.toFixed(4);
      assert.ok(stress.includes(value), `stress ${which} accuracy ${value} shown beside the clean figures`);
    }
  }
  const limits = await page.textContent('#model-limits');
  for (const words of [/not a diagnosis/i, /pediatric/i, /adults/i, /other hospitals/i, /clinician/i]) {
    assert.match(limits, words);
  }
  await screenshot('ui-model.png');
});

test('history pages through more than 20 predictions', async (t) => {
  if (!uploaded) return t.skip('needs the upload of the first test');
  // 20 more through the API (raw bytes), so the page's upload is the oldest, alone on page 2.
  const bytes = fs.readFileSync(xrayPath);
  for (let i = 1; i <= 20; i++) {
    const r = await fetch(`${base}/api/v1/predictions?filename=paging-${String(i).padStart(2, '0')}.jpeg`,
                          { method: 'POST', headers: authorized({ 'Content-Type': 'image/jpeg' }), body: bytes });
    assert.equal(r.status, 201, `API upload ${i}`);
  }
  await page.click('#nav-history');
  await page.waitForSelector('#history-table');
  assert.match(await page.textContent('#page-info'), /^Page 1 of 2\b/);
  assert.match(await page.textContent('#history-total'), /^21 predictions/);
  assert.equal(await page.locator('#history-table tbody tr').count(), 20);
  assert.equal(await page.locator(`#history-table tr[data-id="${uploaded.id}"]`).count(), 0, 'oldest is not on page 1');
  await page.click('#next-page');
  await page.waitForFunction(() => document.querySelector('#page-info')?.textContent.startsWith('Page 2 of 2'));
  assert.equal(await page.locator('#history-table tbody tr').count(), 1);
  assert.equal(await page.locator(`#history-table tr[data-id="${uploaded.id}"]`).count(), 1, 'oldest is on page 2');
  assert.equal(await page.isDisabled('#next-page'), true);
  await page.click('#prev-page');
  await page.waitForFunction(() => document.querySelector('#page-info')?.textContent.startsWith('Page 1 of 2'));
});

test('a file that is not an image gives a plain-words error and the page keeps working', async (t) => {
  if (!uploaded) return t.skip('needs the upload of the first test');
  const fake = path.join(tmp, 'notes.jpg');
  fs.writeFileSync(fake, 'These are notes, not an X-ray.\n');
  await page.click('#nav-upload');
  await page.waitForSelector('#drop-zone');
  expectedErrorPath = '/api/v1/predictions';
  await page.setInputFiles('#file-input', fake);
  await page.waitForSelector('#error-message:not([hidden])');
  expectedErrorPath = null;
  const message = (await page.textContent('#error-message')).trim();
  assert.match(message, /This file is not an image we can read/);
  assert.equal(await page.getAttribute('#error-message', 'role'), 'alert');
  assert.equal(await page.$('#result'), null, 'no result is shown for a failed upload');
  await screenshot('ui-upload-error.png');

  // The page still works: the same X-ray again gives a result and clears the error.
  await page.setInputFiles('#file-input', xrayPath);
  await page.waitForSelector('#result-label', { timeout: 60000 });
  assert.equal((await page.textContent('#result-label')).trim(), uploaded.label);
  assert.equal(await page.isHidden('#error-message'), true);
});

test('a picture that is not a chest X-ray is marked so, above the verdict', async () => {
  // A grayscale checkerboard from Debian's scikit-image pictures (scripts/fetch_ood_negatives.sh).
  const picture = path.join(path.dirname(artifacts), 'ood-negatives', 'chessboard_GRAY.png');
  assert.ok(fs.existsSync(picture), `${picture} is missing: scripts/setup.sh fetches it`);
  await page.click('#nav-upload');
  await page.waitForSelector('#drop-zone');
  await page.setInputFiles('#file-input', picture);
  await page.waitForSelector('#result-label', { timeout: 60000 });
  const id = await page.getAttribute('#result', 'data-id');
  const stored = await api(`/api/v1/predictions/${id}`);
  assert.equal(stored.out_of_distribution, true, `ood_score ${stored.ood_score}`);
  assert.equal(stored.review_reasons[0], 'does not look like a frontal chest X-ray');
  assert.match(await page.textContent('#ood-warning'), /does not look like a frontal chest X-ray/);
  assert.ok(await page.$('.verdict--unreliable'), 'the verdict is shown, marked unreliable');
  await screenshot('ui-not-a-chest-xray.png');
});

let doctorPassword = '';  // the doctor's one-time password, from the admin page

test('the admin page adds a doctor, gives them a token, and the audit trail shows both', async () => {
  await page.goto(`${base}/`);
  await page.waitForSelector('#nav-admin');
  await page.click('#nav-admin');
  await page.waitForSelector('[data-testid=users-table] tr[data-user="admin"]');
  await checkPage('admin');
  await page.fill('#new-user-name', 'dora');
  await page.selectOption('#new-user-role', 'doctor');
  await page.click('#new-user-submit');
  await page.waitForSelector('#secret-notice:not([hidden])');
  doctorPassword = (await page.textContent('#secret-value')).trim();
  assert.match(doctorPassword, /^\S{12,}$/, 'the one-time password is shown once');
  assert.match(await page.textContent('#secret-label'), /dora \(doctor\)/);
  const row = page.locator('[data-testid=users-table] tr[data-user="dora"]');
  await row.waitFor();
  assert.match(await row.textContent(), /doctor.*must change password/);
  await page.click('#secret-dismiss');
  assert.equal(await page.textContent('#secret-value'), '', 'the secret is cleared when dismissed');

  await row.getByRole('button', { name: 'Tokens' }).click();
  await page.waitForFunction(() => document.querySelector('#tokens-user').textContent === 'dora');
  await page.fill('#token-label', 'reading room script');
  await page.click('#token-submit');
  await page.waitForSelector('#secret-notice:not([hidden])');
  const token = (await page.textContent('#secret-value')).trim();
  assert.match(token, /^pnm_[0-9a-f]{16}_[0-9a-f]{64}$/);
  await page.click('#secret-dismiss');
  const tokenRow = page.locator('[data-testid=tokens-table] tbody tr');
  assert.equal(await tokenRow.count(), 1);
  assert.match(await tokenRow.textContent(), /reading room script.*active/);
  const asDora = await fetch(`${base}/api/v1/predictions`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(asDora.status, 200, 'the token made on the page works');
  assert.equal((await asDora.json()).total, 0, 'a new doctor sees none of the admin\'s studies');
  await page.locator('[data-testid=tokens-table] button', { hasText: 'Revoke' }).click();
  await page.waitForFunction(() => /revoked/.test(document.querySelector('[data-testid=tokens-table] tbody').textContent));
  const revoked = await fetch(`${base}/api/v1/predictions`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(revoked.status, 401, 'a revoked token stops at once');

  // The trail reloads after each change; wait for the last one.
  await page.waitForFunction(() => document.querySelector('[data-testid=audit-table]').textContent.includes('token.revoke'));
  const audit = await page.textContent('[data-testid=audit-table]');
  for (const action of ['user.create', 'token.create', 'token.revoke']) assert.ok(audit.includes(action), `audit shows ${action}`);
  // The filter finds the admin's web login among the many views and uploads of the run.
  await page.fill('#audit-action', 'session.');
  await page.press('#audit-action', 'Enter');
  await page.waitForFunction(() => /session\.login/.test(document.querySelector('[data-testid=audit-table] tbody').textContent));
  const actions = await page.$$eval('[data-testid=audit-table] tbody tr td:nth-child(4)', (cells) => cells.map((c) => c.textContent));
  assert.ok(actions.length > 0 && actions.every((a) => a.startsWith('session.')), `only session.* entries: ${actions}`);
  await screenshot('ui-admin.png');
});

test('logging out ends the session; the doctor logs in and sees only their own history', async (t) => {
  if (!doctorPassword) return t.skip('needs the doctor of the admin test');
  await page.click('#logout-button');
  await page.waitForURL(/\/static\/login\.html/);
  const who = await page.evaluate(async () => (await fetch('/api/v1/session')).json());
  assert.deepEqual(who, { accounts: true, user: null }, 'the session is gone on the server');
  await page.goto(`${base}/#/history`);
  await page.waitForURL(/\/static\/login\.html\?next=/);

  await logIn('dora', doctorPassword, 'dora chooses a long one');
  await page.waitForSelector('#history-table, .card.empty');
  assert.equal((await page.textContent('[data-testid=session-user]')).trim(), 'dora');
  assert.equal(await page.$('#nav-admin'), null, 'a doctor has no Admin link');
  assert.equal(await page.locator('#history-table tbody tr').count(), 0, 'none of the admin\'s studies');
  assert.match(await page.textContent('.card.empty'), /No predictions yet/);
  await page.click('#logout-button');
  await page.waitForURL(/\/static\/login\.html/);
});

test('no console errors, no failed requests and nothing fetched from other hosts', () => {
  assert.deepEqual(problems, []);
});

test('the server log names no uploaded file (health data stays out of the logs)', () => {
  for (const name of [xrayName, 'notes.jpg', 'chessboard_GRAY.png', 'paging-01.jpeg']) {
    assert.equal(fullServerLog.includes(name), false, `the server log names ${name}`);
  }
  assert.ok(fullServerLog.includes('event=http_request'), 'the log was captured');
});

process.on('exit', (code) => {
  if (code !== 0 && serverLog) console.error(`--- pneumo serve output (last lines) ---\n${serverLog.slice(-4000)}`);
  if (code === 0 || fs.existsSync(path.join(artifacts, 'ui-result.png'))) console.log(`screenshots in ${artifacts}`);
});
