// Shared pieces of the console's browser tests: an opsorch server on a free loopback port with a
// fresh data directory, a Chromium driven by playwright-core, pages that record every console
// error, uncaught exception, CSP violation, failed request and unexpected HTTP error, and a few
// polling helpers (no fixed sleeps anywhere).
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = resolve(process.env.OPSORCH_BIN || join(here, '..', '..', '..', 'build', 'opsorch'));
export const CHROMIUM = process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.CONSOLE_SHOTS || join(tmpdir(), 'opsorch-console-shots');
/** The longest any single wait in these tests may take (ms). */
export const WAIT = 8000;

const live = new Set();
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', () => {
  for (const s of live) killGroup(s, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const s of live) killGroup(s, 'SIGKILL');
    process.exit(130);
  });
}

/**
 * Starts `opsorch serve [--demo]` on 127.0.0.1 with a port the kernel picks, a fresh
 * OPSORCH_DATA_DIR and, when `token` is given, OPSORCH_BEARER_TOKEN. Resolves once the server
 * logs the address it listens on: `{ url, port, token, dataDir, stop(), logs(), assertAlive() }`.
 */
export async function startServer({ token, env = {}, demo = true, consoleDir } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'opsorch-e2e-'));
  // Only the settings the tests choose (and OPSORCH_CONSOLE_DIR, to test a build from disk):
  // whatever else the calling shell has set must not change the demo.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPSORCH_') || k === 'OPSORCH_CONSOLE_DIR'));
  const childEnv = { ...inherited, OPSORCH_ADDR: '127.0.0.1:0', OPSORCH_DATA_DIR: dataDir, OPSORCH_LOG_LEVEL: 'info', ...env };
  if (token) childEnv.OPSORCH_BEARER_TOKEN = token;
  const args = ['serve'];
  if (demo) args.push('--demo');
  if (consoleDir) args.push('--console-dir', consoleDir);
  const child = spawn(BIN, args, { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let exited = null;
  const listeners = new Set();
  const onData = (b) => {
    out += b.toString();
    for (const fn of listeners) fn();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const gone = new Promise((res) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      for (const fn of listeners) fn();
      res();
    }),
  );
  child.on('error', (e) => {
    out += `\nspawn failed: ${e.message}\n`;
    exited = exited || { code: -1, signal: null };
    for (const fn of listeners) fn();
  });

  const stop = async () => {
    if (!exited) {
      killGroup(child, 'SIGTERM');
      const t = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dataDir, { recursive: true, force: true });
    return exited;
  };

  let port;
  try {
    port = await new Promise((res, rej) => {
      const check = () => {
        const m = /listening on (?:[\w.[\]:-]+?):(\d+)/.exec(out);
        if (m) return res(Number(m[1]));
        if (exited) return rej(new Error(`opsorch exited (${JSON.stringify(exited)}) before listening:\n${out}`));
        return undefined;
      };
      listeners.add(check);
      setTimeout(() => rej(new Error(`opsorch did not log "listening on" within 20 s:\n${out}`)), 20000).unref();
      check();
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    dataDir,
    stop,
    logs: () => out,
    /** Throws when the server died while the tests ran (a crash is a bug, whatever the page showed). */
    assertAlive() {
      if (exited) assert.fail(`the opsorch server exited during the tests (${JSON.stringify(exited)}); its log:\n${out.slice(-4000)}`);
    },
  };
}

/**
 * One call to the server's API from the test itself (not through the browser): the bearer token
 * when the server has one. Answers `{ status, headers, json, text }`.
 */
export async function call(server, path, { method = 'GET', body, token = server.token, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}

/**
 * The usual test file: one server (`startServer(options)`) and one browser, started before its
 * tests and stopped after them, also when starting one of them failed. Answers an object whose
 * `server` and `browser` are set once the tests run; `setup(ctx)` runs once both are there.
 * After the tests it fails if the server died.
 */
export function serverAndBrowser({ setup, ...options } = {}) {
  const ctx = { server: null, browser: null };
  before(async () => {
    const [s, b] = await Promise.allSettled([startServer(options), launchBrowser()]);
    ctx.server = s.status === 'fulfilled' ? s.value : null;
    ctx.browser = b.status === 'fulfilled' ? b.value : null;
    if (s.status === 'rejected') throw s.reason;
    if (b.status === 'rejected') throw b.reason;
    if (setup) await setup(ctx);
  });
  after(async () => {
    await ctx.browser?.close().catch(() => {});
    try {
      ctx.server?.assertAlive();
    } finally {
      await ctx.server?.stop();
    }
  });
  return ctx;
}

const problemsOf = new WeakMap();

/**
 * A page in a fresh context (UTC, en-US, 1280×800, reduced motion) that records every console
 * error, uncaught exception, CSP violation, failed request, HTTP answer ≥ 400 and JS dialog.
 * `page.expectHttp(match, status)` declares an error answer the test expects.
 */
export async function newPage(browser, { url, colorScheme = 'light', viewport = { width: 1280, height: 800 }, deviceScaleFactor = 1, storageState } = {}) {
  const context = await browser.newContext({
    baseURL: url,
    timezoneId: 'UTC',
    locale: 'en-US',
    viewport,
    deviceScaleFactor,
    reducedMotion: 'reduce',
    colorScheme,
    acceptDownloads: true,
    storageState,
  });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT * 2);
  const p = { console: [], errors: [], csp: [], failed: [], http: [], dialogs: [], expected: [] };
  // CSP violations: a listener put in every document before its own scripts (through CDP, so the
  // page's CSP does not apply to it) reports through a binding that survives navigations.
  await context.exposeBinding('__reportCsp', (_src, text) => p.csp.push(text));
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      const t = `${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}${e.sample ? ` sample "${e.sample}"` : ''} at ${e.sourceFile || '?'}:${e.lineNumber || 0}`;
      window.__cspViolations.push(t);
      if (window.__reportCsp) window.__reportCsp(t);
    });
  });
  const page = await context.newPage();
  const expected = (u, status) => p.expected.some((x) => (x.status === undefined || x.status === status) && (typeof x.match === 'string' ? u.includes(x.match) : x.match.test(u)));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const at = m.location() && m.location().url;
    // Chromium also logs every HTTP error answer; those the test expects are not errors.
    const st = /status of (\d{3})/.exec(text);
    if (st && at && expected(at, Number(st[1]))) return;
    p.console.push(`${text}${at ? ` (${at})` : ''}`);
  });
  page.on('pageerror', (e) => p.errors.push(String((e && e.stack) || e)));
  page.on('requestfailed', (r) => {
    const why = (r.failure() && r.failure().errorText) || 'failed';
    // Aborted on purpose: a list reloading cancels its previous request, a page change cancels
    // the old page's requests.
    if (why === 'net::ERR_ABORTED') return;
    p.failed.push(`${r.method()} ${r.url()}: ${why}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400 || expected(r.url(), r.status())) return;
    p.http.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
  });
  page.on('dialog', (d) => {
    p.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.expectHttp = (match, status) => p.expected.push({ match, status });
  problemsOf.set(page, p);
  return page;
}

/** The problems a page has recorded so far. */
export function problems(page) {
  return problemsOf.get(page);
}

/** Fails listing every console error, exception, CSP violation, failed request, HTTP error and dialog. */
export async function assertClean(page, what = 'the page') {
  const p = problemsOf.get(page);
  // Violations not yet reported through the binding (the listener runs before it returns).
  try {
    const inPage = await page.evaluate(() => window.__cspViolations || []);
    for (const v of inPage) if (!p.csp.includes(v)) p.csp.push(v);
  } catch {
    /* the page is closing */
  }
  const lines = [
    ...p.console.map((x) => `console error: ${x}`),
    ...p.errors.map((x) => `uncaught: ${x}`),
    ...p.csp.map((x) => `CSP violation: ${x}`),
    ...p.failed.map((x) => `request failed: ${x}`),
    ...p.http.map((x) => `HTTP error: ${x}`),
    ...p.dialogs.map((x) => `dialog: ${x}`),
  ];
  if (lines.length) assert.fail(`${what} (${page.url()}) had problems:\n  ${lines.join('\n  ')}`);
}

/** Saves a PNG of the page (its first 2400 CSS pixels of height at most) into $CONSOLE_SHOTS. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  const { w, h } = await page.evaluate(() => ({ w: document.documentElement.clientWidth, h: document.documentElement.scrollHeight }));
  await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: w, height: Math.min(h, 2400) } });
  return file;
}

/** Signs in through the login screen and waits for the app's navigation. */
export async function login(page, url, token, name) {
  await page.goto(`${url}/ui/login`);
  await page.getByLabel('API token').fill(token);
  if (name) await page.getByLabel(/your name/i).fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'));
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** Calls `fn` until it returns something truthy; fails with `message` after `timeout` ms. */
export async function until(fn, { timeout = WAIT, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) {
      assert.fail(`timed out after ${timeout} ms waiting for ${message}; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits for `locator` to be visible (it exists once and shows). */
export async function visible(locator, timeout = WAIT) {
  await locator.waitFor({ state: 'visible', timeout });
  return locator;
}

/** Waits for `locator` to match nothing visible. */
export async function hidden(locator, timeout = WAIT) {
  await locator.waitFor({ state: 'hidden', timeout });
}

/** The page's main heading. */
export const heading = (page) => page.getByRole('main').getByRole('heading', { level: 1 });

/**
 * A PagerDuty Events API v2 event to `routing_key` (the test's own HTTP call, as a monitoring
 * system would send it).
 */
export async function sendEvent(server, routingKey, { action = 'trigger', summary, dedupKey, severity = 'critical', source = 'e2e-host' } = {}) {
  const body = { routing_key: routingKey, event_action: action };
  if (dedupKey) body.dedup_key = dedupKey;
  if (action === 'trigger') body.payload = { summary, source, severity };
  const res = await fetch(`${server.url}/v2/enqueue`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
