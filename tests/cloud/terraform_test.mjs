// deploy/terraform without Terraform (it cannot be installed here): every .tf file is parsed
// with @cdktf/hcl2json, references are checked the way `terraform validate` would check them
// without provider schemas, and the design is checked (tiers, hardening, encryption, IAM, user
// data). Each check is also run on a broken input, to show that it can fail.
//
//   node tests/cloud/terraform_test.mjs        (CTest: cloud.terraform)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { here, importDependency, repo } from './lib/deps.mjs';
import { checkReferences, findTfFiles, loadTerraform, reachableModules } from './lib/terraform.mjs';
import {
  checkAppTier, checkDesign, checkIam, checkInstances, checkNetwork, checkPlacement, checkRedis, checkUserData,
} from './lib/terraform_design.mjs';

const { parse } = await importDependency('@cdktf/hcl2json');
const root = path.join(repo, 'deploy', 'terraform');
const tree = await loadTerraform(root, parse);
const mod = (t, dir) => t.modules.get(path.resolve(root, dir));

test('every .tf file under deploy/terraform parses as HCL2', () => {
  const files = findTfFiles(root);
  assert.ok(files.length >= 30, `expected the root and its modules, found ${files.length} .tf files`);
  assert.deepEqual(tree.errors, []);
  assert.equal([...tree.modules.values()].reduce((n, m) => n + m.files.length, 0), files.length);
});

test('the parser rejects a file that is not HCL (the parse check can fail)', async () => {
  const broken = await loadTerraform(path.join(here, 'fixtures', 'unparseable'), parse);
  assert.equal(broken.errors.length, 1);
  assert.match(broken.errors[0].message, /Unclosed configuration block/);
});

test('every variable, local, resource, data source, module output and template variable referenced is declared', () => {
  assert.deepEqual(checkReferences(tree), []);
});

test('the reference check reports undeclared names, bad module arguments and template drift', () => {
  const t = structuredClone(tree);
  const lt = mod(t, 'modules/app').resources.get('aws_launch_template.app');
  lt.body.instance_type = '${var.no_such_variable}';
  lt.body.user_data = lt.body.user_data.replace('serve_args                 = var.serve_args\n', '');
  mod(t, 'modules/app').outputs.get('asg_name').body.value = '${aws_autoscaling_group.nope.name}';
  const rootCalls = t.modules.get(path.resolve(root)).moduleCalls;
  rootCalls.get('redis').body.no_such_argument = 1;
  delete rootCalls.get('redis').body.node_type;
  rootCalls.get('edge').body.app_upstream = '${module.app.no_such_output}';
  const problems = checkReferences(t).join('\n');
  assert.match(problems, /undeclared var\.no_such_variable/);
  assert.match(problems, /uses \$\{serve_args\}, which modules\/app\/main\.tf does not pass/);
  assert.match(problems, /undeclared resource aws_autoscaling_group\.nope/);
  assert.match(problems, /module redis passes no_such_argument/);
  assert.match(problems, /module redis does not pass node_type/);
  assert.match(problems, /module\.app\.no_such_output, which modules\/app does not output/);
});

test('every module directory is used from the root module', () => {
  const used = reachableModules(tree);
  const unused = [...tree.modules.keys()].filter((d) => !used.has(d)).map((d) => path.relative(root, d));
  assert.deepEqual(unused, []);
  for (const name of ['network', 'security', 'endpoints', 'storage', 'redis', 'app', 'edge', 'trainer', 'monitoring'])
    assert.ok(mod(tree, `modules/${name}`), `modules/${name} exists`);
});

test('a VPC over two zones: public and private subnets, NAT for the private ones', () => {
  assert.deepEqual(checkNetwork(tree), []);
});

test('nginx runs in the public subnets; servers, Redis, trainer and monitoring in the private ones', () => {
  assert.deepEqual(checkPlacement(tree), []);
});

test('instances: no SSH key, IMDSv2 only, encrypted volumes, public addresses only for nginx', () => {
  assert.deepEqual(checkInstances(tree), []);
});

test('pneumo servers: an auto scaling group behind an internal load balancer checking /readyz', () => {
  assert.deepEqual(checkAppTier(tree), []);
});

test('Redis: ElastiCache with AUTH, TLS in transit and encryption at rest', () => {
  assert.deepEqual(checkRedis(tree), []);
});

test('IAM: no wildcard actions, "*" resources only for actions that take none, no managed policies', () => {
  assert.deepEqual(checkIam(tree), []);
});

test('user data installs pneumo_<version>_amd64.deb, configures pneumo.service and pneumo-train.service', () => {
  assert.deepEqual(checkUserData(root), []);
});

test('the design checks report regressions', () => {
  const t = structuredClone(tree);
  const app = mod(t, 'modules/app');
  const lt = app.resources.get('aws_launch_template.app');
  lt.body.key_name = 'ops';
  lt.body.metadata_options[0].http_tokens = 'optional';
  lt.body.block_device_mappings[0].ebs[0].encrypted = false;
  lt.body.network_interfaces = [{ associate_public_ip_address: true }];
  app.resources.get('aws_lb_target_group.app').body.health_check[0].path = '/healthz';
  app.resources.get('aws_lb.app').body.internal = false;
  const redis = mod(t, 'modules/redis').resources.get('aws_elasticache_replication_group.this');
  redis.body.transit_encryption_enabled = false;
  delete redis.body.auth_token;
  mod(t, 'modules/network').resources.get('aws_route_table.private').body.route[0] = { cidr_block: '0.0.0.0/0', gateway_id: 'igw' };
  t.modules.get(path.resolve(root)).moduleCalls.get('trainer').body.subnet_id = '${module.network.public_subnet_ids[0]}';
  const policy = app.data.get('aws_iam_policy_document.app');
  policy.body.statement.push({ actions: ['s3:*'], resources: ['*'] });
  app.resources.set('aws_iam_role_policy_attachment.admin', {
    type: 'aws_iam_role_policy_attachment', name: 'admin', body: { policy_arn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
  });
  const problems = checkDesign(t).join('\n');
  for (const expected of [
    /has an SSH key/, /does not require IMDSv2/, /unencrypted volume/, /gets a public address; only the nginx tier may/,
    /health check is not \/readyz/, /load balancer of the servers is not internal/, /redis: no in-transit encryption/,
    /redis: no AUTH token/, /private subnets do not route to the internet through NAT/, /module trainer is not placed in private_subnet_ids/,
    /wildcard action s3:\*/, /allows s3:\* on every resource/, /attaches a managed policy/,
  ]) assert.match(problems, expected);
});

test('the user data check reports a trainer that does not publish', () => {
  const copy = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'pneumo-tf-'));
  try {
    fs.cpSync(path.join(root, 'templates'), path.join(copy, 'templates'), { recursive: true });
    fs.cpSync(path.join(root, 'modules'), path.join(copy, 'modules'), { recursive: true });
    const trainer = path.join(copy, 'modules', 'trainer', 'user_data.sh.tftpl');
    fs.writeFileSync(trainer, fs.readFileSync(trainer, 'utf8').replace('&& pneumo model publish', '; echo skipped'));
    const bootstrap = path.join(copy, 'templates', 'bootstrap.sh.tftpl');
    fs.writeFileSync(bootstrap, fs.readFileSync(bootstrap, 'utf8').replace(/sha256sum -c/g, 'true'));
    const problems = checkUserData(copy).join('\n');
    assert.match(problems, /does not run `pneumo train .* && pneumo model publish/);
    assert.match(problems, /does not verify the package checksum/);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

// A template rendered with placeholder values, for `bash -n`: directive lines (%{ if }, %{ for })
// are dropped, so both branches of an if and one pass of a loop are checked.
function renderForSyntaxCheck(text, values) {
  return text.replace(/^%\{[^}]*\}\n?/gm, '')
    .replace(/(?<!\$)\$\{([^}]*)\}/g, (_, expr) => values[expr.trim().split('.')[0]] ?? 'placeholder')
    .replaceAll('$${', '${');
}

const bashSyntax = (script) => spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });

test('every user data script is valid bash once rendered', () => {
  const bootstrap = renderForSyntaxCheck(fs.readFileSync(path.join(root, 'templates', 'bootstrap.sh.tftpl'), 'utf8'), {});
  for (const tier of ['app', 'edge', 'trainer', 'monitoring']) {
    const file = path.join(root, 'modules', tier, 'user_data.sh.tftpl');
    const script = renderForSyntaxCheck(fs.readFileSync(file, 'utf8'), { bootstrap });
    assert.match(script, /^#!\/bin\/bash\n/, `${tier}: a bash script`);
    const run = bashSyntax(script);
    assert.equal(run.status, 0, `${tier}: bash -n: ${run.stderr}`);
  }
  assert.notEqual(bashSyntax(`${bootstrap}\nif true; then\n`).status, 0, 'bash -n rejects a broken script');
});

test('the README says how to apply, scale, publish a new model and destroy', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  for (const heading of [/^## Apply/m, /^## Scale/m, /^## Publish a new model/m, /^## Destroy/m])
    assert.match(readme, heading);
  assert.match(readme, /pneumo model publish/);
  assert.match(readme, /terraform destroy/);
  const top = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  assert.match(top, /^## Deploying to AWS and Kubernetes$/m);
});
