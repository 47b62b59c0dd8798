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
  allowedPeers, checkNetworkPolicies, checkPodHardening, checkProduction, checkRedis, checkScaling,
  checkServerDeployment, checkServiceAndIngress, checkTrainingJob, checkVariableReferences, find, render,
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

test('NetworkPolicies: default deny; ingress controller to pneumo; pneumo and trainer to Redis; monitoring scrapes', () => {
  assert.deepEqual(checkNetworkPolicies(objects), []);
  assert.deepEqual(allowedPeers(objects, 'StatefulSet/redis', 6379), ['pod:Deployment/pneumo', 'pod:Job/pneumo-train']);
  assert.deepEqual(allowedPeers(objects, 'Deployment/pneumo', 8080), ['ns:ingress-nginx', 'ns:monitoring']);

  const openRedis = copy();
  const redisPolicy = find(openRedis, 'NetworkPolicy', 'redis');
  redisPolicy.spec.ingress[0].from.push({ namespaceSelector: {} });
  assert.match(checkNetworkPolicies(openRedis).join('\n'), /StatefulSet\/redis:6379 is reachable from \[ns:\*, pod:Deployment\/pneumo, pod:Job\/pneumo-train\]/);

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
