// Renders deploy/k8s with `kubectl kustomize` and checks the production objects: the pneumo
// Deployment's probes, resources and hardening (and every other pod's), Service, Ingress, HPA,
// PodDisruptionBudget, NetworkPolicies, Redis, the ConfigMap, the training Job and the first-admin
// Job. Each check returns problems as strings; an empty list passes.
import { spawnSync } from 'node:child_process';

// kubectl kustomize DIR, parsed. Exits the test (fails) when kubectl is not there.
export function render(dir, YAML) {
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.error?.code === 'ENOENT') {
    console.error('FAILED: kubectl is not on PATH; the Kubernetes manifests are rendered with `kubectl kustomize`. ' +
                  'Install kubectl (it is not a Debian package: https://kubernetes.io/docs/tasks/tools/).');
    process.exit(1);
  }
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed (${run.status}):\n${run.stderr}`);
  return YAML.parseAllDocuments(run.stdout).map((d) => {
    if (d.errors.length) throw new Error(`kubectl kustomize ${dir}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter(Boolean);
}

export const find = (objects, kind, namePrefix) =>
  objects.find((o) => o.kind === kind && (namePrefix === undefined || o.metadata?.name === namePrefix));

const matches = (selector, labels) =>
  !!selector && Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v) &&
  !(selector.matchExpressions?.length);

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job', 'CronJob', 'DaemonSet']);

export function podTemplates(objects) {
  return objects.filter((o) => WORKLOADS.has(o.kind)).map((o) => ({
    workload: `${o.kind}/${o.metadata.name}`,
    object: o,
    template: o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template,
  }));
}

// Hardening every pod must have (the "restricted" Pod Security Standard and more).
export function checkPodHardening(objects) {
  const problems = [];
  for (const { workload, template } of podTemplates(objects)) {
    const pod = template.spec ?? {};
    const podSc = pod.securityContext ?? {};
    if (pod.automountServiceAccountToken !== false) problems.push(`${workload}: mounts a service account token`);
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${workload}: shares a host namespace`);
    for (const v of pod.volumes ?? [])
      if (v.hostPath) problems.push(`${workload}: mounts a hostPath volume (${v.name})`);
    const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    for (const c of containers) {
      const where = `${workload} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? podSc.runAsUser) === 0) problems.push(`${where}: runs as UID 0`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
      if (sc.privileged) problems.push(`${where}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
      if ((sc.capabilities?.add ?? []).length) problems.push(`${where}: adds capabilities`);
      if ((sc.seccompProfile ?? podSc.seccompProfile)?.type !== 'RuntimeDefault') problems.push(`${where}: seccomp profile is not RuntimeDefault`);
      for (const kind of ['requests', 'limits'])
        for (const r of ['cpu', 'memory'])
          if (!c.resources?.[kind]?.[r]) problems.push(`${where}: no ${r} ${kind}`);
    }
  }
  return problems;
}

// Every $(VAR) in command/args must be defined by env or an envFrom ConfigMap of the render;
// otherwise Kubernetes passes the text "$(VAR)" through unchanged.
export function checkVariableReferences(objects) {
  const problems = [];
  const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
  for (const { workload, template } of podTemplates(objects)) {
    for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
      const defined = new Set((c.env ?? []).map((e) => e.name));
      for (const from of c.envFrom ?? []) {
        const cm = from.configMapRef && configMaps.get(from.configMapRef.name);
        if (from.configMapRef && !cm) problems.push(`${workload} container ${c.name}: envFrom ConfigMap ${from.configMapRef.name} is not rendered`);
        for (const k of Object.keys(cm?.data ?? {})) defined.add((from.prefix ?? '') + k);
      }
      for (const text of [...(c.command ?? []), ...(c.args ?? [])])
        for (const [, name] of String(text).replaceAll('$$', '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
          if (!defined.has(name)) problems.push(`${workload} container ${c.name}: $(${name}) is not defined`);
    }
  }
  return problems;
}

function probePath(probe) {
  return probe?.httpGet?.path;
}

export function checkServerDeployment(objects) {
  const problems = [];
  const d = find(objects, 'Deployment', 'pneumo');
  if (!d) return ['no Deployment pneumo'];
  if (d.spec.replicas !== 3) problems.push(`Deployment pneumo: ${d.spec.replicas} replicas, not 3`);
  const pod = d.spec.template.spec;
  const c = pod.containers.find((x) => x.name === 'pneumo');
  if (!c) return [...problems, 'Deployment pneumo: no container pneumo'];
  if (probePath(c.readinessProbe) !== '/readyz') problems.push('Deployment pneumo: readiness probe is not GET /readyz');
  if (probePath(c.livenessProbe) !== '/healthz') problems.push('Deployment pneumo: liveness probe is not GET /healthz');
  if (!c.startupProbe) problems.push('Deployment pneumo: no startup probe');
  if (c.args?.[0] !== 'serve') problems.push('Deployment pneumo: does not run `pneumo serve`');
  if (!(c.args ?? []).includes('--store=redis://:$(REDIS_PASSWORD)@redis:6379/0'))
    problems.push('Deployment pneumo: not started with --store redis://:$(REDIS_PASSWORD)@redis:6379/0');
  const password = (c.env ?? []).find((e) => e.name === 'REDIS_PASSWORD');
  if (password?.valueFrom?.secretKeyRef?.name !== 'pneumo-redis' || password.valueFrom.secretKeyRef.key !== 'password')
    problems.push('Deployment pneumo: REDIS_PASSWORD does not come from Secret pneumo-redis, key password');
  const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
  const tmpVolume = tmp && (pod.volumes ?? []).find((v) => v.name === tmp.name);
  if (!tmpVolume?.emptyDir) problems.push('Deployment pneumo: /tmp is not an emptyDir');
  if (!(c.envFrom ?? []).some((e) => e.configMapRef?.name?.startsWith('pneumo-conf')))
    problems.push('Deployment pneumo: does not read the pneumo-conf ConfigMap');
  if ((d.spec.strategy?.rollingUpdate?.maxUnavailable ?? 1) !== 0) problems.push('Deployment pneumo: a rollout may take a server away before its replacement is ready');
  return problems;
}

export function checkServiceAndIngress(objects) {
  const problems = [];
  const d = find(objects, 'Deployment', 'pneumo');
  const svc = find(objects, 'Service', 'pneumo');
  if (!svc) problems.push('no Service pneumo');
  else {
    if (!matches({ matchLabels: svc.spec.selector }, d?.spec.template.metadata.labels)) problems.push('Service pneumo does not select the pneumo pods');
    const ports = d?.spec.template.spec.containers.flatMap((c) => c.ports ?? []) ?? [];
    for (const p of svc.spec.ports)
      if (!ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort))
        problems.push(`Service pneumo port ${p.name}: targetPort ${p.targetPort} is no container port`);
  }
  const ing = find(objects, 'Ingress', 'pneumo');
  if (!ing) return [...problems, 'no Ingress pneumo'];
  if (ing.spec.ingressClassName !== 'nginx') problems.push('Ingress pneumo: ingressClassName is not nginx');
  if (ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'] !== '25m')
    problems.push('Ingress pneumo: proxy-body-size is not 25m (the upload limit)');
  const tlsHosts = new Set((ing.spec.tls ?? []).filter((t) => t.secretName).flatMap((t) => t.hosts ?? []));
  for (const rule of ing.spec.rules ?? []) {
    if (!tlsHosts.has(rule.host)) problems.push(`Ingress pneumo: host ${rule.host} has no TLS`);
    for (const p of rule.http?.paths ?? []) {
      if (p.backend?.service?.name !== 'pneumo') problems.push(`Ingress pneumo: ${p.path} goes to ${p.backend?.service?.name}`);
      for (const internal of ['/metrics', '/healthz', '/readyz']) {
        const routed = p.pathType === 'Exact' ? p.path === internal
          : p.path === '/' || internal === p.path.replace(/\/$/, '') || internal.startsWith(p.path.endsWith('/') ? p.path : `${p.path}/`);
        if (routed) problems.push(`Ingress pneumo: ${internal} is public (through ${p.pathType} ${p.path})`);
      }
    }
  }
  for (const route of ['/', '/static/app.js', '/api/v1/predictions', '/predict', '/predictions', '/health']) {
    const served = (ing.spec.rules ?? []).some((rule) => (rule.http?.paths ?? []).some((p) =>
      p.pathType === 'Exact' ? p.path === route : route === p.path || route.startsWith(p.path.endsWith('/') ? p.path : `${p.path}/`)));
    if (!served) problems.push(`Ingress pneumo: ${route} is not routed`);
  }
  return problems;
}

export function checkScaling(objects) {
  const problems = [];
  const d = find(objects, 'Deployment', 'pneumo');
  const hpa = find(objects, 'HorizontalPodAutoscaler', 'pneumo');
  if (!hpa) problems.push('no HorizontalPodAutoscaler pneumo');
  else {
    if (hpa.spec.scaleTargetRef?.kind !== 'Deployment' || hpa.spec.scaleTargetRef?.name !== 'pneumo')
      problems.push('HPA pneumo does not scale Deployment pneumo');
    if (!(hpa.spec.metrics ?? []).some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'))
      problems.push('HPA pneumo does not scale on CPU');
    if (hpa.spec.minReplicas < (d?.spec.replicas ?? 3)) problems.push('HPA pneumo may scale below the Deployment\'s replicas');
  }
  const pdb = find(objects, 'PodDisruptionBudget', 'pneumo');
  if (!pdb) problems.push('no PodDisruptionBudget pneumo');
  else {
    if (!matches(pdb.spec.selector, d?.spec.template.metadata.labels)) problems.push('PodDisruptionBudget pneumo does not select the pneumo pods');
    if (!(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < (d?.spec.replicas ?? 0)) && !pdb.spec.maxUnavailable)
      problems.push('PodDisruptionBudget pneumo: minAvailable must be at least 1 and below the replicas (or drains block)');
  }
  return problems;
}

// Who may open a connection to the pods of `workload` on `port`, by the NetworkPolicies:
// a sorted list of peers ("ns:<name>", "pod:<workload>", "any", "ns:*"), or ["any"] when no
// policy isolates the pods.
export function allowedPeers(objects, workload, port) {
  const templates = podTemplates(objects);
  const target = templates.find((t) => t.workload === workload);
  if (!target) throw new Error(`no workload ${workload}`);
  const labels = target.template.metadata.labels;
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && matches(o.spec.podSelector, labels) &&
    (o.spec.policyTypes ?? ['Ingress']).includes('Ingress'));
  if (policies.length === 0) return ['any'];
  const peers = new Set();
  for (const p of policies) {
    for (const rule of p.spec.ingress ?? []) {
      const ports = rule.ports ?? [];
      if (ports.length && !ports.some((x) => x.port === port || x.port === undefined)) continue;
      if (!rule.from || rule.from.length === 0) {
        peers.add('any');
        continue;
      }
      for (const peer of rule.from) {
        if (peer.ipBlock) peers.add(`ip:${peer.ipBlock.cidr}`);
        else if (peer.namespaceSelector && !peer.podSelector) {
          const ns = peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'];
          peers.add(ns && Object.keys(peer.namespaceSelector.matchLabels).length === 1 ? `ns:${ns}` : 'ns:*');
        } else if (peer.podSelector && !peer.namespaceSelector) {
          const selected = templates.filter((t) => matches(peer.podSelector, t.template.metadata.labels));
          if (Object.keys(peer.podSelector.matchLabels ?? {}).length === 0) peers.add('pod:*');
          else for (const t of selected) peers.add(`pod:${t.workload}`);
        } else {
          peers.add('ns:*/pod');
        }
      }
    }
  }
  return [...peers].sort();
}

export function checkNetworkPolicies(objects) {
  const problems = [];
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const deny = policies.find((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 &&
    Object.keys(p.spec.podSelector.matchLabels ?? {}).length === 0 &&
    ['Ingress', 'Egress'].every((t) => (p.spec.policyTypes ?? []).includes(t)) && !p.spec.ingress?.length &&
    !(p.spec.egress ?? []).length);
  if (!deny) problems.push('no default-deny NetworkPolicy (all pods, Ingress and Egress, no rules)');
  for (const p of policies)
    for (const rule of p.spec.egress ?? [])
      if (!rule.to || rule.to.length === 0) problems.push(`NetworkPolicy ${p.metadata.name} allows egress to anywhere`);
  const expect = [
    ['Deployment/pneumo', 8080, ['ns:ingress-nginx', 'ns:monitoring']],
    ['StatefulSet/redis', 6379, ['pod:Deployment/pneumo', 'pod:Job/pneumo-first-admin', 'pod:Job/pneumo-train']],
    ['StatefulSet/redis', 9121, ['ns:monitoring']],
    ['Job/pneumo-train', 8000, ['ns:monitoring']],
  ];
  for (const [workload, port, peers] of expect) {
    let got;
    try {
      got = allowedPeers(objects, workload, port);
    } catch (err) {
      problems.push(err.message);
      continue;
    }
    if (JSON.stringify(got) !== JSON.stringify(peers))
      problems.push(`${workload}:${port} is reachable from [${got.join(', ')}], expected [${peers.join(', ')}]`);
  }
  // Nothing else reaches these pods on any other port.
  for (const [workload, ports] of [['Deployment/pneumo', [8080]], ['StatefulSet/redis', [6379, 9121]], ['Job/pneumo-train', [8000]],
    ['Job/pneumo-first-admin', []]]) {
    for (const probe of [22, 80, 443, 6380, 8000, 8080, 9100, 9121, 6379].filter((p) => !ports.includes(p))) {
      try {
        const got = allowedPeers(objects, workload, probe);
        if (got.length) problems.push(`${workload}:${probe} is reachable from [${got.join(', ')}]`);
      } catch {
        // reported above
      }
    }
  }
  // The clients of Redis may also open the connection (their own policies allow the egress).
  for (const client of ['Deployment/pneumo', 'Job/pneumo-train', 'Job/pneumo-first-admin']) {
    try {
      if (!egressAllowed(objects, client, 'StatefulSet/redis', 6379))
        problems.push(`${client}: no NetworkPolicy lets it connect to StatefulSet/redis:6379`);
    } catch (err) {
      problems.push(err.message);
    }
  }
  return problems;
}

// Whether the NetworkPolicies let the pods of `from` open a connection to the pods of `to` (in
// the same namespace) on `port`: true when no policy isolates their egress, or one of the
// policies that select them has an egress rule for that port to a pod selector matching `to`.
export function egressAllowed(objects, from, to, port) {
  const templates = podTemplates(objects);
  const source = templates.find((t) => t.workload === from);
  const target = templates.find((t) => t.workload === to);
  if (!source) throw new Error(`no workload ${from}`);
  if (!target) throw new Error(`no workload ${to}`);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && matches(o.spec.podSelector, source.template.metadata.labels) &&
    (o.spec.policyTypes ?? []).includes('Egress'));
  if (policies.length === 0) return true;
  return policies.some((p) => (p.spec.egress ?? []).some((rule) => {
    const ports = rule.ports ?? [];
    if (ports.length && !ports.some((x) => x.port === port || x.port === undefined)) return false;
    if (!rule.to || rule.to.length === 0) return true;
    return rule.to.some((peer) => peer.podSelector && !peer.namespaceSelector && !peer.ipBlock &&
      (Object.keys(peer.podSelector.matchLabels ?? {}).length === 0 || matches(peer.podSelector, target.template.metadata.labels)));
  }));
}

export function checkRedis(objects) {
  const problems = [];
  const sts = find(objects, 'StatefulSet', 'redis');
  if (!sts) return ['no StatefulSet redis'];
  if (!(sts.spec.volumeClaimTemplates ?? []).some((v) => v.metadata.name === 'data')) problems.push('StatefulSet redis: no persistent volume claim template');
  const c = sts.spec.template.spec.containers.find((x) => x.name === 'redis');
  if (!(c?.volumeMounts ?? []).some((m) => m.name === 'data' && m.mountPath === '/data')) problems.push('StatefulSet redis: /data is not the persistent volume');
  const args = [...(c?.command ?? []), ...(c?.args ?? [])];
  const i = args.indexOf('--requirepass');
  if (i < 0 || args[i + 1] !== '$(REDIS_PASSWORD)') problems.push('StatefulSet redis: requirepass does not come from $(REDIS_PASSWORD)');
  const password = (c?.env ?? []).find((e) => e.name === 'REDIS_PASSWORD');
  if (password?.valueFrom?.secretKeyRef?.name !== 'pneumo-redis') problems.push('StatefulSet redis: REDIS_PASSWORD is not from Secret pneumo-redis');
  const confVolume = (sts.spec.template.spec.volumes ?? []).find((v) => v.configMap);
  const conf = confVolume && find(objects, 'ConfigMap', confVolume.configMap.name);
  const text = conf?.data?.['redis.conf'] ?? '';
  if (!/^appendonly yes$/m.test(text)) problems.push('redis.conf: appendonly is not yes');
  if (!/^dir \/data$/m.test(text)) problems.push('redis.conf: dir is not /data (the volume)');
  if (/^requirepass /m.test(text)) problems.push('redis.conf: holds a password');
  if (!args.includes('/etc/redis/redis.conf')) problems.push('StatefulSet redis: does not load redis.conf');
  for (const s of objects.filter((o) => o.kind === 'Secret'))
    if (s.data || s.stringData) problems.push(`Secret ${s.metadata.name} with data is committed; create it in the cluster instead`);
  return problems;
}

export function checkTrainingJob(objects) {
  const problems = [];
  const job = find(objects, 'Job', 'pneumo-train');
  if (!job) return ['no Job pneumo-train'];
  const pod = job.spec.template.spec;
  const c = pod.containers[0];
  const script = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
  if (!/pneumo train .*--out \/models\/runs\/\$\(RUN_ID\).*&& pneumo model publish \/models\/runs\/\$\(RUN_ID\) --to \/models/s.test(script))
    problems.push('Job pneumo-train: does not run `pneumo train ... && pneumo model publish ...` into /models');
  const modelsMount = (c.volumeMounts ?? []).find((m) => m.mountPath === '/models');
  const modelsVolume = modelsMount && (pod.volumes ?? []).find((v) => v.name === modelsMount.name);
  const claim = modelsVolume?.persistentVolumeClaim?.claimName;
  const server = find(objects, 'Deployment', 'pneumo')?.spec.template.spec;
  const serverClaims = (server?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter(Boolean);
  if (!claim || !serverClaims.includes(claim)) problems.push('Job pneumo-train: does not publish to the volume the servers read');
  if (modelsMount?.readOnly) problems.push('Job pneumo-train: the models volume is read-only');
  const pvc = claim && find(objects, 'PersistentVolumeClaim', claim);
  if (!pvc) problems.push(`PersistentVolumeClaim ${claim} is not rendered`);
  else if (!(pvc.spec.accessModes ?? []).includes('ReadWriteMany')) problems.push(`PersistentVolumeClaim ${claim}: not ReadWriteMany (servers on several nodes read it)`);
  const serverMount = find(objects, 'Deployment', 'pneumo')?.spec.template.spec.containers[0].volumeMounts?.find((m) => m.mountPath === '/models');
  if (!serverMount?.readOnly) problems.push('Deployment pneumo: mounts the models volume writable');
  if (job.spec.suspend !== true) problems.push('Job pneumo-train: not suspended (every apply would train)');
  return problems;
}

// The Kubernetes counterpart of the first start's `pneumo user add admin --role admin
// --only-if-no-users` (scripts/start.sh, the Terraform user data): a Job against the servers'
// Redis, with the password from the Secret in a file rather than in the arguments, idempotent,
// hardened like the training Job, and able to reach Redis.
export function checkFirstAdminJob(objects) {
  const name = 'Job/pneumo-first-admin';
  const job = find(objects, 'Job', 'pneumo-first-admin');
  if (!job) return [`no ${name}`];
  const problems = checkPodHardening(objects).filter((p) => p.startsWith(`${name}:`) || p.startsWith(`${name} `));
  const pod = job.spec.template.spec;
  if (pod.containers.length !== 1) problems.push(`${name}: ${pod.containers.length} containers, not 1`);
  const c = pod.containers[0];
  // The command as one shell text; line continuations joined, then cut at ; && || and new lines.
  const script = [...(c.command ?? []), ...(c.args ?? [])].join(' ').replace(/\\\n/g, ' ');
  const commands = script.split(/\n|;|&&|\|\|/).map((s) => s.trim());
  // A variable holding the store options (store="--store=..."), as the Job's script has it.
  const variables = new Map([...script.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
  const expand = (text) => text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (all, k) => variables.get(k) ?? all);
  const adds = commands.map(expand).filter((s) => /(^|[\s/])pneumo user add admin(\s|$)/.test(s));
  const add = adds[0] ?? (c.command === undefined && (c.args ?? [])[0] === 'user' ? `pneumo ${c.args.join(' ')}` : undefined);
  if (!add) return [...problems, `${name}: does not run \`pneumo user add admin\``];
  if (adds.length > 1) problems.push(`${name}: runs \`pneumo user add admin\` more than once`);
  const option = (flag) => add.match(new RegExp(`(?:^|\\s)${flag}(?:=|\\s+)(\\S+)`))?.[1];
  if (option('--role') !== 'admin') problems.push(`${name}: the user is not added with --role admin`);
  if (!/(^|\s)--only-if-no-users(\s|$)/.test(add))
    problems.push(`${name}: \`pneumo user add\` without --only-if-no-users (a rerun would add a second admin, or fail)`);
  // The same Redis as the servers.
  const server = find(objects, 'Deployment', 'pneumo')?.spec.template.spec.containers.find((x) => x.name === 'pneumo');
  const serverStore = (server?.args ?? []).find((a) => a.startsWith('--store='))?.slice('--store='.length);
  const where = (url) => url?.replace(/^redis:\/\/(?:[^@/]*@)?/, '');
  const store = option('--store');
  if (!store?.startsWith('redis://') || where(store) !== where(serverStore))
    problems.push(`${name}: --store ${store} is not the servers' Redis (${serverStore})`);
  if (/\$[({]?REDIS_PASSWORD\b/.test(script) || /^redis:\/\/[^/]*@/.test(store ?? ''))
    problems.push(`${name}: the Redis password is in the process arguments; give it with --store-password-file`);
  // The password file: the key password of Secret pneumo-redis, mounted read-only.
  const file = option('--store-password-file');
  const mount = file && (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  const volume = mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
  const inFile = mount && file.slice(mount.mountPath.replace(/\/$/, '').length + 1);
  const item = volume?.secret?.items?.find((i) => i.path === inFile);
  const key = volume?.secret && (volume.secret.items ? item?.key : inFile);
  if (!file) problems.push(`${name}: no --store-password-file`);
  else if (volume?.secret?.secretName !== 'pneumo-redis' || key !== 'password')
    problems.push(`${name}: --store-password-file ${file} is not the key password of the mounted Secret pneumo-redis`);
  else if (!mount.readOnly) problems.push(`${name}: the Secret pneumo-redis is mounted writable`);
  // Runs on apply, once, and goes away; the pneumo user of the image, like the training Job.
  if (job.spec.suspend) problems.push(`${name}: suspended (the first apply would create no admin)`);
  if ((job.spec.parallelism ?? 1) !== 1 || (job.spec.completions ?? 1) !== 1) problems.push(`${name}: more than one pod at once`);
  if (!(job.spec.backoffLimit >= 0 && job.spec.backoffLimit <= 6)) problems.push(`${name}: backoffLimit is not set to at most 6`);
  if (!(job.spec.ttlSecondsAfterFinished >= 3600)) problems.push(`${name}: no ttlSecondsAfterFinished of an hour or more (the log with the password must stay long enough to be read, and then go)`);
  if (pod.restartPolicy !== 'Never') problems.push(`${name}: restartPolicy is not Never`);
  const sc = pod.securityContext ?? {};
  if (sc.runAsUser !== 10001 || sc.runAsGroup !== 10001 || sc.fsGroup !== 10001) problems.push(`${name}: does not run as the image's pneumo user and group (10001)`);
  const sa = pod.serviceAccountName && find(objects, 'ServiceAccount', pod.serviceAccountName);
  if (!sa) problems.push(`${name}: its service account ${pod.serviceAccountName} is not rendered`);
  else if (sa.automountServiceAccountToken !== false) problems.push(`${name}: its service account ${sa.metadata.name} mounts a token`);
  if (!egressAllowed(objects, name, 'StatefulSet/redis', 6379)) problems.push(`${name}: no NetworkPolicy lets it connect to Redis`);
  if (!allowedPeers(objects, 'StatefulSet/redis', 6379).includes(`pod:${name}`)) problems.push(`${name}: Redis's NetworkPolicy does not admit it`);
  return problems;
}

export function checkNamespaceAndConfig(objects) {
  const problems = [];
  const ns = objects.find((o) => o.kind === 'Namespace');
  if (!ns) problems.push('no Namespace');
  else if (ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted')
    problems.push(`Namespace ${ns.metadata.name}: does not enforce the restricted Pod Security Standard`);
  for (const o of objects)
    if (!['Namespace'].includes(o.kind) && o.metadata.namespace !== ns?.metadata.name)
      problems.push(`${o.kind}/${o.metadata.name} is not in namespace ${ns?.metadata.name}`);
  const conf = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('pneumo-conf'));
  if (!conf) problems.push('no pneumo-conf ConfigMap (pneumo.conf)');
  else if (conf.data?.PNEUMO_MODEL !== '/models/current') problems.push('pneumo.conf: PNEUMO_MODEL is not /models/current');
  for (const { workload, template } of podTemplates(objects))
    for (const c of template.spec.containers)
      if (c.image === 'pneumo' || /:latest$/.test(c.image) || !/:/.test(c.image))
        problems.push(`${workload} container ${c.name}: image ${c.image} is not pinned to a registry and tag`);
  return problems;
}

export function checkProduction(objects) {
  return [
    ...checkServerDeployment(objects),
    ...checkPodHardening(objects),
    ...checkVariableReferences(objects),
    ...checkServiceAndIngress(objects),
    ...checkScaling(objects),
    ...checkNetworkPolicies(objects),
    ...checkRedis(objects),
    ...checkTrainingJob(objects),
    ...checkFirstAdminJob(objects),
    ...checkNamespaceAndConfig(objects),
  ];
}
