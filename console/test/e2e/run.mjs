// Runs the console's browser tests: every *.test.mjs next to this file, one file at a time (each
// file starts its own opsorch server and browser); a test that hangs fails after 2 minutes.
// Exits 77 (CTest: skipped) when there is no Chromium to drive. Arguments pick files by name.
//
//   cd console && OPSORCH_BIN=../build/opsorch node test/e2e/run.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const consoleDir = resolve(here, '..', '..');

const chromium = process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.log(`SKIP: no Chromium at ${chromium} (install Debian's chromium or set CONSOLE_CHROMIUM)`);
  process.exit(77);
}
const env = { ...process.env, CONSOLE_CHROMIUM: chromium };
env.OPSORCH_BIN = resolve(consoleDir, env.OPSORCH_BIN || join('..', 'build', 'opsorch'));
if (!existsSync(env.OPSORCH_BIN)) {
  console.error(`FAIL: no opsorch binary at ${env.OPSORCH_BIN} (build it, or set OPSORCH_BIN)`);
  process.exit(1);
}

const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => !only.length || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => join(here, f));
if (!files.length) {
  console.error('FAIL: no *.test.mjs files to run');
  process.exit(1);
}

const started = Date.now();
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=120000', ...files], { stdio: 'inherit', env, cwd: consoleDir });
console.log(`console e2e: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (r.error) {
  console.error(r.error);
  process.exit(1);
}
process.exit(r.status === null ? 1 : r.status);
