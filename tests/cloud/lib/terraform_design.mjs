// Checks of deploy/terraform's design that a parse alone cannot see: where each tier runs, how
// instances are hardened, Redis encryption, least-privilege IAM, and that the user data installs
// and runs the pneumo package. Each check returns problems as strings; an empty list passes.
import fs from 'node:fs';
import path from 'node:path';

const first = (v) => (Array.isArray(v) ? v[0] : v);
const blocks = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function resourcesOfType(tree, type) {
  const out = [];
  for (const m of tree.modules.values())
    for (const r of m.resources.values()) if (r.type === type) out.push({ ...r, dir: m.dir });
  return out;
}

function module(tree, relDir) {
  return tree.modules.get(path.resolve(tree.root, relDir));
}

// IAM actions that take no resource ARN, so that "Resource": "*" is the narrowest there is.
const RESOURCELESS_ACTIONS = [
  /^ssm:UpdateInstanceInformation$/,
  /^ssmmessages:(Create|Open)(Control|Data)Channel$/,
  /^ec2messages:(AcknowledgeMessage|DeleteMessage|FailMessage|GetEndpoint|GetMessages|SendReply)$/,
  /^ec2:Describe[A-Za-z]+$/,
];

export function checkNetwork(tree) {
  const problems = [];
  const net = module(tree, 'modules/network');
  if (!net) return ['modules/network is missing'];
  for (const tier of ['public', 'private']) {
    const subnet = net.resources.get(`aws_subnet.${tier}`);
    if (!subnet) problems.push(`network: no aws_subnet.${tier}`);
    else if (subnet.body.count !== '${length(var.availability_zones)}')
      problems.push(`network: aws_subnet.${tier} is not one per availability zone`);
  }
  const azs = net.variables.get('availability_zones');
  const conditions = blocks(azs?.body.validation).map((v) => v.condition ?? '');
  if (!conditions.some((c) => /length\(var\.availability_zones\)\s*==\s*2/.test(c)))
    problems.push('network: availability_zones is not validated to exactly two zones');
  if (!net.resources.has('aws_nat_gateway.this')) problems.push('network: no NAT gateway');
  const privateRoute = first(net.resources.get('aws_route_table.private')?.body.route);
  if (!privateRoute?.nat_gateway_id || privateRoute.cidr_block !== '0.0.0.0/0')
    problems.push('network: private subnets do not route to the internet through NAT');
  const publicRoute = first(net.resources.get('aws_route_table.public')?.body.route);
  if (!String(publicRoute?.gateway_id ?? '').includes('aws_internet_gateway'))
    problems.push('network: public subnets do not route through the internet gateway');
  for (const tier of ['public', 'private']) {
    const subnet = net.resources.get(`aws_subnet.${tier}`);
    if (subnet && subnet.body.map_public_ip_on_launch === true)
      problems.push(`network: aws_subnet.${tier} gives every instance a public address`);
  }
  return problems;
}

// Which subnets each tier is placed in, read from the root module's calls.
export function checkPlacement(tree) {
  const problems = [];
  const root = tree.modules.get(path.resolve(tree.root));
  const expect = [
    ['app', 'subnet_ids', 'private_subnet_ids'],
    ['redis', 'subnet_ids', 'private_subnet_ids'],
    ['monitoring', 'subnet_id', 'private_subnet_ids'],
    ['trainer', 'subnet_id', 'private_subnet_ids'],
    ['edge', 'public_subnet_ids', 'public_subnet_ids'],
  ];
  for (const [name, arg, subnets] of expect) {
    const call = root?.moduleCalls.get(name);
    if (!call) {
      problems.push(`root: no module "${name}"`);
      continue;
    }
    if (!String(call.body[arg] ?? '').includes(`module.network.${subnets}`))
      problems.push(`root: module ${name} is not placed in ${subnets} (${arg} = ${call.body[arg]})`);
  }
  return problems;
}

export function checkInstances(tree) {
  const problems = [];
  const rel = (d) => path.relative(tree.root, d);
  const machines = [...resourcesOfType(tree, 'aws_launch_template'), ...resourcesOfType(tree, 'aws_instance')];
  if (machines.length < 4) problems.push(`expected launch templates or instances for app, nginx, trainer and monitoring, found ${machines.length}`);
  for (const r of machines) {
    const where = `${rel(r.dir)}: ${r.type}.${r.name}`;
    if ('key_name' in r.body) problems.push(`${where} has an SSH key (key_name); access is through SSM only`);
    const md = first(r.body.metadata_options);
    if (md?.http_tokens !== 'required') problems.push(`${where} does not require IMDSv2 (metadata_options.http_tokens = "required")`);
    if (md && md.http_put_response_hop_limit !== 1) problems.push(`${where}: IMDS hop limit is not 1`);
    const volumes = r.type === 'aws_instance'
      ? blocks(r.body.root_block_device)
      : blocks(r.body.block_device_mappings).map((b) => first(b.ebs));
    if (volumes.length === 0 || volumes.some((v) => v?.encrypted !== true)) problems.push(`${where} has an unencrypted volume`);
    const publicIp = r.body.associate_public_ip_address === true ||
      blocks(r.body.network_interfaces).some((n) => n.associate_public_ip_address === true);
    if (publicIp && !/nginx/.test(r.name)) problems.push(`${where} gets a public address; only the nginx tier may`);
    if (!('user_data' in r.body)) problems.push(`${where} has no user data`);
    if (!('iam_instance_profile' in r.body)) problems.push(`${where} has no instance profile (SSM needs one)`);
  }
  return problems;
}

export function checkAppTier(tree) {
  const problems = [];
  const app = module(tree, 'modules/app');
  if (!app) return ['modules/app is missing'];
  const asg = app.resources.get('aws_autoscaling_group.app');
  if (!asg) return ['app: no auto scaling group'];
  if (asg.body.health_check_type !== 'ELB') problems.push('app: the auto scaling group ignores load balancer health');
  if (!first(asg.body.instance_refresh)) problems.push('app: no instance refresh (rolling replacement)');
  const tg = app.resources.get('aws_lb_target_group.app');
  if (first(tg?.body.health_check)?.path !== '/readyz') problems.push('app: target group health check is not /readyz');
  if (tg?.body.port !== 8080) problems.push('app: target group does not forward to 8080');
  const lb = app.resources.get('aws_lb.app');
  if (lb?.body.internal !== true) problems.push('app: the load balancer of the servers is not internal');
  const scaling = [...app.resources.values()].filter((r) => r.type === 'aws_autoscaling_policy');
  if (!scaling.some((p) => p.body.policy_type === 'TargetTrackingScaling')) problems.push('app: no target tracking scaling policy');
  return problems;
}

export function checkRedis(tree) {
  const problems = [];
  const groups = resourcesOfType(tree, 'aws_elasticache_replication_group');
  if (groups.length !== 1) return [`expected one ElastiCache replication group, found ${groups.length}`];
  const g = groups[0].body;
  if (g.transit_encryption_enabled !== true) problems.push('redis: no in-transit encryption');
  if (g.at_rest_encryption_enabled !== true) problems.push('redis: no encryption at rest');
  if (!g.auth_token) problems.push('redis: no AUTH token');
  if (g.port !== 6379) problems.push('redis: not on 6379');
  if (!String(g.subnet_group_name ?? '').includes('aws_elasticache_subnet_group')) problems.push('redis: no subnet group');
  return problems;
}

export function checkIam(tree) {
  const problems = [];
  const rel = (d) => path.relative(tree.root, d);
  for (const m of tree.modules.values()) {
    for (const d of m.data.values()) {
      if (d.type !== 'aws_iam_policy_document') continue;
      const statements = [
        ...blocks(d.body.statement),
        ...blocks(d.body.dynamic?.statement).flatMap((s) => blocks(s.content)),
      ];
      for (const s of statements) {
        const where = `${rel(m.dir)}: ${d.type}.${d.name} ${s.sid ?? ''}`.trim();
        if (s.effect === 'Deny') continue;
        const actions = blocks(s.actions);
        const resources = blocks(s.resources);
        for (const a of actions) {
          if (typeof a === 'string' && (a === '*' || /:\*$/.test(a) || a.endsWith('*')))
            problems.push(`${where} allows the wildcard action ${a}`);
        }
        if (resources.includes('*')) {
          for (const a of actions)
            if (!RESOURCELESS_ACTIONS.some((re) => re.test(a)))
              problems.push(`${where} allows ${a} on every resource ("*")`);
        }
      }
    }
    for (const r of m.resources.values()) {
      if (r.type === 'aws_iam_role_policy_attachment' || r.type === 'aws_iam_policy_attachment')
        problems.push(`${rel(m.dir)}: ${r.type}.${r.name} attaches a managed policy; write the tier's own instead`);
      if (r.type === 'aws_iam_role' && 'managed_policy_arns' in r.body)
        problems.push(`${rel(m.dir)}: aws_iam_role.${r.name} has managed policies`);
    }
  }
  return problems;
}

// The user data templates, read as text.
export function checkUserData(root) {
  const problems = [];
  const read = (p) => {
    const file = path.join(root, p);
    if (!fs.existsSync(file)) {
      problems.push(`${p} is missing`);
      return '';
    }
    return fs.readFileSync(file, 'utf8');
  };
  const bootstrap = read('templates/bootstrap.sh.tftpl');
  if (!/PNEUMO_DEB="pneumo_\$\$\{PNEUMO_VERSION\}_amd64\.deb"/.test(bootstrap))
    problems.push('bootstrap: does not fetch pneumo_<version>_amd64.deb');
  if (!/apt-get install[^\n]*"\/tmp\/\$PNEUMO_DEB"/.test(bootstrap)) problems.push('bootstrap: does not install the .deb with apt-get');
  if (!/amazon-ssm-agent/.test(bootstrap)) problems.push('bootstrap: does not install the SSM agent');
  if (!/sha256sum -c/.test(bootstrap)) problems.push('bootstrap: does not verify the package checksum');
  const app = read('modules/app/user_data.sh.tftpl');
  if (!/^install_pneumo$/m.test(app)) problems.push('app user data: does not install pneumo');
  // The store (with Redis's token) reaches pneumo serve as PNEUMO_STORE from an environment file,
  // never on its command line; the package's /etc/pneumo/pneumo.conf stays its config file.
  if (!/pneumo\.service\.d\//.test(app) || !/ExecStart=\/usr\/bin\/pneumo serve --config \/etc\/pneumo\/pneumo\.conf/.test(app) ||
      !/^PNEUMO_STORE="redis:\/\//m.test(app) || !/EnvironmentFile=\/etc\/default\/pneumo$/m.test(app))
    problems.push('app user data: pneumo.service is not configured to serve with the shared store');
  if (/ExecStart=[^\n]*(PNEUMO_STORE|--store)/.test(app)) problems.push('app user data: the store URL (with its password) is on pneumo serve\'s command line');
  if (!/cat > \/etc\/default\/pneumo <</.test(app)) problems.push('app user data: does not write the environment file /etc/default/pneumo');
  if (!/redis_tls_tunnel/.test(app)) problems.push('app user data: reaches Redis without TLS');
  const trainer = read('modules/trainer/user_data.sh.tftpl');
  if (!/^install_pneumo$/m.test(trainer)) problems.push('trainer user data: does not install pneumo');
  if (!/pneumo-train\.service\.d\//.test(trainer)) problems.push('trainer user data: pneumo-train.service is not configured');
  if (!/pneumo train [^\n]*--metrics-port 8000[^\n]*\\\n\s*&& pneumo model publish "\$run" --to /.test(trainer))
    problems.push('trainer user data: does not run `pneumo train ... --metrics-port 8000 && pneumo model publish RUN --to TARGET`');
  for (const [name, text] of [['app', app], ['trainer', trainer], ['bootstrap', bootstrap]])
    if (/authorized_keys|sshd/.test(text)) problems.push(`${name} user data: configures SSH`);
  return problems;
}

export function checkDesign(tree) {
  return [
    ...checkNetwork(tree),
    ...checkPlacement(tree),
    ...checkInstances(tree),
    ...checkAppTier(tree),
    ...checkRedis(tree),
    ...checkIam(tree),
  ];
}
