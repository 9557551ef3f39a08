// Times the web console in headless Chromium against a running opsorch (method and figures:
// docs/BENCHMARKS.md, "Console"). bench/console.sh starts the server with a large store and runs
// this; it also runs on its own against any server that has a bearer token and incidents:
//
//   CONSOLE_BENCH_TOKEN=… node bench/console_timing.mjs --url http://127.0.0.1:8080 \
//       [--runs 5] [--search host-04711] [--json out.json]
//
// Logs in once through /ui/login (POST /ui/session from the form), then, after one warm-up round
// that is not counted, for each of --runs rounds:
//   list      a fresh navigation to /ui/incidents, from the navigation's start (0 on the page's
//             performance.now() clock) to the animation frame in which the first data row of the
//             incidents table is in the DOM; the bundle comes from the browser's cache;
//   timeline  a click on the first incident's link, from the click event (a capture listener's
//             performance.now()) to the frame in which the first timeline entry is in the DOM;
//   search    the query typed into the search box (one input event), to the frame in which the
//             first row's title contains it; includes the box's debounce, reported apart.
// Then --runs more fresh navigations to /ui/incidents, each in a new browser context holding only
// the session cookie (empty HTTP cache: the bundle is fetched and compiled again): "list, cold".
// Every time is read from the page's own clock, so the driver's round trips are not in it.
// Prints a Markdown table (median, min, max) with the bundle's and the API responses' sizes and
// where the time goes; exits 1 if anything could not be measured. Timing never fails the run.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(new URL('../console/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const base = (opt('url', process.env.CONSOLE_BENCH_URL) || '').replace(/\/+$/, '');
const token = process.env.CONSOLE_BENCH_TOKEN || '';
const runs = Number(opt('runs', process.env.BENCH_RUNS || 5));
const term = opt('search', process.env.BENCH_SEARCH || 'host-04711');
const jsonOut = opt('json', '');
const chromiumPath = process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium';
const WAIT = Number(process.env.CONSOLE_BENCH_WAIT_MS || 15000); // the longest one wait may take

function fail(msg) {
  console.error(`console_timing: ${msg}`);
  process.exit(1);
}
if (!base) fail('--url is required');
if (!token) fail('CONSOLE_BENCH_TOKEN must hold the server\'s bearer token');
if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive integer, got ${runs}`);

// The search box's debounce, read from the source so that the report follows a change to it.
function debounceMs() {
  try {
    const src = readFileSync(new URL('../console/src/screens/incidents.jsx', import.meta.url), 'utf8');
    const m = /useDebounced\(\s*text\s*,\s*(\d+)\s*\)/.exec(src);
    if (m) return Number(m[1]);
  } catch {
    /* fall through */
  }
  return 250;
}
const DEBOUNCE = debounceMs();

// --- selectors and in-page predicates (all run on the page's clock) ---------------------------
const ROW_LINK = 'main table tbody tr td.title a';
const SEARCH = 'main input[type=search]';

/** performance.now() in the first animation frame where the list has a data row, or null. */
function listRendered() {
  if (window.__benchOld) return null; // still the document before the navigation
  return document.querySelector('main table tbody tr td.title a') ? performance.now() : null;
}
/** …where the incident page at `path` shows its first timeline entry. */
function timelineRendered(path) {
  if (location.pathname !== path) return null;
  return document.querySelector('main ol.timeline li.tl-item') ? performance.now() : null;
}
/** …where the list is filtered by `q` (in the URL): its first row's title contains it, or the
 *  page says nothing matches. */
function searchRendered(q) {
  if (new URLSearchParams(location.search).get('q') !== q) return null;
  const a = document.querySelector('main table tbody tr td.title a');
  if (a) return a.textContent.toLowerCase().includes(q.toLowerCase()) ? performance.now() : null;
  return document.querySelector('main .empty') ? performance.now() : null;
}

async function waitOnPage(page, fn, arg, what) {
  try {
    const h = await page.waitForFunction(fn, arg, { polling: 'raf', timeout: WAIT });
    const v = await h.jsonValue();
    await h.dispose();
    return v;
  } catch (e) {
    const text = await page
      .evaluate(() => (document.querySelector('main') || document.body).innerText.slice(0, 600))
      .catch(() => '(page text unavailable)');
    throw new Error(`${what}: not rendered within ${WAIT} ms at ${page.url()} (${e.message.split('\n')[0]}); the page shows: ${JSON.stringify(text)}`);
  }
}

/** The page's resource entries (and the navigation's), reduced to what the report uses. */
function entries(page, since = 0) {
  return page.evaluate((since) => {
    const pick = (e) => ({
      name: e.name.replace(location.origin, ''),
      type: e.entryType,
      start: e.startTime,
      requestStart: e.requestStart,
      responseStart: e.responseStart,
      end: e.responseEnd,
      duration: e.duration,
      transfer: e.transferSize,
      encoded: e.encodedBodySize,
      decoded: e.decodedBodySize,
      status: e.responseStatus,
    });
    const nav = performance.getEntriesByType('navigation').map((e) => ({
      ...pick(e),
      domInteractive: e.domInteractive,
      domContentLoaded: e.domContentLoadedEventEnd,
      load: e.loadEventEnd,
    }));
    const paint = {};
    for (const p of performance.getEntriesByType('paint')) paint[p.name] = p.startTime;
    return {
      nav: nav[0] || null,
      paint,
      resources: performance.getEntriesByType('resource').filter((e) => e.startTime >= since).map(pick),
    };
  }, since);
}

const isAsset = (r) => /^\/ui\/assets\/[^?]+\.(js|css)(\?|$)/.test(r.name);
const find = (rs, re) => rs.filter((r) => re.test(r.name.split('?')[0]));

// --- problems seen by the page --------------------------------------------------------------
// Counted once signed in: before that, 401s are how the app learns that it must show the login.
const problems = [];
let armed = false;
function watch(page, label) {
  const note = (msg) => armed && problems.push(`${label}: ${msg}`);
  page.on('pageerror', (e) => note(`uncaught ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && note(`console error: ${m.text()}`));
  page.on('requestfailed', (r) => {
    const f = r.failure();
    // Aborted fetches are the app cancelling a superseded request (useApi's AbortController).
    if (f && /ERR_ABORTED/.test(f.errorText)) return;
    note(`request failed: ${r.method()} ${r.url()} ${f ? f.errorText : ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) note(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
}

// --- the rounds -----------------------------------------------------------------------------

/** A fresh navigation to /ui/incidents: the list time and its breakdown. */
async function listRound(page) {
  await page.evaluate(() => (window.__benchOld = true)).catch(() => {});
  await page.goto(`${base}/ui/incidents`, { waitUntil: 'commit', timeout: WAIT });
  const at = await waitOnPage(page, listRendered, null, 'incidents list');
  // The counters may answer after the rows are shown: wait for both entries before reading.
  await waitOnPage(
    page,
    () => {
      const names = performance.getEntriesByType('resource').map((r) => r.name.split('?')[0]);
      return names.some((n) => n.endsWith('/incidents/query')) && names.some((n) => n.endsWith('/analytics/incident-counts'));
    },
    null,
    'the list\'s API calls',
  );
  const e = await entries(page);
  const assets = e.resources.filter(isAsset);
  const query = find(e.resources, /\/incidents\/query$/).find((r) => r.start < at);
  const counts = find(e.resources, /\/analytics\/incident-counts$/)[0];
  const session = find(e.resources, /\/ui\/session$/)[0];
  if (!query) throw new Error('no POST /incidents/query before the list rendered');
  return {
    ms: at,
    html: e.nav ? e.nav.end : null,
    fcp: e.paint['first-contentful-paint'] ?? null,
    assetsEnd: assets.length ? Math.max(...assets.map((r) => r.end)) : null,
    assetsCached: assets.length > 0 && assets.every((r) => r.transfer === 0),
    assets,
    domContentLoaded: e.nav ? e.nav.domContentLoaded : null,
    session,
    query,
    counts,
    render: at - query.end,
  };
}

/** A click on the first incident: the timeline time. */
async function timelineRound(page) {
  const link = page.locator(ROW_LINK).first();
  const href = await link.getAttribute('href');
  const path = new URL(href, base).pathname;
  await page.evaluate(() => {
    window.__benchClickAt = null;
    window.addEventListener('click', () => (window.__benchClickAt = performance.now()), { capture: true, once: true });
  });
  await link.click({ timeout: WAIT });
  const at = await waitOnPage(page, timelineRendered, path, `timeline of ${path}`);
  const clickAt = await page.evaluate(() => window.__benchClickAt);
  if (typeof clickAt !== 'number') throw new Error('the click listener did not fire');
  const e = await entries(page, clickAt);
  const id = decodeURIComponent(path.split('/').pop());
  const esc = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    ms: at - clickAt,
    path,
    incident: find(e.resources, new RegExp(`/incidents/${esc}$`))[0],
    timeline: find(e.resources, new RegExp(`/incidents/${esc}/timeline$`))[0],
    lastApiEnd: Math.max(0, ...e.resources.filter((r) => r.start < at).map((r) => r.end - clickAt)),
  };
}

/** Back to the list, then the search typed: the filtered list time. */
async function searchRound(page) {
  await page.goBack({ waitUntil: 'commit', timeout: WAIT });
  await waitOnPage(page, listRendered, null, 'incidents list after going back');
  const box = page.locator(SEARCH).first();
  await box.waitFor({ timeout: WAIT });
  await page.evaluate(() => {
    window.__benchInputAt = null;
    window.addEventListener('input', () => (window.__benchInputAt = performance.now()), { capture: true, once: true });
  });
  await box.fill(term, { timeout: WAIT }); // one input event with the whole text
  const at = await waitOnPage(page, searchRendered, term, `search for ${JSON.stringify(term)}`);
  const inputAt = await page.evaluate(() => window.__benchInputAt);
  if (typeof inputAt !== 'number') throw new Error('the input listener did not fire');
  const e = await entries(page, inputAt);
  const query = find(e.resources, /\/incidents\/query$/).filter((r) => r.start < at).pop();
  if (!query) throw new Error('no POST /incidents/query for the search');
  const rows = await page.locator('main table tbody tr').count();
  return { ms: at - inputAt, query, render: at - query.end, sinceDebounce: at - inputAt - DEBOUNCE, rows };
}

// --- CPU time of Chromium ----------------------------------------------------------------------
// The processes below this one (Chromium and its renderers), sampled once a second from /proc:
// each counts with the last figure seen, so a renderer that exits loses under a second. The
// report sets it against the whole machine's CPU time to say how much else was running.
const HZ = 100; // USER_HZ of /proc/<pid>/stat on Linux
const seen = new Map();
function sampleCpu() {
  let names;
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return;
  }
  const parent = new Map();
  const ticks = new Map();
  for (const p of names) {
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      parent.set(p, f[1]);
      ticks.set(p, Number(f[11]) + Number(f[12]));
    } catch {
      /* gone meanwhile */
    }
  }
  const mine = new Set([String(process.pid)]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pp] of parent) if (!mine.has(p) && mine.has(pp)) mine.add(p), (grew = true);
  }
  mine.delete(String(process.pid));
  for (const p of mine) seen.set(p, Math.max(seen.get(p) || 0, ticks.get(p)));
}
const cpuSeconds = () => [...seen.values()].reduce((a, b) => a + b, 0) / HZ;

// --- statistics and the report ---------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: xs });
const ms = (v) => (v === null || v === undefined || Number.isNaN(v) ? '—' : `${v.toFixed(1)}`);
const kb = (b) => (b === null || b === undefined ? '—' : `${b.toLocaleString('en-US')} B`);
const row = (label, s, note = '') =>
  `| ${label} | **${ms(s.median)}** | ${ms(s.min)}–${ms(s.max)} | ${s.values.map((v) => v.toFixed(0)).join(' / ')} |${note ? ` ${note}` : ''}`;

async function main() {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'], headless: true });
  const version = browser.version();
  const contextOptions = { viewport: { width: 1280, height: 800 }, serviceWorkers: 'block' };
  const cpu0 = process.cpuUsage();
  sampleCpu();
  const sampler = setInterval(sampleCpu, 1000);
  try {
    // Log in the way a person does: the app sends an unauthenticated visitor to /ui/login.
    const ctx = await browser.newContext(contextOptions);
    const page = await ctx.newPage();
    watch(page, 'warm');
    await page.goto(`${base}/ui/incidents`, { waitUntil: 'commit', timeout: WAIT });
    const pw = page.locator('input[type=password]');
    await waitOnPage(
      page,
      () => location.pathname === '/ui/login' && !!document.querySelector('input[type=password]'),
      null,
      'the login screen (is a bearer token set on the server?)',
    );
    const coldLoad = await entries(page); // the first load ever: the bundle over the wire
    await pw.fill(token);
    await page.locator('form.login input[type=text]').fill('console-bench');
    const sessionPost = page.waitForResponse((r) => r.url().endsWith('/ui/session') && r.request().method() === 'POST', { timeout: WAIT });
    await page.locator('form.login button[type=submit]').click();
    const posted = await sessionPost;
    if (posted.status() !== 200) fail(`POST /ui/session answered ${posted.status()}`);
    // Where the app goes next (the `next` page, or Home) is not this benchmark's business.
    await waitOnPage(page, () => location.pathname !== '/ui/login', null, 'leaving the login screen');
    const cookies = await ctx.cookies();
    if (!cookies.length) fail('no session cookie after signing in');
    armed = true;

    const bundle = coldLoad.resources.filter(isAsset);
    if (bundle.length < 2) fail(`expected the JS and CSS assets among the first load's resources, got ${JSON.stringify(bundle.map((r) => r.name))}`);

    const warm = { list: [], timeline: [], search: [] };
    for (let i = 0; i <= runs; i++) {
      const l = await listRound(page);
      const t = await timelineRound(page);
      const s = await searchRound(page);
      const tag = i === 0 ? 'warm-up' : `run ${i}`;
      console.error(`console_timing: ${tag}: list ${l.ms.toFixed(1)} ms, timeline ${t.ms.toFixed(1)} ms, search ${s.ms.toFixed(1)} ms`);
      if (i === 0) continue;
      warm.list.push(l);
      warm.timeline.push(t);
      warm.search.push(s);
    }
    const state = await ctx.storageState();
    await ctx.close();

    const cold = [];
    for (let i = 1; i <= runs; i++) {
      const c = await browser.newContext({ ...contextOptions, storageState: state });
      const p = await c.newPage();
      watch(p, `cold ${i}`);
      const l = await listRound(p);
      if (l.assetsCached) throw new Error('a new context loaded the bundle from a cache');
      console.error(`console_timing: cold ${i}: list ${l.ms.toFixed(1)} ms`);
      cold.push(l);
      await c.close();
    }

    const sum = (rs, k) => rs.reduce((a, r) => a + (r[k] || 0), 0);
    const q0 = warm.list[0].query;
    const c0 = warm.list.map((r) => r.counts).find(Boolean);
    const t0 = warm.timeline[0];
    const s0 = warm.search[0];
    const result = {
      chromium: version,
      url: base,
      runs,
      debounceMs: DEBOUNCE,
      searchTerm: term,
      bundle: bundle.map((r) => ({ name: r.name, encoded: r.encoded, decoded: r.decoded })),
      bundleEncoded: sum(bundle, 'encoded'),
      bundleDecoded: sum(bundle, 'decoded'),
      list: stats(warm.list.map((r) => r.ms)),
      listCold: stats(cold.map((r) => r.ms)),
      timeline: stats(warm.timeline.map((r) => r.ms)),
      search: stats(warm.search.map((r) => r.ms)),
      searchMinusDebounce: stats(warm.search.map((r) => r.sinceDebounce)),
      breakdown: {
        warm: breakdown(warm.list),
        cold: breakdown(cold),
        timeline: {
          incident: stats(warm.timeline.map((r) => (r.incident ? r.incident.duration : NaN)).filter((v) => !Number.isNaN(v))),
          timeline: stats(warm.timeline.map((r) => (r.timeline ? r.timeline.duration : NaN)).filter((v) => !Number.isNaN(v))),
          lastApiEnd: stats(warm.timeline.map((r) => r.lastApiEnd)),
        },
        search: {
          query: stats(warm.search.map((r) => r.query.duration)),
          render: stats(warm.search.map((r) => r.render)),
          rows: s0.rows,
        },
      },
      sizes: {
        query: q0 && { encoded: q0.encoded, decoded: q0.decoded },
        counts: c0 && { encoded: c0.encoded, decoded: c0.decoded },
        timeline: t0.timeline && { encoded: t0.timeline.encoded, decoded: t0.timeline.decoded },
        search: s0.query && { encoded: s0.query.encoded, decoded: s0.query.decoded },
      },
      clicked: t0.path,
      problems,
      cpu: (() => {
        clearInterval(sampler);
        sampleCpu();
        const own = process.cpuUsage(cpu0);
        return { chromium: cpuSeconds(), node: (own.user + own.system) / 1e6 };
      })(),
      raw: { warm, cold },
    };
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 1));
    print(result);
    if (problems.length) {
      console.error(`console_timing: the page reported ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
      process.exitCode = 1;
    }
  } finally {
    clearInterval(sampler);
    await browser.close();
  }
}

/** Where the list's time goes, as medians over the rounds (ms on the page's clock). */
function breakdown(rounds) {
  const col = (f) => stats(rounds.map(f).filter((v) => typeof v === 'number' && !Number.isNaN(v)));
  return {
    html: col((r) => r.html),
    assetsEnd: col((r) => r.assetsEnd),
    domContentLoaded: col((r) => r.domContentLoaded),
    fcp: col((r) => r.fcp),
    sessionStart: col((r) => r.session && r.session.start),
    sessionEnd: col((r) => r.session && r.session.end),
    queryStart: col((r) => r.query.start),
    queryDuration: col((r) => r.query.duration),
    queryTtfb: col((r) => r.query.responseStart - r.query.requestStart),
    queryEnd: col((r) => r.query.end),
    countsDuration: col((r) => r.counts && r.counts.duration),
    countsEnd: col((r) => r.counts && r.counts.end),
    render: col((r) => r.render),
    assetsCached: rounds.filter((r) => r.assetsCached).length,
  };
}

function print(r) {
  const b = r.breakdown;
  const out = [];
  out.push(`Chromium ${r.chromium} (headless), ${r.url}, ${r.runs} runs after one warm-up round; times in ms on the page's clock`);
  out.push('');
  out.push('| measurement | median | min–max | runs |');
  out.push('|---|---|---|---|');
  out.push(row('list rendered (navigation → first row), bundle cached', r.list));
  out.push(row('list rendered, cold HTTP cache (new context per run)', r.listCold));
  out.push(row('timeline rendered (click → first entry)', r.timeline));
  out.push(row(`search rendered (input → filtered first row), incl. ${r.debounceMs} ms debounce`, r.search));
  out.push(row('search minus the debounce', r.searchMinusDebounce));
  out.push('');
  out.push('Where the list time goes (medians; points on the page clock from the navigation start):');
  out.push('');
  out.push('| step | bundle cached | cold |');
  out.push('|---|---|---|');
  const m = (s) => (s && s.values.length ? ms(s.median) : '—');
  const two = (label, k) => out.push(`| ${label} | ${m(b.warm[k])} | ${m(b.cold[k])} |`);
  two('HTML received (navigation responseEnd)', 'html');
  two('JS+CSS received', 'assetsEnd');
  two('DOMContentLoaded end', 'domContentLoaded');
  two('first contentful paint', 'fcp');
  two('GET /ui/session start', 'sessionStart');
  two('GET /ui/session end', 'sessionEnd');
  two('POST /incidents/query start', 'queryStart');
  two('POST /incidents/query duration', 'queryDuration');
  two('POST /incidents/query request → first byte', 'queryTtfb');
  two('POST /incidents/query end', 'queryEnd');
  two('GET /analytics/incident-counts duration', 'countsDuration');
  two('GET /analytics/incident-counts end', 'countsEnd');
  two('render: query end → row in a frame', 'render');
  out.push('');
  out.push(
    `Timeline (clicked ${r.clicked}): GET /incidents/{id} ${m(b.timeline.incident)} ms, GET /incidents/{id}/timeline ${m(b.timeline.timeline)} ms, ` +
      `last API response after the click ${m(b.timeline.lastApiEnd)} ms (medians).`,
  );
  out.push(
    `Search ${JSON.stringify(r.searchTerm)}: POST /incidents/query ${m(b.search.query)} ms, render after it ${m(b.search.render)} ms (medians); ${b.search.rows} rows on the first page.`,
  );
  out.push('');
  const sz = (s) => (s ? `${kb(s.encoded)} (${kb(s.decoded)} decoded)` : '—');
  out.push(
    `Bundle over the wire (first load, Resource Timing encodedBodySize): JS+CSS ${kb(r.bundleEncoded)} (${kb(r.bundleDecoded)} decoded): ` +
      r.bundle.map((x) => `${x.name} ${kb(x.encoded)}`).join(', ') +
      '.',
  );
  out.push(
    `API responses: POST /incidents/query (50 rows) ${sz(r.sizes.query)}; GET /analytics/incident-counts ${sz(r.sizes.counts)}; ` +
      `timeline ${sz(r.sizes.timeline)}; search ${sz(r.sizes.search)}.`,
  );
  console.log(out.join('\n'));
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
