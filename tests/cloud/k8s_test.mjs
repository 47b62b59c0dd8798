// Renders the production setup with `kubectl kustomize deploy/k8s`, parses it with the yaml
// package and checks its properties (lib/k8s.mjs). Each group of checks is also run on a
// broken copy of the render, to show that it fails when the property goes.
//
//   node tests/cloud/k8s_test.mjs               (CTest: cloud.k8s)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { importDependency, repo } from './lib/deps.mjs';
import {
  allowedPeers, checkFirstAdminJob, checkNetworkPolicies, checkPodHardening, checkProduction, checkRedis, checkScaling,
  checkServerDeployment, checkServiceAndIngress, checkTrainingJob, checkVariableReferences, egressAllowed, find, render,
} from './lib/k8s.mjs';

const YAML = await importDependency('yaml');
const k8s = path.join(repo, 'deploy', 'k8s');
const objects = render(k8s, YAML);
const copy = () => structuredClone(objects);
const server = (objs) => find(objs, 'Deployment', 'pneumo').spec.template.spec;

test('kubectl kustomize deploy/k8s renders the production objects', () => {
  const kinds = objects.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort();
  for (const expected of [
    'Namespace/pneumo', 'Deployment/pneumo', 'Service/pneumo', 'Ingress/pneumo', 'HorizontalPodAutoscaler/pneumo',
    'PodDisruptionBudget/pneumo', 'StatefulSet/redis', 'Service/redis', 'ConfigMap/pneumo-conf', 'ConfigMap/redis-conf',
    'Job/pneumo-train', 'PersistentVolumeClaim/pneumo-models', 'NetworkPolicy/default-deny',
    'Job/pneumo-first-admin', 'ServiceAccount/pneumo-first-admin', 'NetworkPolicy/pneumo-first-admin',
  ]) assert.ok(kinds.includes(expected), `${expected} in [${kinds.join(', ')}]`);
});

test('the production render passes every check', () => {
  assert.deepEqual(checkProduction(objects), []);
});

test('pneumo Deployment: 3 replicas, /readyz, /healthz, startup probe, Redis URL from the Secret, /tmp emptyDir', () => {
  assert.deepEqual(checkServerDeployment(objects), []);
  const broken = copy();
  const d = find(broken, 'Deployment', 'pneumo');
  d.spec.replicas = 1;
  const c = server(broken).containers[0];
  delete c.startupProbe;
  c.readinessProbe.httpGet.path = '/healthz';
  c.args = c.args.map((a) => a.replace('$(REDIS_PASSWORD)', 'hunter2'));
  server(broken).volumes = server(broken).volumes.filter((v) => v.name !== 'tmp');
  const problems = checkServerDeployment(broken).join('\n');
  for (const re of [/1 replicas, not 3/, /no startup probe/, /readiness probe is not GET \/readyz/, /not started with --store/, /\/tmp is not an emptyDir/])
    assert.match(problems, re);
});

test('every pod: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, requests and limits', () => {
  assert.deepEqual(checkPodHardening(objects), []);
  const broken = copy();
  const c = server(broken).containers[0];
  delete c.securityContext.readOnlyRootFilesystem;
  c.securityContext.allowPrivilegeEscalation = true;
  c.securityContext.capabilities = { drop: ['NET_RAW'] };
  delete c.resources.limits;
  const redis = find(broken, 'StatefulSet', 'redis').spec.template.spec;
  redis.securityContext.runAsNonRoot = false;
  delete redis.containers[0].securityContext.runAsNonRoot;
  redis.securityContext.seccompProfile = { type: 'Unconfined' };
  delete redis.containers[0].securityContext.seccompProfile;
  find(broken, 'Job', 'pneumo-train').spec.template.spec.automountServiceAccountToken = true;
  const problems = checkPodHardening(broken).join('\n');
  for (const re of [
    /Deployment\/pneumo container pneumo: readOnlyRootFilesystem is not true/, /allowPrivilegeEscalation is not false/,
    /capabilities do not drop ALL/, /no cpu limits/, /StatefulSet\/redis container redis: runAsNonRoot is not true/,
    /StatefulSet\/redis container redis: seccomp profile is not RuntimeDefault/, /Job\/pneumo-train: mounts a service account token/,
  ]) assert.match(problems, re);
});

test('every $(VAR) in the pods\' arguments is defined (env, or the pneumo.conf ConfigMap)', () => {
  assert.deepEqual(checkVariableReferences(objects), []);
  const broken = copy();
  server(broken).containers[0].args.push('--max-batch=$(PNEUMO_MAX_BATHC)');
  assert.match(checkVariableReferences(broken).join('\n'), /\$\(PNEUMO_MAX_BATHC\) is not defined/);
});

test('Service and Ingress: TLS, nginx class, 25m bodies, public routes only (/metrics is not routed)', () => {
  assert.deepEqual(checkServiceAndIngress(objects), []);
  const broken = copy();
  const ing = find(broken, 'Ingress', 'pneumo');
  ing.spec.rules[0].http.paths[0].pathType = 'Prefix';
  ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size'] = '1m';
  ing.spec.tls = [];
  ing.spec.ingressClassName = 'traefik';
  const problems = checkServiceAndIngress(broken).join('\n');
  for (const re of [/\/metrics is public \(through Prefix \/\)/, /proxy-body-size is not 25m/, /has no TLS/, /ingressClassName is not nginx/])
    assert.match(problems, re);
});

test('HPA on CPU from 3 replicas, and a PodDisruptionBudget that lets drains proceed', () => {
  assert.deepEqual(checkScaling(objects), []);
  const broken = copy();
  find(broken, 'HorizontalPodAutoscaler', 'pneumo').spec.metrics = [];
  find(broken, 'PodDisruptionBudget', 'pneumo').spec.minAvailable = 3;
  const problems = checkScaling(broken).join('\n');
  assert.match(problems, /does not scale on CPU/);
  assert.match(problems, /minAvailable must be at least 1 and below the replicas/);
});

test('NetworkPolicies: default deny; ingress controller to pneumo; pneumo, trainer and first-admin Job to Redis; monitoring scrapes', () => {
  assert.deepEqual(checkNetworkPolicies(objects), []);
  assert.deepEqual(allowedPeers(objects, 'StatefulSet/redis', 6379), ['pod:Deployment/pneumo', 'pod:Job/pneumo-first-admin', 'pod:Job/pneumo-train']);
  assert.deepEqual(allowedPeers(objects, 'Job/pneumo-first-admin', 8080), []);
  for (const client of ['Deployment/pneumo', 'Job/pneumo-train', 'Job/pneumo-first-admin'])
    assert.ok(egressAllowed(objects, client, 'StatefulSet/redis', 6379), `${client} -> redis:6379`);
  assert.ok(!egressAllowed(objects, 'Job/pneumo-first-admin', 'Deployment/pneumo', 8080), 'first-admin Job -> pneumo:8080 is denied');
  assert.deepEqual(allowedPeers(objects, 'Deployment/pneumo', 8080), ['ns:ingress-nginx', 'ns:monitoring']);

  const openRedis = copy();
  const redisPolicy = find(openRedis, 'NetworkPolicy', 'redis');
  redisPolicy.spec.ingress[0].from.push({ namespaceSelector: {} });
  assert.match(checkNetworkPolicies(openRedis).join('\n'), /StatefulSet\/redis:6379 is reachable from \[ns:\*, pod:Deployment\/pneumo, pod:Job\/pneumo-first-admin, pod:Job\/pneumo-train\]/);

  // The first-admin Job left out of Redis's policy, and its own egress to Redis gone.
  const noAdminPath = copy();
  const from = find(noAdminPath, 'NetworkPolicy', 'redis').spec.ingress[0].from;
  from.splice(from.findIndex((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'pneumo-first-admin'), 1);
  find(noAdminPath, 'NetworkPolicy', 'pneumo-first-admin').spec.egress = [];
  const noAdminProblems = checkNetworkPolicies(noAdminPath).join('\n');
  assert.match(noAdminProblems, /StatefulSet\/redis:6379 is reachable from \[pod:Deployment\/pneumo, pod:Job\/pneumo-train\]/);
  assert.match(noAdminProblems, /Job\/pneumo-first-admin: no NetworkPolicy lets it connect to StatefulSet\/redis:6379/);

  const noDeny = copy().filter((o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === 'default-deny'));
  assert.match(checkNetworkPolicies(noDeny).join('\n'), /no default-deny NetworkPolicy/);

  const anyToServer = copy();
  find(anyToServer, 'NetworkPolicy', 'pneumo-server').spec.ingress.push({ ports: [{ protocol: 'TCP', port: 8080 }] });
  assert.match(checkNetworkPolicies(anyToServer).join('\n'), /Deployment\/pneumo:8080 is reachable from \[any, ns:ingress-nginx, ns:monitoring\]/);
});

test('Redis: a StatefulSet with a persistent append-only file, requirepass from the Secret, no Secret committed', () => {
  assert.deepEqual(checkRedis(objects), []);
  const broken = copy();
  const conf = broken.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('redis-conf'));
  conf.data['redis.conf'] = conf.data['redis.conf'].replace('appendonly yes', 'appendonly no');
  find(broken, 'StatefulSet', 'redis').spec.volumeClaimTemplates = [];
  broken.push({ kind: 'Secret', metadata: { name: 'pneumo-redis', namespace: 'pneumo' }, stringData: { password: 'x' } });
  const problems = checkRedis(broken).join('\n');
  for (const re of [/appendonly is not yes/, /no persistent volume claim template/, /Secret pneumo-redis with data is committed/])
    assert.match(problems, re);
});

test('the training Job trains and publishes to the shared models volume the servers read', () => {
  assert.deepEqual(checkTrainingJob(objects), []);
  const broken = copy();
  const job = find(broken, 'Job', 'pneumo-train');
  job.spec.template.spec.containers[0].args = ['pneumo train --data /data/chest_xray --out /models/runs/$(RUN_ID)'];
  job.spec.template.spec.volumes.find((v) => v.name === 'models').persistentVolumeClaim.claimName = 'other';
  const problems = checkTrainingJob(broken).join('\n');
  assert.match(problems, /does not run `pneumo train \.\.\. && pneumo model publish/);
  assert.match(problems, /does not publish to the volume the servers read/);
});

test('the first-admin Job: `pneumo user add admin --role admin --only-if-no-users` against the servers\' Redis, password from a file, hardened', () => {
  assert.deepEqual(checkFirstAdminJob(objects), []);
  const job = (objs) => find(objs, 'Job', 'pneumo-first-admin');
  const edit = (objs, f) => {
    const c = job(objs).spec.template.spec.containers[0];
    c.args = c.args.map(f);
  };
  const problemsOf = (f) => {
    const broken = copy();
    f(broken);
    return checkFirstAdminJob(broken).join('\n');
  };

  // A rerun must never make a second admin.
  assert.match(problemsOf((b) => edit(b, (a) => a.replace(' --only-if-no-users', ''))), /without --only-if-no-users/);
  // A service account token mounted, in the pod or in its service account.
  assert.match(problemsOf((b) => { job(b).spec.template.spec.automountServiceAccountToken = true; }),
    /Job\/pneumo-first-admin: mounts a service account token/);
  assert.match(problemsOf((b) => { find(b, 'ServiceAccount', 'pneumo-first-admin').automountServiceAccountToken = true; }),
    /its service account pneumo-first-admin mounts a token/);
  // Hardening like the training Job.
  assert.match(problemsOf((b) => {
    const pod = job(b).spec.template.spec;
    pod.securityContext.runAsUser = 0;
    delete pod.containers[0].securityContext.readOnlyRootFilesystem;
    delete pod.containers[0].resources;
  }), /runs as UID 0[\s\S]*readOnlyRootFilesystem is not true[\s\S]*no cpu requests[\s\S]*does not run as the image's pneumo user/);
  // The password on the command line instead of in a file; another Redis; the wrong Secret.
  const inArgs = problemsOf((b) => edit(b, (a) => a.replace('--store=redis://redis:6379/0', '--store=redis://:$(REDIS_PASSWORD)@redis:6379/0')
    .replace(/ --store-password-file=[^"\s]+/, '')));
  assert.match(inArgs, /the Redis password is in the process arguments/);
  assert.match(inArgs, /no --store-password-file/);
  assert.match(problemsOf((b) => edit(b, (a) => a.replace('redis://redis:6379/0', 'redis://redis:6379/1'))), /is not the servers' Redis/);
  assert.match(problemsOf((b) => { job(b).spec.template.spec.volumes[0].secret.secretName = 'other'; }),
    /is not the key password of the mounted Secret pneumo-redis/);
  // Another user or role, or no `user add` at all.
  assert.match(problemsOf((b) => edit(b, (a) => a.replace('--role admin', '--role doctor'))), /not added with --role admin/);
  assert.match(problemsOf((b) => edit(b, (a) => a.replace('user add admin', 'user list'))), /does not run `pneumo user add admin`/);
  // Suspended, retried without end, kept forever, or cut off from Redis.
  const spec = problemsOf((b) => {
    job(b).spec.suspend = true;
    job(b).spec.backoffLimit = 100;
    delete job(b).spec.ttlSecondsAfterFinished;
    const redis = find(b, 'NetworkPolicy', 'redis').spec.ingress[0];
    redis.from = redis.from.filter((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/name'] !== 'pneumo-first-admin');
  });
  for (const re of [/suspended/, /backoffLimit is not set to at most 6/, /no ttlSecondsAfterFinished/, /Redis's NetworkPolicy does not admit it/])
    assert.match(spec, re);
  assert.match(problemsOf((b) => { b.splice(b.indexOf(job(b)), 1); }), /no Job\/pneumo-first-admin/);

  // The exec form (the image's entrypoint is pneumo) passes as well.
  const execForm = copy();
  const c = job(execForm).spec.template.spec.containers[0];
  delete c.command;
  c.args = ['user', 'add', 'admin', '--role', 'admin', '--only-if-no-users', '--store', 'redis://redis:6379/0',
    '--store-password-file', '/run/secrets/pneumo-redis/password'];
  assert.deepEqual(checkFirstAdminJob(execForm), []);
});

test('components/queue-depth-hpa adds pneumo_queue_depth to the HPA, as prometheus-adapter/values.yaml serves it', () => {
  const adapter = YAML.parse(fs.readFileSync(path.join(k8s, 'prometheus-adapter', 'values.yaml'), 'utf8'));
  const rule = adapter.rules.custom.find((r) => /pneumo_queue_depth/.test(r.seriesQuery));
  assert.ok(rule, 'a prometheus-adapter rule for pneumo_queue_depth');
  assert.deepEqual(rule.resources.overrides.pod, { resource: 'pod' });
  const tmp = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'pneumo-k8s-'));
  try {
    const rel = path.relative(tmp, k8s);
    fs.writeFileSync(path.join(tmp, 'kustomization.yaml'),
      `resources: [${rel}]\ncomponents: [${path.join(rel, 'components', 'queue-depth-hpa')}]\n`);
    const hpa = find(render(tmp, YAML), 'HorizontalPodAutoscaler', 'pneumo');
    const pods = hpa.spec.metrics.find((m) => m.type === 'Pods');
    assert.equal(pods?.pods.metric.name, rule.name.as);
    assert.ok(hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource.name === 'cpu'), 'CPU stays');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
