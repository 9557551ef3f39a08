// Console login: the login gate, wrong and right tokens, where the token must never end up,
// session fixation, logout, cross-origin requests with the session cookie (CSRF) and the
// console marker header; and a server without a token, which has no login at all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  assertClean, call, heading, login, newPage, serverAndBrowser, shot, startServer, until, visible,
} from './harness.mjs';

const TOKEN = `e2e-token-${randomBytes(12).toString('hex')}`;
const COOKIE = 'opsorch_session';
const ctx = serverAndBrowser({ token: TOKEN, env: { OPSORCH_ACCESS_LOG: 'true' } });

const sessionCookie = async (page) => (await page.context().cookies(ctx.server.url)).find((c) => c.name === COOKIE);

/** An API call carrying only a console cookie, as the browser would send it (GET: no CSRF rule). */
const withCookie = (value, path = '/incidents/inc-1') =>
  call(ctx.server, path, { token: null, headers: { Cookie: `${COOKIE}=${value}`, 'X-OpsOrch-Console': '1' } });

/** The notes on incident `id`, read with the bearer token. */
async function notes(id) {
  const r = await call(ctx.server, `/incidents/${id}/timeline?limit=200`);
  assert.equal(r.status, 200, r.text);
  return r.json.filter((e) => e.kind === 'note').map((e) => e.body);
}

describe('with a bearer token', () => {
  test('the console sends you to the login screen', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    // The app starts the screen's API calls without waiting for its session check; without a
    // session they answer 401, which is one way it learns to ask for a login.
    page.expectHttp(/./, 401);
    await page.goto('/ui/incidents?status=open');
    await page.waitForURL((u) => u.pathname === '/ui/login');
    await visible(page.getByRole('heading', { name: 'Sign in to opsorch' }));
    assert.ok(new URL(page.url()).searchParams.get('next'), `the login knows where you were going: ${page.url()}`);
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'no navigation before login');
    assert.equal(await page.getByLabel('API token').getAttribute('type'), 'password');
    await shot(page, 'login');
    await assertClean(page, 'the login screen');
    await page.context().close();
  });

  // The 401 of a screen's call and the session check may both send the app to the login screen:
  // it must go there once, keeping where the visitor was going.
  test('the login brings you back where you were going', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    page.expectHttp(/./, 401);
    const checked = page.waitForResponse((r) => new URL(r.url()).pathname === '/ui/session');
    await page.goto('/ui/incidents?status=open');
    await page.waitForURL((u) => u.pathname === '/ui/login');
    await checked;
    await visible(page.getByRole('heading', { name: 'Sign in to opsorch' }));
    // Settled once nothing is in flight: the screen may or may not have sent its own call before
    // the session check turned it into the login (that depends on timing, e.g. a slow server),
    // and a late 401 of that call must not land after the token is typed.
    await page.waitForLoadState('networkidle');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(new URL(page.url()).searchParams.get('next'), '/incidents?status=open', `the login keeps where you were going: ${page.url()}`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname !== '/ui/login');
    const at = new URL(page.url());
    assert.equal(`${at.pathname}${at.search}`, '/ui/incidents?status=open', 'back on the page asked for');
    await visible(heading(page).filter({ hasText: 'Incidents' }));
    await assertClean(page, 'the console after login');
    await page.context().close();
  });

  test('a wrong token shows an error and sets no cookie', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    page.expectHttp('/ui/session', 401);
    await page.goto('/ui/login');
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = await visible(page.getByRole('alert'));
    assert.match(await alert.innerText(), /wrong token/i);
    assert.match(await alert.innerText(), /HTTP 401/);
    assert.equal(await sessionCookie(page), undefined, 'no session cookie after a wrong token');
    assert.equal(new URL(page.url()).pathname, '/ui/login');
    await shot(page, 'login-wrong-token');
    await assertClean(page, 'the login screen after a wrong token');
    await page.context().close();
  });

  test('the right token logs in, and the token is nowhere the page can read', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    const bodies = [];
    page.on('response', (r) => bodies.push(r.text().then((t) => ({ url: r.url(), t }), () => ({ url: r.url(), t: '' }))));
    page.expectHttp(/./, 401); // before the login (see the first test)
    await page.goto('/ui/incidents');
    await page.waitForURL((u) => u.pathname === '/ui/login');
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel(/your name/i).fill('E2E Tester');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // In the app (where the user was going, or Home), signed in under the given name.
    await page.waitForURL((u) => u.pathname !== '/ui/login');
    await visible(heading(page).filter({ hasText: /^(Incidents|Home)$/ }));
    await visible(page.getByRole('banner').getByText('E2E Tester', { exact: true }));
    await visible(page.getByRole('button', { name: 'Logout' }));
    await visible(page.getByRole('link', { name: /Checkout API 5xx/ }).first());

    const c = await sessionCookie(page);
    assert.ok(c, 'a session cookie is set');
    assert.equal(c.httpOnly, true, 'the cookie is HttpOnly');
    assert.equal(c.sameSite, 'Strict', 'the cookie is SameSite=Strict');
    assert.notEqual(c.value, TOKEN, 'the cookie is not the token');
    assert.ok(!c.value.includes(TOKEN));

    // Where a script (or a person looking at the page) could find the token.
    assert.ok(!page.url().includes(TOKEN), 'URL');
    assert.ok(!(await page.content()).includes(TOKEN), 'page HTML');
    const inputs = await page.evaluate(() => [...document.querySelectorAll('input,textarea')].map((e) => e.value).join('\n'));
    assert.ok(!inputs.includes(TOKEN), 'form fields');
    const storage = await page.evaluate(() => JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, h: history.state }));
    assert.ok(!storage.includes(TOKEN), `local/session storage or history state: ${storage}`);
    const jsCookie = await page.evaluate(() => document.cookie);
    assert.ok(!jsCookie.includes(TOKEN), 'document.cookie');
    assert.ok(!jsCookie.includes(COOKIE), 'document.cookie shows no session cookie (HttpOnly)');
    // Every file and API answer the page received, and every script the console serves.
    const got = await Promise.all(bodies);
    assert.ok(got.length > 3, 'responses were recorded');
    for (const b of got) assert.ok(!b.t.includes(TOKEN), `the answer of ${b.url} contains the token`);
    const html = (await call(ctx.server, '/ui/', { token: null })).text;
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('.js')), `index.html names a script: ${html}`);
    for (const a of assets) {
      const r = await call(ctx.server, a, { token: null });
      assert.equal(r.status, 200, a);
      assert.ok(!r.text.includes(TOKEN), `${a} contains the token`);
    }

    // The API answers this browser's calls through the cookie alone.
    const viaPage = await page.evaluate(async () => (await fetch('/analytics/incident-counts', { headers: { 'X-OpsOrch-Console': '1' } })).status);
    assert.equal(viaPage, 200);
    await shot(page, 'logged-in-incidents');
    await assertClean(page, 'the console after login');
    await page.context().close();
  });

  test('a session id planted before login is replaced and not accepted', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    await page.context().addCookies([{ name: COOKIE, value: 'planted', url: ctx.server.url, httpOnly: true, sameSite: 'Strict' }]);
    await login(page, ctx.server.url, TOKEN, 'E2E Tester');
    const c = await sessionCookie(page);
    assert.ok(c && c.value && c.value !== 'planted', `the session id changed at login (cookie: ${c && c.value})`);
    assert.equal((await withCookie('planted')).status, 401, 'the planted id is refused');
    assert.equal((await withCookie(c.value)).status, 200, 'the issued id works');
    await assertClean(page, 'the console after a login over a planted cookie');
    await page.context().close();
  });

  test('logout returns to the login screen and ends the session on the server', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    await login(page, ctx.server.url, TOKEN, 'E2E Tester');
    const before = await sessionCookie(page);
    assert.ok(before);
    assert.equal((await withCookie(before.value)).status, 200);
    await page.getByRole('button', { name: 'Logout' }).click();
    await page.waitForURL((u) => u.pathname === '/ui/login');
    await visible(page.getByRole('heading', { name: 'Sign in to opsorch' }));
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0);
    const afterCookie = await sessionCookie(page);
    assert.ok(!afterCookie || !afterCookie.value, 'the browser dropped the cookie');
    assert.equal((await withCookie(before.value)).status, 401, 'the old session id is refused after logout');
    // Going back into the app needs a new login.
    page.expectHttp(/./, 401);
    await page.goto('/ui/incidents');
    await page.waitForURL((u) => u.pathname === '/ui/login');
    await assertClean(page, 'the console after logout');
    await page.context().close();
  });

  test('a session ended in another tab sends this tab to the login screen, and back after login', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    await login(page, ctx.server.url, TOKEN, 'E2E Tester');
    await page.goto('/ui/incidents?status=open');
    await visible(heading(page).filter({ hasText: 'Incidents' }));
    const other = await page.context().newPage();
    await other.goto(`${ctx.server.url}/ui/`);
    await other.getByRole('button', { name: 'Logout' }).click();
    await other.waitForURL((u) => u.pathname === '/ui/login');
    await other.close();
    // The next API call of this tab answers 401: the app asks for a login, keeping the place.
    page.expectHttp(/./, 401);
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/ui/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/incidents?status=open');
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/ui/incidents' && new URL(u).searchParams.get('status') === 'open');
    await visible(heading(page).filter({ hasText: 'Incidents' }));
    await assertClean(page, 'the console after a session ended elsewhere');
    await page.context().close();
  });

  test('another origin cannot use the session cookie (CSRF)', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    await login(page, ctx.server.url, TOKEN, 'E2E Tester');
    const id = 'inc-2';
    const mark = `csrf-${randomBytes(4).toString('hex')}`;
    const before = await notes(id);
    // A page on another loopback port: same site (cookies with SameSite=Strict are sent), other origin.
    // Each attack URL carries the mark, so the server's log tells these requests from the console's own.
    const target = `${ctx.server.url}/incidents/${id}/timeline?from=${mark}`;
    const evil = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>evil</title>
<form id="f" method="POST" action="${target}" enctype="text/plain"><input type="hidden" name='{"kind":"note","body":"${mark}-form","x":"' value='"}'></form>
<script>
const results = {};
window.results = results;
const run = async (name, url, body) => {
  try { const r = await fetch(url, { method: 'POST', credentials: 'include', body }); results[name] = 'status ' + r.status; }
  catch (e) { results[name] = 'error ' + e.message; }
};
window.done = Promise.all([
  run('query', ${JSON.stringify(`${ctx.server.url}/incidents/query?from=${mark}`)}, '{}'),
  run('note', ${JSON.stringify(target)}, JSON.stringify({ kind: 'note', body: '${mark}-fetch' })),
]);
</script>`);
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const evilUrl = `http://127.0.0.1:${evil.address().port}/`;
    try {
      // The server's access log tells what it answered, also to the fetches whose answers the
      // browser hides from the page (CORS).
      const answers = () =>
        [...ctx.server.logs().matchAll(/access method=(\w+) target="?([^"\s]+)"? status=(\d+)/g)]
          .filter((m) => m[2].includes(mark))
          .map((m) => `${m[1]} ${m[2]} ${m[3]}`);
      await page.goto(evilUrl);
      await page.evaluate(() => window.done);
      await Promise.all([page.waitForURL((u) => u.href.startsWith(target)), page.evaluate(() => document.getElementById('f').submit())]);
      const got = await until(() => answers().length >= 3 && answers(), { message: 'the server to log the three cross-origin POSTs' });
      assert.equal(got.length, 3, `exactly the three cross-origin POSTs reached the server: ${got}`);
      assert.ok(got.every((a) => a.startsWith('POST ')), `${got}`);
      for (const a of got) assert.match(a, / (401|403)$/, `a cross-origin POST was answered: ${a}`);
      // The form's navigation shows the refusal to the user.
      assert.match(await page.content(), /forbidden|unauthorized/i);
      // Nothing was created.
      const afterNotes = await notes(id);
      assert.deepEqual(afterNotes, before, 'no note was added by another origin');
      assert.ok(!afterNotes.some((b) => b.includes(mark)));
    } finally {
      // Chromium may hold connections open (keep-alive, preconnect): close() alone would wait for them.
      await page.goto('about:blank');
      evil.closeAllConnections();
      await new Promise((r) => evil.close(r));
    }
    await page.context().close();
  });

  test('a call with the session cookie but without X-OpsOrch-Console is refused', async () => {
    const page = await newPage(ctx.browser, { url: ctx.server.url });
    await login(page, ctx.server.url, TOKEN, 'E2E Tester');
    const id = 'inc-2';
    const mark = `nohdr-${randomBytes(4).toString('hex')}`;
    page.expectHttp(`/incidents/${id}/timeline`, 403);
    page.expectHttp('/incidents/query', 403);
    const r = await page.evaluate(
      async ({ id, mark }) => {
        const post = async (url, body, headers = {}) =>
          (await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) })).status;
        return {
          noteBare: await post(`/incidents/${id}/timeline`, { kind: 'note', body: mark }),
          queryBare: await post('/incidents/query', {}),
          queryMarked: await post('/incidents/query', {}, { 'X-OpsOrch-Console': '1' }),
        };
      },
      { id, mark },
    );
    assert.equal(r.noteBare, 403, 'a note without the console header');
    assert.equal(r.queryBare, 403, 'a query without the console header');
    assert.equal(r.queryMarked, 200, 'the same query with the header (the console’s own call) works');
    assert.ok(!(await notes(id)).includes(mark), 'the refused note was not added');
    await assertClean(page, 'the console');
    await page.context().close();
  });
});

describe('without a bearer token', () => {
  let open;
  before(async () => {
    open = await startServer({});
  });
  after(async () => {
    try {
      open?.assertAlive();
    } finally {
      await open?.stop();
    }
  });

  test('there is no login screen at all', async () => {
    const page = await newPage(ctx.browser, { url: open.url });
    await page.goto('/ui/');
    await visible(heading(page).filter({ hasText: 'Home' }));
    await visible(page.getByRole('navigation', { name: 'Main' }));
    assert.equal(await page.getByRole('button', { name: 'Logout' }).count(), 0, 'no logout without login');
    assert.equal(new URL(page.url()).pathname, '/ui/');
    await assertClean(page, 'the console without a token');
    await page.context().close();
  });

  test('an old link to the login screen leads into the app', async () => {
    const page = await newPage(ctx.browser, { url: open.url });
    await page.goto('/ui/login?next=%2Fincidents');
    await page.waitForURL((u) => u.pathname !== '/ui/login');
    await visible(page.getByRole('navigation', { name: 'Main' }));
    await visible(heading(page));
    assert.equal(await page.getByLabel('API token').count(), 0, 'no token field');
    await assertClean(page, 'the console without a token');
    await page.context().close();
  });
});
