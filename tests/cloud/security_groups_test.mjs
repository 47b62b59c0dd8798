// Every security group rule of deploy/terraform against the policy in lib/security_groups.mjs
// (nothing open to the internet but 80/443 of the nginx tier; Redis and metrics ports only
// from security groups), then the tier-by-tier table of who may reach what. The same checker
// runs on fixtures/bad_security_groups, which it must reject rule by rule.
//
//   node tests/cloud/security_groups_test.mjs   (CTest: cloud.security_groups)
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { here, importDependency, repo } from './lib/deps.mjs';
import {
  METRICS_PORTS, REDIS_PORT, UNKNOWN, checkIngressPolicy, collectIngressRules, groupName, portRange,
} from './lib/security_groups.mjs';
import { loadTerraform } from './lib/terraform.mjs';

const { parse } = await importDependency('@cdktf/hcl2json');
const tree = await loadTerraform(path.join(repo, 'deploy', 'terraform'), parse);
assert.deepEqual(tree.errors, [], 'deploy/terraform parses');
const rules = collectIngressRules(tree);

const format = (violations) => violations.map((v) => `${v.address}: ${v.message}`).join('\n');

// "target:port" -> sorted list of sources ("sg:<name>" or "cidr:<range>").
function reachability(allRules) {
  const table = new Map();
  for (const r of allRules) {
    const range = portRange(r);
    assert.ok(Array.isArray(range) && range[0] === range[1], `${r.address} opens one port`);
    const key = `${groupName(r.target)}:${range[0]}`;
    const list = table.get(key) ?? [];
    for (const s of r.sources)
      list.push(s.kind === 'security_group' ? `sg:${groupName(s.value?.securityGroup ?? UNKNOWN)}` : `${s.kind}:${String(s.value)}`);
    table.set(key, list.sort());
  }
  return table;
}

test('deploy/terraform has security group rules to check', () => {
  assert.ok(rules.length >= 15, `found ${rules.length} ingress rules`);
  assert.ok(rules.every((r) => r.target !== UNKNOWN), 'every rule belongs to a known group');
});

test('no ingress from 0.0.0.0/0 or ::/0 but 80/443 on the nginx tier; Redis and metrics ports only from groups', () => {
  const violations = checkIngressPolicy(rules);
  assert.equal(violations.length, 0, format(violations));
});

test('who may reach what: Redis from app and trainer, metrics from monitoring, Grafana and Prometheus via nginx', () => {
  const table = reachability(rules);
  const expected = {
    'nginx_lb:80': ['cidr:0.0.0.0/0'],
    'nginx_lb:443': ['cidr:0.0.0.0/0'],
    'nginx:80': ['sg:nginx_lb'],
    'nginx:443': ['sg:nginx_lb'],
    'nginx:9100': ['sg:monitoring'],
    'nginx:9113': ['sg:monitoring'],
    'app_lb:80': ['sg:nginx'],
    'app:8080': ['sg:app_lb', 'sg:monitoring'],
    'app:9100': ['sg:monitoring'],
    'app:9121': ['sg:monitoring'],
    'redis:6379': ['sg:app', 'sg:trainer'],
    'trainer:8000': ['sg:monitoring'],
    'trainer:9100': ['sg:monitoring'],
    'monitoring:3000': ['sg:nginx'],
    'monitoring:9090': ['sg:nginx'],
    'endpoints:443': ['sg:app', 'sg:monitoring', 'sg:nginx', 'sg:trainer'],
  };
  assert.deepEqual(Object.fromEntries([...table].sort()), Object.fromEntries(Object.entries(expected).sort()));
  for (const [key, sources] of table) {
    const port = Number(key.split(':')[1]);
    assert.notEqual(port, 22, `${key}: no SSH anywhere (access is through SSM)`);
    if (port === REDIS_PORT) assert.deepEqual(sources, ['sg:app', 'sg:trainer'], key);
    if (METRICS_PORTS.has(port) && !key.startsWith('app:8080'))
      assert.deepEqual(sources, ['sg:monitoring'], `${key}: ${METRICS_PORTS.get(port)} only from monitoring`);
  }
});

test('the checker rejects every bad rule of fixtures/bad_security_groups, and only those', async () => {
  const bad = await loadTerraform(path.join(here, 'fixtures', 'bad_security_groups'), parse);
  assert.deepEqual(bad.errors, []);
  const got = checkIngressPolicy(collectIngressRules(bad)).map((v) => `${v.address.replace(/^\.\//, '')} ${v.kind}`);
  const metrics = (address) => [8080, 8000, 9100, 9121, 9113].map(() => `${address} metrics-open-to-cidr`);
  const expected = [
    'aws_security_group.bastion.ingress[0] open-to-internet',
    'aws_security_group.generated.dynamic.ingress unsupported',
    'aws_security_group.nginx.ingress[1] open-to-internet',
    'aws_security_group_rule.redis_from_vpc redis-open-to-cidr',
    'aws_vpc_security_group_ingress_rule.everything_from_ipv6 open-to-internet',
    'aws_vpc_security_group_ingress_rule.everything_from_ipv6 redis-open-to-cidr',
    ...metrics('aws_vpc_security_group_ingress_rule.everything_from_ipv6'),
    'aws_vpc_security_group_ingress_rule.http_from_list["0.0.0.0/0"] open-to-internet',
    'aws_vpc_security_group_ingress_rule.node_exporter_from_office metrics-open-to-cidr',
    'aws_vpc_security_group_ingress_rule.range_from_peer_vpc metrics-open-to-cidr',
    'aws_vpc_security_group_ingress_rule.range_from_peer_vpc metrics-open-to-cidr',
    'aws_vpc_security_group_ingress_rule.unknown_port unresolved-ports',
  ];
  assert.deepEqual(got.sort(), expected.sort());
});

test('the checker reports a real rule opened to a CIDR (the policy test can fail on deploy/terraform)', () => {
  const t = structuredClone(tree);
  const security = t.modules.get(path.join(repo, 'deploy', 'terraform', 'modules', 'security'));
  const rule = security.resources.get('aws_vpc_security_group_ingress_rule.redis_6379_from_app');
  delete rule.body.referenced_security_group_id;
  rule.body.cidr_ipv4 = '10.20.0.0/16';
  const grafana = security.resources.get('aws_vpc_security_group_ingress_rule.monitoring_3000_from_nginx');
  delete grafana.body.referenced_security_group_id;
  grafana.body.cidr_ipv4 = '0.0.0.0/0';
  const kinds = checkIngressPolicy(collectIngressRules(t)).map((v) => `${v.address.split('/').pop()} ${v.kind}`);
  assert.deepEqual(kinds.sort(), [
    'aws_vpc_security_group_ingress_rule.monitoring_3000_from_nginx open-to-internet',
    'aws_vpc_security_group_ingress_rule.redis_6379_from_app redis-open-to-cidr',
  ]);
});
