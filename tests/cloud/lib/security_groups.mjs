// Reads every security group ingress rule of a Terraform tree (inline ingress blocks of
// aws_security_group / aws_default_security_group, aws_security_group_rule of type ingress,
// aws_vpc_security_group_ingress_rule) and checks them against pneumo's policy:
//
//   1. Nothing is open to the internet (0.0.0.0/0, ::/0) except TCP 80 and 443 on the nginx tier
//      (a group whose Terraform name, name or name_prefix says nginx).
//   2. Redis (6379) and the metrics ports (8080 pneumo /metrics, 8000 trainer, 9100 node exporter,
//      9121 redis exporter, 9113 nginx exporter) are never open to a CIDR or prefix list: only to
//      security groups.
//   3. What cannot be evaluated statically is a violation too: ports, sources or the target group
//      that do not resolve to literals (through variables with defaults, module arguments,
//      locals, for_each over known collections), and dynamic "ingress" blocks.
import path from 'node:path';
import { interpolations, moduleSourceDir } from './terraform.mjs';

export const REDIS_PORT = 6379;
export const METRICS_PORTS = new Map([
  [8080, 'pneumo /metrics'],
  [8000, 'trainer metrics'],
  [9100, 'node exporter'],
  [9121, 'redis exporter'],
  [9113, 'nginx exporter'],
]);
const PUBLIC_PORTS = new Set([80, 443]);

export const UNKNOWN = Symbol('unknown');

// Evaluates the small subset of Terraform expressions that security group rules should be
// written in. Anything else is UNKNOWN.
export class Resolver {
  constructor(tree) {
    this.tree = tree;
  }

  callersOf(dir) {
    const out = [];
    for (const m of this.tree.modules.values())
      for (const call of m.moduleCalls.values())
        if (moduleSourceDir(m.dir, call.body) === dir) out.push({ dir: m.dir, call });
    return out;
  }

  value(dir, v, scope = {}, depth = 0) {
    if (depth > 40) return UNKNOWN;
    if (v === undefined) return undefined;
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
    if (Array.isArray(v)) return v.map((x) => this.value(dir, x, scope, depth + 1));
    if (typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.value(dir, x, scope, depth + 1)]));
    }
    if (typeof v !== 'string') return UNKNOWN;
    const parts = interpolations(v);
    if (parts.length === 0) return v;
    if (parts.length === 1 && v === `\${${parts[0]}}`) return this.expr(dir, parts[0], scope, depth + 1);
    let out = v;
    for (const p of parts) {
      const r = this.expr(dir, p, scope, depth + 1);
      if (r === UNKNOWN || typeof r === 'object') return UNKNOWN;
      out = out.replace(`\${${p}}`, String(r));
    }
    return out;
  }

  expr(dir, e, scope, depth) {
    e = e.trim();
    let m;
    if (/^-?\d+$/.test(e)) return Number(e);
    if ((m = e.match(/^"((?:[^"\\$]|\\.)*)"$/))) return m[1];
    if ((m = e.match(/^(?:toset|tolist)\((.*)\)$/s))) return this.expr(dir, m[1], scope, depth + 1);
    if (e.startsWith('[') && e.endsWith(']')) {
      const items = splitTopLevel(e.slice(1, -1));
      return items.map((item) => this.expr(dir, item, scope, depth + 1));
    }
    if ((m = e.match(/^each\.(key|value)((?:\.[A-Za-z_]\w*)*)$/))) {
      if (!scope.each) return UNKNOWN;
      return dig(scope.each[m[1]], m[2]);
    }
    if ((m = e.match(/^var\.([A-Za-z_][\w-]*)((?:\.[A-Za-z_]\w*)*)$/))) return dig(this.variable(dir, m[1], depth), m[2]);
    if ((m = e.match(/^local\.([A-Za-z_][\w-]*)((?:\.[A-Za-z_]\w*)*)$/))) {
      const local = this.tree.modules.get(dir)?.locals.get(m[1]);
      return local ? dig(this.value(dir, local.value, {}, depth + 1), m[2]) : UNKNOWN;
    }
    if ((m = e.match(/^(aws_security_group|aws_default_security_group)\.([A-Za-z_][\w-]*)\.id$/))) {
      const resource = this.tree.modules.get(dir)?.resources.get(`${m[1]}.${m[2]}`);
      return resource ? { securityGroup: { dir, type: m[1], name: m[2], body: resource.body } } : UNKNOWN;
    }
    if ((m = e.match(/^module\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)$/))) {
      const call = this.tree.modules.get(dir)?.moduleCalls.get(m[1]);
      const child = call && moduleSourceDir(dir, call.body);
      const output = child && this.tree.modules.get(child)?.outputs.get(m[2]);
      return output ? this.value(child, output.body.value, {}, depth + 1) : UNKNOWN;
    }
    return UNKNOWN;
  }

  // A module variable's value: what its only caller passes, or its default. The root module's
  // variables take their defaults (terraform.tfvars is not checked; the root's variables
  // validate what they accept).
  variable(dir, name, depth) {
    const declared = this.tree.modules.get(dir)?.variables.get(name);
    if (!declared) return UNKNOWN;
    const fallback = 'default' in declared.body ? this.value(dir, declared.body.default, {}, depth + 1) : UNKNOWN;
    const callers = this.callersOf(dir);
    if (callers.length === 0) return fallback;
    const values = callers.map(({ dir: callerDir, call }) =>
      name in call.body ? this.value(callerDir, call.body[name], {}, depth + 1) : fallback);
    const first = JSON.stringify(values[0], replacer);
    return values.every((v) => JSON.stringify(v, replacer) === first) ? values[0] : UNKNOWN;
  }
}

// Splits "a, [b, c], "d,e"" at its top-level commas.
function splitTopLevel(text) {
  const out = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if ('[({'.includes(c)) depth++;
    else if ('])}'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (text.slice(start).trim()) out.push(text.slice(start));
  return out.map((x) => x.trim()).filter(Boolean);
}

function replacer(_key, v) {
  return v === UNKNOWN ? '<unknown>' : v;
}

function dig(value, attrs) {
  if (!attrs) return value;
  for (const a of attrs.split('.').filter(Boolean)) {
    if (value === UNKNOWN || value === null || typeof value !== 'object' || !(a in value)) return UNKNOWN;
    value = value[a];
  }
  return value;
}

const asList = (v) => (v === undefined || v === null ? [] : v === UNKNOWN ? [UNKNOWN] : Array.isArray(v) ? v : [v]);

// The instances of a resource: one per for_each element (each.key/each.value), count copies, or one.
function instances(resolver, dir, body) {
  if ('for_each' in body) {
    const set = resolver.value(dir, body.for_each);
    if (set === UNKNOWN || set === null || typeof set !== 'object') return [{ key: '<unknown for_each>', scope: {} }];
    const entries = Array.isArray(set) ? set.map((v) => [v, v]) : Object.entries(set);
    return entries.map(([k, v]) => ({ key: typeof k === 'symbol' ? '<unknown>' : String(k), scope: { each: { key: k, value: v } } }));
  }
  if ('count' in body) {
    const n = resolver.value(dir, body.count);
    if (typeof n === 'number') return Array.from({ length: n }, (_, i) => ({ key: String(i), scope: {} }));
  }
  return [{ key: null, scope: {} }];
}

function source(kind, value) {
  return { kind, value };
}

// Every ingress rule, as { address, file, target, protocol, fromPort, toPort, sources[], problems[] }.
// target is a security group ({ dir, type, name, body }) or UNKNOWN; sources are
// { kind: 'cidr' | 'prefix_list' | 'security_group', value }.
export function collectIngressRules(tree) {
  const resolver = new Resolver(tree);
  const rules = [];
  const rel = (p) => path.relative(tree.root, p) || '.';
  for (const m of tree.modules.values()) {
    for (const r of m.resources.values()) {
      const base = `${rel(m.dir)}/${r.type}.${r.name}`;
      for (const inst of instances(resolver, m.dir, r.body)) {
        const address = inst.key === null ? base : `${base}["${inst.key}"]`;
        const val = (x) => resolver.value(m.dir, x, inst.scope);
        const push = (rule) => rules.push({ address, file: r.file, problems: [], ...rule });
        if (r.type === 'aws_security_group' || r.type === 'aws_default_security_group') {
          const self = { dir: m.dir, type: r.type, name: r.name, body: r.body };
          for (const [i, block] of asList(r.body.ingress).entries()) {
            push({
              address: `${address}.ingress[${i}]`,
              target: self,
              protocol: val(block.protocol),
              fromPort: val(block.from_port),
              toPort: val(block.to_port),
              sources: [
                ...asList(val(block.cidr_blocks)).map((c) => source('cidr', c)),
                ...asList(val(block.ipv6_cidr_blocks)).map((c) => source('cidr', c)),
                ...asList(val(block.prefix_list_ids)).map((c) => source('prefix_list', c)),
                ...asList(val(block.security_groups)).map((g) => source('security_group', g)),
                ...(val(block.self) === true ? [source('security_group', { securityGroup: self })] : []),
              ],
            });
          }
          if (r.body.dynamic?.ingress) {
            push({
              address: `${address}.dynamic.ingress`, target: self, protocol: UNKNOWN, fromPort: UNKNOWN, toPort: UNKNOWN,
              sources: [], problems: ['dynamic "ingress" blocks cannot be checked: write the rules out'],
            });
          }
        } else if (r.type === 'aws_security_group_rule' && val(r.body.type) === 'ingress') {
          const target = unwrap(val(r.body.security_group_id));
          push({
            target,
            protocol: val(r.body.protocol),
            fromPort: val(r.body.from_port),
            toPort: val(r.body.to_port),
            sources: [
              ...asList(val(r.body.cidr_blocks)).map((c) => source('cidr', c)),
              ...asList(val(r.body.ipv6_cidr_blocks)).map((c) => source('cidr', c)),
              ...asList(val(r.body.prefix_list_ids)).map((c) => source('prefix_list', c)),
              ...('source_security_group_id' in r.body ? [source('security_group', val(r.body.source_security_group_id))] : []),
              ...(val(r.body.self) === true ? [source('security_group', target === UNKNOWN ? UNKNOWN : { securityGroup: target })] : []),
            ],
          });
        } else if (r.type === 'aws_vpc_security_group_ingress_rule') {
          push({
            target: unwrap(val(r.body.security_group_id)),
            protocol: val(r.body.ip_protocol),
            fromPort: val(r.body.from_port),
            toPort: val(r.body.to_port),
            sources: [
              ...('cidr_ipv4' in r.body ? [source('cidr', val(r.body.cidr_ipv4))] : []),
              ...('cidr_ipv6' in r.body ? [source('cidr', val(r.body.cidr_ipv6))] : []),
              ...('prefix_list_id' in r.body ? [source('prefix_list', val(r.body.prefix_list_id))] : []),
              ...('referenced_security_group_id' in r.body
                ? [source('security_group', val(r.body.referenced_security_group_id))] : []),
            ],
          });
        }
      }
    }
  }
  return rules;
}

function unwrap(v) {
  return v && typeof v === 'object' && v.securityGroup ? v.securityGroup : UNKNOWN;
}

export function groupName(sg) {
  return sg === UNKNOWN || !sg ? '<unknown>' : sg.name;
}

// True for the nginx tier: the group's Terraform name, name or name_prefix mentions nginx.
export function isNginxTier(sg) {
  if (!sg || sg === UNKNOWN) return false;
  const names = [sg.name, sg.body?.name, sg.body?.name_prefix].filter((x) => typeof x === 'string');
  return names.some((n) => /nginx/i.test(n));
}

export function isWorld(cidr) {
  return typeof cidr === 'string' && /\/0$/.test(cidr.trim());
}

// [from, to] of a rule, or null when the protocol has no ports (ICMP), or UNKNOWN.
export function portRange(rule) {
  const p = typeof rule.protocol === 'number' ? String(rule.protocol) : rule.protocol;
  if (p === '-1' || p === 'all') return [0, 65535];
  if (p === 'icmp' || p === 'icmpv6' || p === '1' || p === '58') return null;
  if (p === UNKNOWN || typeof rule.fromPort !== 'number' || typeof rule.toPort !== 'number') return UNKNOWN;
  return [rule.fromPort, rule.toPort];
}

// Policy violations, as { address, file, kind, message }.
export function checkIngressPolicy(rules) {
  const violations = [];
  for (const rule of rules) {
    const add = (kind, message) => violations.push({ address: rule.address, file: rule.file, kind, message });
    for (const p of rule.problems) add('unsupported', p);
    if (rule.problems.length) continue;
    if (rule.target === UNKNOWN) add('unresolved-target', 'the security group this rule belongs to cannot be determined');
    const range = portRange(rule);
    if (range === UNKNOWN) {
      add('unresolved-ports', 'protocol or ports are not literal values; write them out');
      continue;
    }
    const covers = (port) => range !== null && range[0] <= port && port <= range[1];
    const publicException = isNginxTier(rule.target) && ['tcp', '6'].includes(String(rule.protocol)) && range !== null &&
      range[0] === range[1] && PUBLIC_PORTS.has(range[0]);
    const what = range === null ? rule.protocol : range[0] === range[1] ? `port ${range[0]}` : `ports ${range[0]}-${range[1]}`;
    for (const s of rule.sources) {
      if (s.kind === 'security_group') {
        if (s.value === UNKNOWN || !s.value?.securityGroup) {
          // Still a group, not a range: nothing to fear for rules 1 and 2.
        }
        continue;
      }
      if (s.value === UNKNOWN) {
        if (!publicException) add('unresolved-cidr', `${what} of ${groupName(rule.target)} is open to a range that cannot be resolved`);
      } else if (isWorld(s.value) && !publicException) {
        add('open-to-internet', `${what} of ${groupName(rule.target)} is open to ${s.value}; only 80/443 of the nginx tier may be`);
      }
      if (covers(REDIS_PORT))
        add('redis-open-to-cidr', `Redis (${REDIS_PORT}) of ${groupName(rule.target)} is open to ${describe(s)}; allow security groups only`);
      for (const [port, name] of METRICS_PORTS)
        if (covers(port))
          add('metrics-open-to-cidr', `${name} (${port}) of ${groupName(rule.target)} is open to ${describe(s)}; allow the monitoring group only`);
    }
  }
  return violations;
}

function describe(s) {
  const v = s.value === UNKNOWN ? '<unresolved>' : s.value;
  return s.kind === 'prefix_list' ? `prefix list ${v}` : `CIDR ${v}`;
}
