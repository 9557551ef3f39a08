// Builds the console: one JS bundle and one CSS file with content-hashed names, an index.html
// that names them, and a gzip copy of each, into --outdir (default dist/). CMake embeds that
// directory into the opsorch binary (cmake/embed_console.cmake); `opsorch serve --console-dir`
// serves it from disk while developing.
//
//   node build.mjs [--outdir DIR] [--dev]
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const outdir = option('--outdir', join(here, 'dist'));
const dev = flag('--dev');

rmSync(outdir, { recursive: true, force: true });
mkdirSync(join(outdir, 'assets'), { recursive: true });

const result = await build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.jsx' },
  bundle: true,
  minify: !dev,
  sourcemap: false,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: join(outdir, 'assets'),
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Nothing may be fetched at run time: every import is bundled.
  platform: 'browser',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => join(here, p));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
if (!js || !css) throw new Error('build: expected one .js and one .css output');
const url = (p) => '/ui/' + relative(outdir, p).split('\\').join('/');

// No inline script or style (the CSP forbids both); the icon is empty so no request 404s.
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>opsorch</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${url(css)}">
<script type="module" src="${url(js)}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The opsorch console needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(outdir, 'index.html'), html);

// A gzip copy of every file: the server sends it to clients that accept gzip.
const walk = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
let total = 0;
const sizes = [];
for (const p of walk(outdir)) {
  const raw = readFileSync(p);
  const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(p + '.gz', gz);
  if (!p.endsWith('.html')) total += gz.length;
  sizes.push(`${relative(outdir, p)} ${raw.length} B, gzip ${gz.length} B`);
}
const digest = createHash('sha256').update(readFileSync(js)).digest('hex').slice(0, 12);
console.log(`console: ${sizes.join('; ')}; JS+CSS gzip ${total} B (bundle ${digest})`);
// The budget of the issue: JS+CSS at most 100 KB gzip.
if (total > 100 * 1024) {
  console.error(`console: JS+CSS is ${total} B gzip, over the 100 KB budget`);
  process.exit(1);
}
