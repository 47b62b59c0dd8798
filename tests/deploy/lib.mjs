// Helpers for the node deploy tests: free ports, HTTP(S) requests, multipart uploads, test
// X-rays, the local stack (deploy/local/stack.sh) and Prometheus queries.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const stackScript = path.join(repo, 'deploy/local/stack.sh');
export const binary = process.env.PNEUMO_BINARY || path.join(repo, 'build/pneumo');
export const sharedData = process.env.PNEUMO_SHARED_DATA_DIR || path.join(repo, '../shared/data/chest_xray');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Checks that print as they go; `finish` exits non-zero when one failed.
let failures = 0;
export function check(ok, what) {
  console.log(`${ok ? 'ok   ' : 'FAIL '} ${what}`);
  if (!ok) failures++;
  return ok;
}
export function failed() { return failures; }
export function finish() {
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exitCode = failures ? 1 : 0;
}

// n distinct ports that nothing listened on a moment ago (the kernel's choice).
export async function freePorts(n) {
  const servers = [];
  const ports = [];
  while (ports.length < n) {
    const server = net.createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    ports.push(server.address().port);
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

// The stack admin's API token (`stack.sh token`), sent by request() with every request that sets
// no Authorization header of its own; '' sends none.
let bearerToken = '';
export function useBearerToken(token) { bearerToken = token; }

// One request; never throws for HTTP statuses. `ca` verifies a self-signed certificate.
// Resolves {status, headers, body (Buffer), text, json()} or {status: 0, error} when the
// connection fails. `anonymous` sends no token.
export function request(url, { method = 'GET', headers = {}, body, ca, timeoutMs = 15000, anonymous = false } = {}) {
  if (bearerToken && !anonymous && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
    headers = { ...headers, Authorization: `Bearer ${bearerToken}` };
  }
  return new Promise((resolve) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, { method, headers, ca, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        const text = buffer.toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, body: buffer, text,
                  json: () => { try { return JSON.parse(text); } catch { return null; } } });
      });
      res.on('error', (error) => resolve({ status: 0, error }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, error, text: '', json: () => null }));
    if (body) req.write(body);
    req.end();
  });
}

// A multipart/form-data body with the image in field `file`.
export function multipart(filename, bytes, type = 'image/jpeg') {
  const boundary = `----pneumo${Math.random().toString(16).slice(2)}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
                `Content-Type: ${type}\r\n\r\n`),
    bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return { body, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`,
                            'Content-Length': body.length } };
}

export function upload(url, image, { ca, headers = {}, timeoutMs, anonymous } = {}) {
  const form = multipart(image.name, image.bytes, image.type);
  return request(url, { method: 'POST', headers: { ...form.headers, ...headers }, body: form.body, ca, timeoutMs, anonymous });
}

// Test X-rays: real ones from ../shared/data/chest_xray/train when present (both classes),
// else synthetic grayscale PNGs (said so on stdout).
export function testImages(count = 8) {
  const images = [];
  for (const label of ['NORMAL', 'PNEUMONIA']) {
    const dir = path.join(sharedData, 'train', label);
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, Math.ceil(count / 2));
    for (const f of files) images.push({ name: f, bytes: readFileSync(path.join(dir, f)), type: 'image/jpeg' });
  }
  if (images.length) {
    console.log(`test images: ${images.length} real X-rays from ${sharedData}/train`);
    return images;
  }
  console.log(`NOTE: ${sharedData}/train is absent: uploading synthetic grayscale PNGs instead of real X-rays`);
  for (let i = 0; i < count; i++) {
    images.push({ name: `synthetic-${i}.png`, bytes: syntheticXrayPng(256, 256, i), type: 'image/png' });
  }
  return images;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([length, td, crc]);
}
// A grayscale PNG that looks vaguely like a chest film: dark lungs either side of a bright
// spine and mediastinum, ribs, a little noise; `seed` varies it.
export function syntheticXrayPng(width, height, seed = 0) {
  const rows = [];
  let state = 12345 + seed * 7919;
  const noise = () => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state / 0x7fffffff; };
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(width + 1);
    row[0] = 0;  // filter: none
    for (let x = 0; x < width; x++) {
      const dx = (x - width / 2) / (width / 2);
      const lung = Math.exp(-(((Math.abs(dx) - 0.45) / 0.22) ** 2)) * (y > height * 0.15 && y < height * 0.85 ? 1 : 0.3);
      const rib = 0.15 * Math.max(0, Math.sin((y / height) * 40 + dx * 3));
      const v = 200 - 150 * lung + 40 * rib * lung + 20 * noise() + seed;
      row[x + 1] = Math.max(0, Math.min(255, Math.round(v)));
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;   // bit depth
  ihdr[9] = 0;   // grayscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
                        pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
                        pngChunk('IEND', Buffer.alloc(0))]);
}

// The local stack in a temporary state folder on free ports.
export class Stack {
  static async create(extraEnv = {}) {
    const dir = mkdtempSync('/tmp/pneumo-stack-test.');
    const names = ['PNEUMO_REDIS_PORT', 'PNEUMO_SERVER1_PORT', 'PNEUMO_SERVER2_PORT', 'PNEUMO_HTTPS_PORT',
                   'PNEUMO_HTTP_PORT', 'PNEUMO_NGINX_STATUS_PORT', 'PNEUMO_PROMETHEUS_PORT',
                   'PNEUMO_ALERTMANAGER_PORT', 'PNEUMO_NODE_EXPORTER_PORT', 'PNEUMO_REDIS_EXPORTER_PORT',
                   'PNEUMO_NGINX_EXPORTER_PORT', 'PNEUMO_BLACKBOX_PORT', 'PNEUMO_TRAINER_PORT'];
    const ports = await freePorts(names.length);
    const env = { PNEUMO_STACK_DIR: dir, PNEUMO_BINARY: binary, PNEUMO_SCRAPE_INTERVAL: '1s',
                  PNEUMO_EVALUATION_INTERVAL: '1s' };
    names.forEach((name, i) => { env[name] = String(ports[i]); });
    return new Stack(dir, { ...env, ...extraEnv });
  }

  constructor(dir, env) {
    this.dir = dir;
    this.env = env;
    const p = (name) => Number(env[name]);
    this.https = `https://127.0.0.1:${p('PNEUMO_HTTPS_PORT')}`;
    this.http = `http://127.0.0.1:${p('PNEUMO_HTTP_PORT')}`;
    this.servers = [`http://127.0.0.1:${p('PNEUMO_SERVER1_PORT')}`, `http://127.0.0.1:${p('PNEUMO_SERVER2_PORT')}`];
    this.prometheus = `http://127.0.0.1:${p('PNEUMO_PROMETHEUS_PORT')}`;
    this.alertmanager = `http://127.0.0.1:${p('PNEUMO_ALERTMANAGER_PORT')}`;
    this.trainerPort = p('PNEUMO_TRAINER_PORT');
  }

  get ca() { return readFileSync(path.join(this.dir, 'nginx/tls/cert.pem')); }

  // Runs stack.sh COMMAND; resolves {code, stdout, stderr, seconds}.
  run(command, extraEnv = {}) {
    const started = Date.now();
    const r = spawnSync('bash', [stackScript, command], { env: { ...process.env, ...this.env, ...extraEnv },
                                                         encoding: 'utf8', timeout: 180000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
  }

  // The same without blocking: uploads in flight keep going while it runs.
  runAsync(command, extraEnv = {}) {
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn('bash', [stackScript, command], { env: { ...process.env, ...this.env, ...extraEnv } });
      let stdout = '', stderr = '';
      child.stdout.on('data', (c) => { stdout += c; });
      child.stderr.on('data', (c) => { stderr += c; });
      child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
    });
  }

  pid(name) {
    try { return Number(readFileSync(path.join(this.dir, 'run', `${name}.pid`), 'utf8').trim()); } catch { return 0; }
  }

  log(name) {
    try { return readFileSync(path.join(this.dir, 'logs', `${name}.log`), 'utf8'); } catch { return ''; }
  }
}

// Whether a process exists and is not a zombie (a killed orphan stays one until init reaps it).
export function alive(pid) {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// Prometheus's HTTP API.
export async function promQuery(base, query, time) {
  const params = new URLSearchParams({ query });
  if (time !== undefined) params.set('time', String(time));
  const r = await request(`${base}/api/v1/query?${params}`);
  const j = r.json();
  return j && j.status === 'success' ? j.data.result : null;
}
export async function promQueryRange(base, query, start, end, step) {
  const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  const r = await request(`${base}/api/v1/query_range?${params}`);
  const j = r.json();
  if (!j || j.status !== 'success') return { error: j ? j.error : r.text || String(r.error) };
  return { result: j.data.result };
}

export async function waitFor(what, fn, timeoutMs, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) return null;
    await sleep(intervalMs);
  }
}

// Starts a child process whose output goes to a file; returns the ChildProcess.
export function startProcess(command, args, logFile, options = {}) {
  const fd = openSync(logFile, 'a');
  return spawn(command, args, { stdio: ['ignore', fd, fd], ...options });
}
