// deploy/container/Containerfile, read statically (this machine cannot build images: see
// deploy/container/README.md): Debian 12 slim, the pneumo .deb installed with apt-get, the
// pneumo user with the UID the Kubernetes pods run as, pneumo as the entry point.
//
//   node tests/cloud/container_test.mjs         (CTest: cloud.container)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { importDependency, repo } from './lib/deps.mjs';

const YAML = await importDependency('yaml');
const dir = path.join(repo, 'deploy', 'container');

// Instructions of a Containerfile: [{ op, args }], continuation lines joined, comments dropped.
function instructions(text) {
  const out = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line) && !current) continue;
    current += line.replace(/\\$/, ' ');
    if (line.endsWith('\\')) continue;
    const m = current.trim().match(/^([A-Za-z]+)\s+(.*)$/s);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
    current = '';
  }
  return out;
}

function checkContainerfile(text, podUid) {
  const problems = [];
  const ins = instructions(text);
  const from = ins.filter((i) => i.op === 'FROM');
  if (from.length !== 1 || !/^(docker\.io\/library\/)?debian:12-slim$/.test(from[0]?.args))
    problems.push(`FROM is not debian:12-slim (${from.map((f) => f.args).join(', ')})`);
  const run = ins.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  if (!/apt-get install[^\n]*\/tmp\/pneumo_\$\{PNEUMO_VERSION\}_amd64\.deb/.test(run)) problems.push('does not apt-get install pneumo_${PNEUMO_VERSION}_amd64.deb');
  if (!ins.some((i) => i.op === 'COPY' && /pneumo_\$\{PNEUMO_VERSION\}_amd64\.deb/.test(i.args))) problems.push('does not COPY the .deb in');
  if (!/rm -rf \/var\/lib\/apt\/lists/.test(run)) problems.push('keeps the apt lists in the image');
  const users = ins.filter((i) => i.op === 'USER');
  if (users.length === 0 || users.at(-1).args !== 'pneumo') problems.push('does not run as the pneumo user (last USER is not pneumo)');
  const uid = run.match(/useradd[^\n]*--uid (\d+)/)?.[1];
  if (!uid) problems.push('does not create the pneumo user with a fixed UID');
  else if (Number(uid) !== podUid) problems.push(`pneumo's UID ${uid} is not the pods' runAsUser ${podUid}`);
  const entry = ins.find((i) => i.op === 'ENTRYPOINT');
  if (!entry || JSON.parse(entry.args)[0] !== '/usr/bin/pneumo') problems.push('ENTRYPOINT is not /usr/bin/pneumo (exec form)');
  if (!/test -f \/usr\/share\/pneumo\/models\/default\/card\.json/.test(run))
    problems.push('does not check the shipped model the seed-model init container copies');
  return problems;
}

const deployment = YAML.parse(fs.readFileSync(path.join(repo, 'deploy', 'k8s', 'base', 'pneumo-deployment.yaml'), 'utf8'));
const podUid = deployment.spec.template.spec.securityContext.runAsUser;
const containerfile = fs.readFileSync(path.join(dir, 'Containerfile'), 'utf8');

test('Containerfile: debian:12-slim, installs the .deb, runs as pneumo with the pods\' UID', () => {
  assert.deepEqual(checkContainerfile(containerfile, podUid), []);
});

test('the Containerfile check reports a root image on another base', () => {
  const bad = containerfile.replace('debian:12-slim', 'ubuntu:24.04').replace(/^USER pneumo$/m, 'USER root')
    .replace('--uid 10001', '--uid 1000');
  const problems = checkContainerfile(bad, podUid).join('\n');
  assert.match(problems, /FROM is not debian:12-slim/);
  assert.match(problems, /does not run as the pneumo user/);
  assert.match(problems, /UID 1000 is not the pods' runAsUser 10001/);
});

test('deploy/container/README.md says how to build, and why CI does not', () => {
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.match(readme, /podman build/);
  assert.match(readme, /registry-1\.docker\.io/, 'records the exact pull error');
  assert.match(readme, /cgroups in hybrid mode not supported/, 'records the exact runtime error');
});
