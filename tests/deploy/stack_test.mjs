// deploy/local/stack.sh end to end, in a temporary state folder on free (non-default) ports:
//   1. a port already taken is a clear error, and nothing starts; `token` refuses (no accounts)
//   2. up: every component answers; status shows pids; a second up starts nothing
//   3. an upload through nginx over HTTPS (certificate verified) is in the history of both
//      servers, read directly; Prometheus has every target up (but the trainer, which is up
//      only while training runs)
//   4. failover: under steady uploads through nginx, kill -9 one server: nginx routes around it,
//      PneumoServerDown fires in Prometheus and reaches the Alertmanager webhook; `up` brings
//      back only that server
//   5. under the same load, kill -9 Redis: the servers answer 503 store_unavailable (through
//      nginx too, not 502) and /readyz 503, RedisDown and PneumoNotReady fire; `up` restarts
//      Redis and uploads succeed again
//   6. publish a new model under the same load (`pneumo model publish` swaps the servers'
//      model link): no upload fails, and every one sent after both servers switched carries the
//      new version, in its answer and in the stored prediction
//   7. every upload that got 201 is in the history (Redis's append-only file, fsync always)
//   8. down, then up: the history and Prometheus's samples are still there; down stops all
// Prints the failover figures: sent, acknowledged, lost, errors seen by status and code.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  Stack, alive, binary, check, failed, finish, freePorts, promQuery, repo, request, sleep, testImages, upload,
  useBearerToken, waitFor,
} from './lib.mjs';

if (!existsSync(binary)) {
  console.log(`FAIL  no pneumo binary at ${binary} (build it, or set PNEUMO_BINARY)`);
  process.exit(1);
}
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

// Alertmanager's webhook: the notifications it posts land here.
const [webhookPort] = await freePorts(1);
const notifications = [];
const webhook = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    try { notifications.push(JSON.parse(body)); } catch { /* not JSON: ignored */ }
    res.end('ok');
  });
}).listen(webhookPort, '127.0.0.1');

const components = ['redis', 'pneumo-1', 'pneumo-2', 'nginx', 'redis-exporter', 'nginx-exporter', 'node-exporter',
                    'blackbox-exporter', 'alertmanager', 'prometheus'];
const stack = await Stack.create({
  PNEUMO_ALERT_FOR: '2s', PNEUMO_ALERT_GROUP_WAIT: '1s',
  PNEUMO_ALERT_WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/alerts`,
  PNEUMO_UPLOAD_RATE: '1000r/s', PNEUMO_UPLOAD_BURST: '1000',  // the load below is one client address
});
// The servers serve a published model (a link `pneumo model publish` swaps), so that a new one
// can be published under load below: copies of the shipped model whose cards name another
// version (the card's checksums cover the weights, which stay the same).
function versionedCopy(version) {
  const dir = path.join(stack.dir, 'candidates', version);
  mkdirSync(path.dirname(dir), { recursive: true });
  cpSync(path.join(repo, 'models', 'default'), dir, { recursive: true });
  const card = JSON.parse(readFileSync(path.join(dir, 'card.json'), 'utf8'));
  card.version = version;
  writeFileSync(path.join(dir, 'card.json'), JSON.stringify(card, null, 2));
  return dir;
}
// Runs a program without blocking the event loop (the load's clients keep going).
function runAsync(program, args) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(program, args);
    let stdout = '', stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}
const modelLink = path.join(stack.dir, 'models', 'current');
const versionA = 'stack-test-a', versionB = 'stack-test-b';
let keep = false;
function cleanup() {
  const down = stack.run('down');
  if (down.code !== 0) console.log(down.stdout, down.stderr);
  for (const name of components) {
    const pid = stack.pid(name);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  webhook.close();
  if (keep) console.log(`kept ${stack.dir} for inspection`);
  else rmSync(stack.dir, { recursive: true, force: true });
}
process.on('SIGTERM', () => { cleanup(); process.exit(1); });
// Stop everything before CTest's TIMEOUT would kill this process and leave the stack running.
setTimeout(() => { check(false, 'the test ran past 330 s'); keep = true; cleanup(); process.exit(1); }, 330000).unref();

// Closed-loop uploads through nginx: `clients` loops, each uploading as soon as its last answer
// came. Every answer is recorded: status, error code, prediction id, time.
function startLoad(clients, images, ca) {
  const results = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; running; i += clients) {
      const sent = Date.now();
      const r = await upload(`${stack.https}/api/v1/predictions`, images[i % images.length], { ca, timeoutMs: 40000 });
      const j = r.status ? r.json() : null;
      results.push({ sent, status: r.status, code: j?.error?.code ?? (r.status ? '' : String(r.error?.code ?? r.error)),
                     id: r.status === 201 ? j?.id : null, version: j?.model?.version });
      if (r.status !== 201) await sleep(50);  // as a client honouring Retry-After would, but briefly
    }
  });
  return { results, stop: async () => { running = false; await Promise.all(loops); return results; } };
}

function tally(results) {
  const by = {};
  for (const r of results) {
    const key = r.status === 201 ? '201' : `${r.status || 'no answer'}${r.code ? ` ${r.code}` : ''}`;
    by[key] = (by[key] ?? 0) + 1;
  }
  return by;
}

async function firingAlert(name, labels = {}) {
  const r = await request(`${stack.prometheus}/api/v1/alerts`);
  const alerts = r.json()?.data?.alerts ?? [];
  return alerts.find((a) => a.labels.alertname === name && a.state === 'firing' &&
                            Object.entries(labels).every(([k, v]) => a.labels[k] === v));
}

try {
  // 1. A port already taken is a clear error, and nothing starts.
  const blocker = net.createServer().listen(Number(stack.env.PNEUMO_SERVER2_PORT), '127.0.0.1');
  await new Promise((resolve) => blocker.on('listening', resolve));
  const refused = stack.run('up');
  check(refused.code !== 0, `up refuses while port ${stack.env.PNEUMO_SERVER2_PORT} is taken (exit ${refused.code})`);
  check(/port \d+ \(pneumo-2, PNEUMO_SERVER2_PORT\) is already in use/.test(refused.stderr),
        `and says which port and setting: ${refused.stderr.trim().split('\n')[0]}`);
  check(components.every((c) => !alive(stack.pid(c))), 'and starts nothing');
  await new Promise((resolve) => blocker.close(resolve));
  const early = stack.run('token');
  check(early.code !== 0 && /Redis is not running/.test(early.stderr) && early.stdout === '',
        `token before up exits ${early.code} with "${early.stderr.trim()}"`);

  // 2. up, status, idempotent up; the servers serve version A from the model link.
  const publishedA = await runAsync(binary, ['model', 'publish', versionedCopy(versionA), '--to', modelLink]);
  if (!check(publishedA.code === 0, `pneumo model publish ${versionA} --to STATE/models/current (${publishedA.seconds.toFixed(1)} s)`)) {
    console.log(publishedA.stdout, publishedA.stderr);
  }
  stack.env.PNEUMO_MODEL = modelLink;
  const up = stack.run('up');
  console.log(up.stdout.trim());
  if (!check(up.code === 0, `stack.sh up in ${up.seconds.toFixed(1)} s`)) {
    console.log(up.stderr);
    throw new Error('the stack did not come up');
  }
  check(/https:\/\/127\.0\.0\.1:\d+\//.test(up.stdout) && /logs/.test(up.stdout), 'up prints the URLs and where the logs are');
  // Accounts are on: the first up made the admin; `token` prints its bearer token, the same one
  // while it stays active. Without it the API refuses.
  const oneTime = readFileSync(path.join(stack.dir, 'admin', 'one-time-password'), 'utf8').trim();
  check(oneTime.length >= 12 && /stack-admin/.test(up.stdout), 'up made the admin stack-admin and kept its one-time password');
  const token = stack.run('token');
  const bearer = token.stdout.trim().split('\n').pop();
  check(token.code === 0 && /^pnm_[0-9a-f]{16}_[0-9a-f]{64}$/.test(bearer), `token prints a bearer token as its last line (exit ${token.code})`);
  check(stack.run('token').stdout.trim().split('\n').pop() === bearer, 'and the same one the next time');
  useBearerToken(bearer);
  const status = stack.run('status');
  console.log(status.stdout.trim());
  check(status.code === 0, 'status exits 0 when everything answers');
  for (const name of components) {
    check(new RegExp(`^${name}\\s+${stack.pid(name)}\\s+answering`, 'm').test(status.stdout),
          `status: ${name} pid ${stack.pid(name)} answering`);
  }
  const redisPassword = readFileSync(path.join(stack.dir, 'redis', 'password'), 'utf8').trim();
  const cmdline = readFileSync(`/proc/${stack.pid('pneumo-1')}/cmdline`, 'utf8').replaceAll('\0', ' ');
  check(redisPassword.length > 0 && !cmdline.includes(redisPassword) && cmdline.includes('--store-password-file'),
        'the servers read the Redis password from its file: it is not on their command line (ps)');
  const pidsBefore = Object.fromEntries(components.map((c) => [c, stack.pid(c)]));
  const again = stack.run('up');
  check(again.code === 0 && !/started/.test(again.stdout), 'a second up starts nothing');
  check(components.every((c) => stack.pid(c) === pidsBefore[c]), 'and leaves every pid as it was');

  // 3. One upload through nginx, read back from each server directly.
  const ca = stack.ca;
  const images = testImages(8);
  const refusedUpload = await upload(`${stack.https}/api/v1/predictions`, images[0], { ca, anonymous: true });
  check(refusedUpload.status === 401 && refusedUpload.json()?.error?.code === 'unauthenticated',
        `an upload through nginx without a token gets ${refusedUpload.status} ${refusedUpload.json()?.error?.code}`);
  const first = await upload(`${stack.https}/api/v1/predictions`, images[0], { ca, headers: { 'X-Request-Id': 'stack-test-1' } });
  check(first.status === 201, `an upload through nginx over HTTPS (certificate verified) gets ${first.status}`);
  check(first.headers['x-request-id'] === 'stack-test-1', 'nginx returns the client\'s X-Request-Id');
  check(/max-age=/.test(first.headers['strict-transport-security'] ?? ''), 'HSTS on the answer');
  const id = first.json()?.id;
  for (const [i, server] of stack.servers.entries()) {
    const one = await request(`${server}/api/v1/predictions/${id}`);
    check(one.status === 200 && one.json()?.id === id, `server ${i + 1} (${server}) has ${id}`);
    const page = await request(`${server}/api/v1/predictions?per_page=5`);
    check((page.json()?.items ?? page.json()?.predictions ?? []).some((p) => p.id === id), `and lists it in its history`);
  }
  const redirect = await request(`${stack.http}/`);
  check(redirect.status === 301 && redirect.headers.location === `${stack.https}/`, `HTTP redirects to HTTPS (${redirect.status} ${redirect.headers.location})`);

  const allUp = await waitFor('targets', async () => {
    const r = await request(`${stack.prometheus}/api/v1/targets?state=active`);
    const targets = r.json()?.data?.activeTargets ?? [];
    const others = targets.filter((t) => t.labels.job !== 'pneumo-trainer');
    return others.length >= 10 && others.every((t) => t.health === 'up') ? targets : null;
  }, 30000, 500);
  check(!!allUp, `Prometheus: every target up (${allUp ? allUp.filter((t) => t.labels.job !== 'pneumo-trainer').map((t) => t.labels.job).join(', ') : 'not all'}; ` +
        'pneumo-trainer is up only while a training run exports metrics)');

  // 4. Failover: kill -9 one server under load.
  const load = startLoad(4, images, ca);
  await sleep(4000);
  const killedPid = stack.pid('pneumo-1');
  const killedInstance = new URL(stack.servers[0]).host;
  const killedAt = Date.now();
  process.kill(killedPid, 'SIGKILL');
  console.log(`${elapsed()}: kill -9 pneumo-1 (pid ${killedPid}, ${killedInstance}) under load`);
  const downAlert = await waitFor('PneumoServerDown', () => firingAlert('PneumoServerDown', { instance: killedInstance }), 30000, 250);
  check(!!downAlert, `PneumoServerDown fires for ${killedInstance} after ${((Date.now() - killedAt) / 1000).toFixed(1)} s (for: 2s, scrapes every 1s)`);
  const notified = await waitFor('webhook', () => notifications.find((n) => n.status === 'firing' &&
    n.alerts.some((a) => a.labels.alertname === 'PneumoServerDown' && a.labels.instance === killedInstance)), 20000, 250);
  check(!!notified, `Alertmanager posted it to the webhook (receiver ${notified?.receiver})`);
  await sleep(2000);
  const failover = await load.stop();
  const afterKill = failover.filter((r) => r.sent > killedAt + 1000);
  const afterKillOk = afterKill.filter((r) => r.status === 201).length;
  console.log(`${elapsed()}: failover phase: ${failover.length} uploads, by answer: ${JSON.stringify(tally(failover))}`);
  check(afterKill.length > 0 && afterKillOk === afterKill.length,
        `nginx routes around the dead server: ${afterKillOk} of ${afterKill.length} uploads sent from 1 s after the kill got 201`);
  const failoverErrors = failover.filter((r) => r.status !== 201);
  check(failoverErrors.every((r) => r.status === 502 || r.status === 0),
        `the only errors are uploads in flight on the killed server (${failoverErrors.length}: ${JSON.stringify(tally(failoverErrors))})`);

  const back = stack.run('up');
  check(back.code === 0 && /started pneumo-1/.test(back.stdout) && (back.stdout.match(/started/g) ?? []).length === 1,
        `up brings back pneumo-1 and nothing else (${back.stdout.split('\n').filter((l) => l.startsWith('started')).join('; ')})`);
  check(components.filter((c) => c !== 'pneumo-1').every((c) => stack.pid(c) === pidsBefore[c]), 'the others keep their pids');
  await waitFor('pneumo-1 scraped', async () => (await promQuery(stack.prometheus, `up{instance="${killedInstance}"} == 1`))?.length === 1, 15000);

  // 5. Redis dies under load, and comes back.
  const load2 = startLoad(4, images, ca);
  await sleep(3000);
  const redisPid = stack.pid('redis');
  const redisKilledAt = Date.now();
  process.kill(redisPid, 'SIGKILL');
  console.log(`${elapsed()}: kill -9 redis (pid ${redisPid}) under load`);
  await sleep(1500);
  const ready = await Promise.all(stack.servers.map((s) => request(`${s}/readyz`)));
  check(ready.every((r) => r.status === 503), `both servers' /readyz answer 503 while Redis is gone (${ready.map((r) => r.status).join(', ')})`);
  const direct = await upload(`${stack.servers[1]}/api/v1/predictions`, images[1]);
  check(direct.status === 503 && direct.json()?.error?.code === 'store_unavailable' && direct.headers['retry-after'],
        `a server answers an upload 503 store_unavailable with Retry-After ${direct.headers['retry-after']}`);
  const redisDown = await waitFor('RedisDown', () => firingAlert('RedisDown'), 20000, 250);
  check(!!redisDown, `RedisDown fires after ${((Date.now() - redisKilledAt) / 1000).toFixed(1)} s`);
  const notReady = await waitFor('PneumoNotReady', () => firingAlert('PneumoNotReady'), 20000, 250);
  check(!!notReady, `PneumoNotReady fires (${notReady?.labels.instance}: /readyz fails while the server runs)`);
  // up runs without blocking, so the clients keep uploading while Redis comes back. An upload
  // counts as "during the outage" when it was sent before up began, with 100 ms to spare.
  const outageEnd = Date.now() - 100;
  const restarted = await stack.runAsync('up');
  check(restarted.code === 0 && /started redis/.test(restarted.stdout), `up restarts Redis (${restarted.seconds.toFixed(1)} s)`);
  const redisBackAt = Date.now();
  const recovered = await waitFor('recovery', () => load2.results.find((r) => r.sent > redisBackAt && r.status === 201), 20000, 100);
  check(!!recovered, `uploads succeed again ${recovered ? ((recovered.sent - redisBackAt) / 1000).toFixed(1) : '-'} s after Redis is back`);
  await sleep(2000);
  const outage = await load2.stop();
  const during = outage.filter((r) => r.sent > redisKilledAt + 200 && r.sent < outageEnd);
  console.log(`${elapsed()}: Redis phase: ${outage.length} uploads, by answer: ${JSON.stringify(tally(outage))}`);
  check(during.length > 0 && during.every((r) => r.status === 503 && r.code === 'store_unavailable'),
        `through nginx, uploads during the outage get pneumo's 503 store_unavailable, not 502 (${JSON.stringify(tally(during))})`);
  const readyAgain = await Promise.all(stack.servers.map((s) => request(`${s}/readyz`)));
  check(readyAgain.every((r) => r.status === 200), 'both servers are ready again');

  // 6. A new model published under load: nothing fails, new predictions carry the new version.
  const servingVersions = async () => Promise.all(stack.servers.map(async (s) => (await request(`${s}/api/v1/model`)).json()?.version));
  const before = await servingVersions();
  check(before.every((v) => v === versionA), `both servers serve ${versionA} from the model link (${before.join(', ')})`);
  const load3 = startLoad(4, images, ca);
  await sleep(3000);
  const publishAt = Date.now();
  const publishedB = await runAsync(binary, ['model', 'publish', versionedCopy(versionB), '--to', modelLink]);
  check(publishedB.code === 0 && /published/.test(publishedB.stdout),
        `pneumo model publish ${versionB} under load (${publishedB.seconds.toFixed(1)} s): ${(publishedB.stdout + publishedB.stderr).trim()}`);
  const switched = await waitFor('both on B', async () => (await servingVersions()).every((v) => v === versionB), 60000, 200);
  const switchedAt = Date.now();
  check(!!switched, `both servers serve ${versionB} ${((switchedAt - publishAt) / 1000).toFixed(1)} s after the publish began (they poll the link every 2 s)`);
  await sleep(3000);
  const publishing = await load3.stop();
  const versionsSeen = {};
  for (const r of publishing) if (r.version) versionsSeen[r.version] = (versionsSeen[r.version] ?? 0) + 1;
  console.log(`${elapsed()}: publish phase: ${publishing.length} uploads, by answer: ${JSON.stringify(tally(publishing))}, by model version: ${JSON.stringify(versionsSeen)}`);
  const publishErrors = publishing.filter((r) => r.status !== 201);
  check(publishing.length > 0 && publishErrors.length === 0,
        `no upload failed while the model changed (${publishing.length - publishErrors.length} of ${publishing.length} got 201${publishErrors.length ? `; ${JSON.stringify(tally(publishErrors))}` : ''})`);
  check(publishing.filter((r) => r.sent < publishAt).every((r) => r.version === versionA), `uploads before the publish were predicted by ${versionA}`);
  const afterSwitch = publishing.filter((r) => r.sent > switchedAt + 100);
  check(afterSwitch.length > 0 && afterSwitch.every((r) => r.version === versionB),
        `every upload sent after the switch carries ${versionB} (${afterSwitch.filter((r) => r.version === versionB).length} of ${afterSwitch.length})`);
  const lastB = afterSwitch.at(-1);
  const stored = lastB ? (await request(`${stack.servers[0]}/api/v1/predictions/${lastB.id}`)).json() : null;
  check(stored?.model?.version === versionB, `and the stored prediction ${lastB?.id} names ${versionB} (${stored?.model?.version})`);

  // 7. Every acknowledged upload is in the history.
  const all = [{ status: 201, id }, ...failover, ...outage, ...publishing];
  const acknowledged = all.filter((r) => r.status === 201).map((r) => r.id);
  const missing = [];
  for (const [i, pid] of acknowledged.entries()) {
    const r = await request(`${stack.servers[i % 2]}/api/v1/predictions/${pid}`);
    if (r.status !== 200) missing.push(`${pid} (${r.status})`);
  }
  const errors = all.filter((r) => r.status !== 201);
  const total = (await request(`${stack.servers[0]}/api/v1/predictions?per_page=1`)).json()?.total;
  console.log('');
  console.log('failover figures (uploads through nginx, 4 closed-loop clients):');
  console.log(`  sent          ${all.length}`);
  console.log(`  acknowledged  ${acknowledged.length} (201)`);
  console.log(`  lost          ${missing.length} (acknowledged but not in the history)`);
  console.log(`  unacknowledged but stored  ${total - acknowledged.length} (the history holds ${total})`);
  console.log(`  errors seen   ${errors.length}: ${JSON.stringify(tally(errors))}`);
  console.log(`    kill -9 of one server: ${JSON.stringify(tally(failoverErrors))}; Redis outage: ${JSON.stringify(tally(outage.filter((r) => r.status !== 201)))}`);
  console.log('');
  check(missing.length === 0, `every one of the ${acknowledged.length} acknowledged uploads is in the history${missing.length ? `; missing: ${missing.slice(0, 5).join(', ')}` : ''}`);
  check(new Set(acknowledged).size === acknowledged.length, 'no prediction id was given twice');

  // 8. down, then up: data survives.
  const beforeDown = Date.now() / 1000;
  const samples = await promQuery(stack.prometheus, 'pneumo_predictions_total', beforeDown);
  const down = stack.run('down');
  console.log(down.stdout.trim());
  check(down.code === 0 && components.every((c) => !alive(pidsBefore[c]) && !alive(stack.pid(c))),
        `down stops every component (${down.seconds.toFixed(1)} s)`);
  const stopped = stack.run('status');
  check(stopped.code !== 0 && (stopped.stdout.match(/stopped/g) ?? []).length === components.length,
        'status then shows every component stopped, and exits non-zero');
  const reup = stack.run('up');
  check(reup.code === 0, `up again (${reup.seconds.toFixed(1)} s)`);
  const historyAfter = (await request(`${stack.servers[1]}/api/v1/predictions?per_page=1`)).json();
  check(historyAfter?.total === total && total >= acknowledged.length,
        `the history survives down/up: ${historyAfter?.total} predictions (${total} before)`);
  const samplesAfter = await promQuery(stack.prometheus, 'pneumo_predictions_total', beforeDown);
  check(samples?.length > 0 && samplesAfter?.length === samples.length,
        `Prometheus still has the samples from before down (${samplesAfter?.length} series at that time)`);
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  keep = failed() > 0;
  cleanup();
  console.log(`total ${elapsed()}`);
  finish();
}
