// Reads a Terraform tree without Terraform: every .tf file is parsed by @cdktf/hcl2json (HCL2 to
// JSON, the same HCL parser Terraform uses, compiled to WebAssembly) and merged per module
// directory. On top of the parse it checks what `terraform validate` would catch without
// provider schemas: references to undeclared variables, locals, resources, data sources and
// module outputs; module calls against the called module's variables; templatefile() calls
// against the template's variables.
import fs from 'node:fs';
import path from 'node:path';

const SKIP_DIRS = new Set(['.terraform', 'node_modules', '.git']);

export function findTfFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(full);
      } else if (entry.name.endsWith('.tf')) {
        out.push(full);
      }
    }
  };
  walk(root);
  return out.sort();
}

function newModule(dir) {
  return {
    dir,
    files: [],
    resources: new Map(), // "type.name" -> { type, name, body, file }
    data: new Map(),
    variables: new Map(), // name -> { body, file }
    locals: new Map(), // name -> { value, file }
    moduleCalls: new Map(), // name -> { body, file }
    outputs: new Map(),
  };
}

function mergeNamed(target, blocks, file, label) {
  for (const [name, bodies] of Object.entries(blocks ?? {})) {
    if (target.has(name)) throw new Error(`${file}: ${label} "${name}" declared twice`);
    target.set(name, { name, body: bodies[0] ?? {}, file });
  }
}

function mergeTyped(target, blocks, file, label) {
  for (const [type, byName] of Object.entries(blocks ?? {})) {
    for (const [name, bodies] of Object.entries(byName)) {
      const key = `${type}.${name}`;
      if (target.has(key)) throw new Error(`${file}: ${label} ${key} declared twice`);
      target.set(key, { type, name, body: bodies[0] ?? {}, file });
    }
  }
}

// Parses every .tf file under root. Returns { root, modules: Map(dir -> module), errors }; a file
// that does not parse is in errors (with the parser's message) and in no module.
export async function loadTerraform(root, parse) {
  const modules = new Map();
  const errors = [];
  for (const file of findTfFiles(root)) {
    let json;
    try {
      json = await parse(path.relative(root, file), fs.readFileSync(file, 'utf8'));
    } catch (err) {
      errors.push({ file, message: String(err.message ?? err) });
      continue;
    }
    const dir = path.dirname(file);
    if (!modules.has(dir)) modules.set(dir, newModule(dir));
    const m = modules.get(dir);
    m.files.push(file);
    try {
      mergeTyped(m.resources, json.resource, file, 'resource');
      mergeTyped(m.data, json.data, file, 'data source');
      mergeNamed(m.variables, json.variable, file, 'variable');
      mergeNamed(m.moduleCalls, json.module, file, 'module');
      mergeNamed(m.outputs, json.output, file, 'output');
      for (const block of json.locals ?? []) {
        for (const [name, value] of Object.entries(block)) {
          if (m.locals.has(name)) throw new Error(`${file}: local "${name}" declared twice`);
          m.locals.set(name, { name, value, file });
        }
      }
    } catch (err) {
      errors.push({ file, message: err.message });
    }
  }
  return { root, modules, errors };
}

// The expressions inside "${...}" in a string, outermost first (nested ones are part of them).
// "$${" is an escaped literal and is skipped.
export function interpolations(text) {
  const out = [];
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] !== '$' || text[i + 1] !== '{') continue;
    if (i > 0 && text[i - 1] === '$') continue;
    let depth = 0;
    let inString = false;
    let j = i + 1;
    for (; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) break;
    }
    out.push(text.slice(i + 2, j));
    i = j;
  }
  return out;
}

// Every string in a parsed HCL value, with a path for messages.
export function* strings(value, where = '') {
  if (typeof value === 'string') yield [where, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${where}[${i}]`);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) yield* strings(v, where ? `${where}.${k}` : k);
}

const META_ARGUMENTS = new Set(['source', 'version', 'count', 'for_each', 'depends_on', 'providers']);

export function moduleSourceDir(callerDir, body) {
  const source = body.source;
  if (typeof source !== 'string' || !(source.startsWith('./') || source.startsWith('../'))) return null;
  return path.resolve(callerDir, source);
}

// Finds the end of a balanced {...} starting at text[start] === '{'; returns the index after it.
function balancedEnd(text, start) {
  let depth = 0;
  let inString = false;
  for (let j = start; j < text.length; j++) {
    const c = text[j];
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return j + 1;
  }
  return -1;
}

// The free variables a Terraform template (.tftpl) uses, and the names its for loops bind.
export function templateVariables(text) {
  const used = new Set();
  const bound = new Set();
  const identifiers = (expr) => {
    const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    for (const m of noStrings.matchAll(/(?<![\w.])([A-Za-z_][\w]*)(?!\s*\()/g)) {
      if (!['true', 'false', 'null', 'for', 'in', 'if', 'else', 'endif', 'endfor'].includes(m[1])) used.add(m[1]);
    }
  };
  const clean = text.replace(/\$\$\{/g, '').replace(/%%\{/g, '');
  for (let i = 0; i < clean.length - 1; i++) {
    const c = clean[i];
    if ((c !== '$' && c !== '%') || clean[i + 1] !== '{') continue;
    const end = balancedEnd(clean, i + 1);
    if (end < 0) break;
    let inner = clean.slice(i + 2, end - 1).replace(/^~|~$/g, '').trim();
    if (c === '%') {
      const loop = inner.match(/^for\s+([A-Za-z_]\w*)(?:\s*,\s*([A-Za-z_]\w*))?\s+in\s+(.*)$/s);
      if (loop) {
        bound.add(loop[1]);
        if (loop[2]) bound.add(loop[2]);
        inner = loop[3];
      } else if (/^(endfor|endif|else)$/.test(inner)) {
        inner = '';
      } else {
        inner = inner.replace(/^if\s+/, '');
      }
    }
    identifiers(inner);
    i = end - 1;
  }
  for (const b of bound) used.delete(b);
  return { used, bound };
}

// Static checks of a loaded tree. Returns a list of problems, as "file: message" strings.
export function checkReferences(tree) {
  const problems = [];
  const rel = (file) => path.relative(tree.root, file);
  for (const m of tree.modules.values()) {
    const check = (file, where, text) => {
      for (const expr of interpolations(text)) {
        for (const [, name] of expr.matchAll(/(?<![\w.])var\.([A-Za-z_][\w-]*)/g))
          if (!m.variables.has(name)) problems.push(`${rel(file)}: ${where} uses undeclared var.${name}`);
        for (const [, name] of expr.matchAll(/(?<![\w.])local\.([A-Za-z_][\w-]*)/g))
          if (!m.locals.has(name)) problems.push(`${rel(file)}: ${where} uses undeclared local.${name}`);
        for (const [, type, name] of expr.matchAll(/(?<![\w.])data\.([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)/g))
          if (!m.data.has(`${type}.${name}`)) problems.push(`${rel(file)}: ${where} uses undeclared data.${type}.${name}`);
        for (const [, type, name] of expr.matchAll(/(?<![\w.])((?:aws|random|tls|null)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)/g))
          if (!m.resources.has(`${type}.${name}`)) problems.push(`${rel(file)}: ${where} uses undeclared resource ${type}.${name}`);
        for (const [, callName, output] of expr.matchAll(/(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?\.([A-Za-z_][\w-]*)/g)) {
          const call = m.moduleCalls.get(callName);
          if (!call) {
            problems.push(`${rel(file)}: ${where} uses undeclared module.${callName}`);
            continue;
          }
          const child = tree.modules.get(moduleSourceDir(m.dir, call.body));
          if (child && !child.outputs.has(output))
            problems.push(`${rel(file)}: ${where} uses module.${callName}.${output}, which ${rel(child.dir) || '.'} does not output`);
        }
        // templatefile("${path.module}/x.tftpl", { a = ..., b = ... })
        for (const tf of expr.matchAll(/templatefile\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*\{/g)) {
          const templatePath = path.resolve(m.dir, tf[1].replace('${path.module}', '.'));
          const open = tf.index + tf[0].length - 1;
          const objectText = expr.slice(open + 1, balancedEnd(expr, open) - 1);
          const passed = new Set([...objectText.matchAll(/^\s*([A-Za-z_]\w*)\s*=/gm)].map((x) => x[1]));
          if (!fs.existsSync(templatePath)) {
            problems.push(`${rel(file)}: ${where} renders ${rel(templatePath)}, which does not exist`);
            continue;
          }
          const { used } = templateVariables(fs.readFileSync(templatePath, 'utf8'));
          for (const name of used)
            if (!passed.has(name)) problems.push(`${rel(templatePath)} uses \${${name}}, which ${rel(file)} does not pass`);
          for (const name of passed)
            if (!used.has(name)) problems.push(`${rel(file)} passes ${name} to ${rel(templatePath)}, which does not use it`);
        }
      }
    };
    const blocks = [
      ...[...m.resources.values()].map((b) => [b.file, `resource ${b.type}.${b.name}`, b.body]),
      ...[...m.data.values()].map((b) => [b.file, `data ${b.type}.${b.name}`, b.body]),
      ...[...m.moduleCalls.values()].map((b) => [b.file, `module ${b.name}`, b.body]),
      ...[...m.outputs.values()].map((b) => [b.file, `output ${b.name}`, b.body]),
      ...[...m.variables.values()].map((b) => [b.file, `variable ${b.name}`, b.body]),
      ...[...m.locals.values()].map((b) => [b.file, `local ${b.name}`, b.value]),
    ];
    for (const [file, where, body] of blocks)
      for (const [attr, text] of strings(body)) check(file, `${where} ${attr}`, text);

    for (const call of m.moduleCalls.values()) {
      const childDir = moduleSourceDir(m.dir, call.body);
      if (!childDir) continue; // registry or git modules are not ours to check
      const child = tree.modules.get(childDir);
      if (!child) {
        problems.push(`${rel(call.file)}: module ${call.name} has source ${call.body.source}, which holds no .tf files`);
        continue;
      }
      for (const arg of Object.keys(call.body))
        if (!META_ARGUMENTS.has(arg) && !child.variables.has(arg))
          problems.push(`${rel(call.file)}: module ${call.name} passes ${arg}, which ${rel(childDir)} does not declare`);
      for (const [name, v] of child.variables)
        if (!('default' in v.body) && !(name in call.body))
          problems.push(`${rel(call.file)}: module ${call.name} does not pass ${name}, which ${rel(childDir)} requires`);
    }
  }
  return problems;
}

// All module directories reachable from the root module (the root included).
export function reachableModules(tree) {
  const seen = new Set();
  const visit = (dir) => {
    if (seen.has(dir) || !tree.modules.has(dir)) return;
    seen.add(dir);
    for (const call of tree.modules.get(dir).moduleCalls.values()) {
      const child = moduleSourceDir(dir, call.body);
      if (child) visit(child);
    }
  };
  visit(path.resolve(tree.root));
  return seen;
}
