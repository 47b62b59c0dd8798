// Imports an npm dependency of tests/cloud, or exits with a message that says how to install it.
// A missing dependency is a broken setup, so the test fails (exit 1); it never skips.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repo = path.resolve(here, '..', '..');

export async function importDependency(name) {
  try {
    return await import(name);
  } catch (err) {
    console.error(`FAILED: the npm package ${name} is not installed in ${path.join(here, 'node_modules')} ` +
                  `(${err.code ?? err.message}). Run scripts/setup.sh, or: npm ci --prefix tests/cloud`);
    process.exit(1);
  }
}
