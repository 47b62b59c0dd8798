// deploy/grafana: the dashboards' JSON has what Grafana relies on (no Grafana here to load
// them): schemaVersion, unique uids and panel ids, panels with a known type and a gridPos
// inside the 24-column grid that overlaps no other, Prometheus targets with an expr and the
// provisioned datasource's uid, variables that exist, recording rules that exist; and between
// them the dashboards cover what issue 9 asks for.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { check, finish, repo } from './lib.mjs';

const grafana = process.env.PNEUMO_GRAFANA_DIR || path.join(repo, 'deploy/grafana');  // override: to check a copy

// The provisioning files are small YAML; the fields needed are read line by line.
const datasourceFiles = readdirSync(path.join(grafana, 'provisioning/datasources')).filter((f) => f.endsWith('.yml'));
const datasourceText = datasourceFiles.map((f) => readFileSync(path.join(grafana, 'provisioning/datasources', f), 'utf8')).join('\n');
const uids = [...datasourceText.matchAll(/^\s+uid:\s*(\S+)/gm)].map((m) => m[1]);
check(uids.length === 1, `one provisioned datasource uid (${uids.join(', ')})`);
check(/^\s+type:\s*prometheus\s*$/m.test(datasourceText), 'the provisioned datasource is Prometheus');
check(/^apiVersion:\s*1\s*$/m.test(datasourceText), 'the datasource file is provisioning apiVersion 1');
const providerText = readdirSync(path.join(grafana, 'provisioning/dashboards')).filter((f) => f.endsWith('.yml'))
  .map((f) => readFileSync(path.join(grafana, 'provisioning/dashboards', f), 'utf8')).join('\n');
check(/^apiVersion:\s*1\s*$/m.test(providerText) && /^\s+type:\s*file\s*$/m.test(providerText) &&
      /^\s+path:\s*\/\S+/m.test(providerText), 'the dashboard provider reads files from an absolute path');
const datasourceUid = uids[0];

const recordingText = readdirSync(path.join(repo, 'deploy/prometheus/rules'))
  .map((f) => readFileSync(path.join(repo, 'deploy/prometheus/rules', f), 'utf8')).join('\n');
const recorded = new Set([...recordingText.matchAll(/^\s+- record:\s*(\S+)/gm)].map((m) => m[1]));

const knownTypes = new Set(['row', 'timeseries', 'stat', 'table', 'gauge', 'bargauge', 'text', 'heatmap', 'state-timeline']);
const builtinVariables = new Set(['__rate_interval', '__interval', '__range', '__all']);
const files = readdirSync(path.join(grafana, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
check(files.length >= 1, `dashboards: ${files.join(', ')}`);

const dashboardUids = new Set();
const allExprs = [];
for (const file of files) {
  let d;
  try {
    d = JSON.parse(readFileSync(path.join(grafana, 'dashboards', file), 'utf8'));
  } catch (e) {
    check(false, `${file} is JSON (${e.message})`);
    continue;
  }
  const where = `${file}:`;
  check(typeof d.uid === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(d.uid), `${where} uid "${d.uid}" (at most 40 of [A-Za-z0-9_-])`);
  check(!dashboardUids.has(d.uid), `${where} uid unique across dashboards`);
  dashboardUids.add(d.uid);
  check(typeof d.title === 'string' && d.title.length > 0, `${where} title "${d.title}"`);
  check(Number.isInteger(d.schemaVersion) && d.schemaVersion >= 36, `${where} schemaVersion ${d.schemaVersion} (>= 36)`);
  check(Array.isArray(d.panels) && d.panels.length > 0, `${where} has ${d.panels?.length ?? 0} panels`);
  const variables = new Set((d.templating?.list ?? []).map((v) => v.name));
  for (const v of d.templating?.list ?? []) {
    check(typeof v.name === 'string' && typeof v.type === 'string', `${where} variable ${v.name} has name and type`);
    if (v.type === 'query') {
      check(v.datasource?.uid === datasourceUid, `${where} variable ${v.name} queries the provisioned datasource`);
      const q = typeof v.query === 'string' ? v.query : v.query?.query;
      check(typeof q === 'string' && q.length > 0, `${where} variable ${v.name} has a query`);
    }
  }

  // Rows may carry collapsed panels inside; both levels count.
  const panels = [];
  for (const p of d.panels ?? []) {
    panels.push(p);
    for (const inner of p.panels ?? []) panels.push(inner);
  }
  const ids = new Set();
  let problems = [];
  const boxes = [];
  for (const p of panels) {
    const name = `${where} panel ${p.id} "${p.title}"`;
    if (!Number.isInteger(p.id) || ids.has(p.id)) problems.push(`${name}: id missing or repeated`);
    ids.add(p.id);
    if (!knownTypes.has(p.type)) problems.push(`${name}: unknown type ${p.type}`);
    if (!p.title) problems.push(`${name}: no title`);
    const g = p.gridPos ?? {};
    const gridOk = ['h', 'w', 'x', 'y'].every((k) => Number.isInteger(g[k])) && g.h > 0 && g.w > 0 &&
                   g.x >= 0 && g.y >= 0 && g.x + g.w <= 24;
    if (!gridOk) problems.push(`${name}: gridPos ${JSON.stringify(g)} outside the 24-column grid`);
    else boxes.push({ name, ...g });
    if (p.type === 'row') continue;
    if (p.datasource?.uid !== datasourceUid || p.datasource?.type !== 'prometheus') {
      problems.push(`${name}: datasource ${JSON.stringify(p.datasource)} is not the provisioned ${datasourceUid}`);
    }
    if (!Array.isArray(p.targets) || p.targets.length === 0) {
      problems.push(`${name}: no targets`);
      continue;
    }
    const refIds = new Set();
    for (const t of p.targets) {
      if (typeof t.expr !== 'string' || !t.expr.trim()) problems.push(`${name}: target ${t.refId} has no expr`);
      if (!t.refId || refIds.has(t.refId)) problems.push(`${name}: refId ${t.refId} missing or repeated`);
      refIds.add(t.refId);
      if (t.datasource && t.datasource.uid !== datasourceUid) problems.push(`${name}: target ${t.refId} uses datasource ${t.datasource.uid}`);
      for (const m of (t.expr ?? '').matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (!variables.has(m[1]) && !builtinVariables.has(m[1])) problems.push(`${name}: $${m[1]} is not a variable of the dashboard`);
      }
      for (const m of (t.expr ?? '').matchAll(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g)) {
        if (!recorded.has(m[0])) problems.push(`${name}: ${m[0]} is not a recording rule in deploy/prometheus/rules`);
      }
      allExprs.push(t.expr ?? '');
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
        problems.push(`${a.name} overlaps ${b.name}`);
      }
    }
  }
  problems = [...new Set(problems)];
  for (const problem of problems) check(false, problem);
  check(problems.length === 0, `${where} ${panels.length} panels: ids unique, types known, gridPos in the grid without overlaps, ` +
        `targets with exprs on datasource ${datasourceUid}, variables and recording rules that exist`);
}

// What issue 9 asks the dashboards to show.
const wanted = {
  'traffic': /pneumo_http_requests/,
  'latency percentiles': /histogram_quantile|instance_quantile:pneumo_http_request_duration_seconds/,
  'errors by code': /by \(status\)/,
  'predictions by label': /job:pneumo_predictions:rate5m|pneumo_predictions_total/,
  'review rate': /pneumo_predictions_review/,
  'OOD rate': /pneumo_predictions_ood/,
  'OOD score': /pneumo_ood_score/,
  'batch size': /pneumo_batch_size/,
  'queue depth': /pneumo_queue_depth/,
  'model version per instance': /pneumo_model_info/,
  'CPU per host': /node_cpu_seconds_total/,
  'memory per host': /node_memory_MemAvailable_bytes/,
  'Redis': /redis_up/,
  'training progress': /pneumo_train_steps_total/,
  'validation AUC': /pneumo_validation_auc/,
};
for (const [topic, pattern] of Object.entries(wanted)) {
  check(allExprs.some((e) => pattern.test(e)), `a panel shows ${topic}`);
}
finish();
