// Every screen: each one in the navigation (and the detail screens behind them) loads with a
// heading and no console error, CSP violation, failed request or error box, and gets a
// screenshot; at 200 % zoom nothing overflows sideways and the navigation is still reachable;
// the dark theme is dark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, call, heading, newPage, problems, shot, serverAndBrowser, until, visible } from './harness.mjs';

// The demo starts with no orchestration runs: one of its runbook restart-checkout
// (src/demo/demo_runbooks.json), started here and left waiting for its manual approval.
const ctx = serverAndBrowser({
  setup: async (c) => {
    const r = await call(c.server, '/orchestration/runs', { method: 'POST', body: { planId: 'restart-checkout' } });
    assert.equal(r.status, 201, `a run of restart-checkout starts: ${r.text}`);
    c.runId = r.json.id;
    await until(async () => (await call(c.server, `/orchestration/runs/${encodeURIComponent(c.runId)}`)).json.status === 'blocked', {
      message: `run ${c.runId} to wait for its approval`,
    });
  },
});

// Detail screens, with ids from the demo world (src/demo/demo_world.json, src/engine/seed.cc),
// its runbooks (src/demo/demo_runbooks.json) and the run started above ({run}).
const DETAILS = [
  ['/incidents/inc-1', 'Checkout API 5xx rate above 5%'],
  ['/alerts/al-1', /Checkout API 5xx/],
  ['/services/svc-checkout', 'Checkout'],
  ['/teams/team-payments', 'Payments'],
  ['/people', 'People'],
  ['/people/alice.johnson@demo.opsorch.dev', 'Alice Johnson'],
  ['/escalation-policies/payments-default', /./],
  ['/schedules/payments-follow-the-sun', /./],
  ['/tickets/TCK-001', /Postmortem: orders-db failover/],
  ['/deployments/deploy-001', /./],
  ['/orchestration/plans', 'Plans'],
  ['/orchestration/plans/restart-checkout', 'Checkout errors: rolling restart'],
  ['/orchestration/plans/disk-full', 'Disk full on a database host'],
  ['/orchestration/runs', 'Runs'],
  ['/orchestration/runs/{run}', 'Checkout errors: rolling restart'],
];

const busy = (page) => page.getByRole('status').filter({ hasText: /Loading|Computing|Querying|Starting|Refreshing/ });

/** Waits until the screen has its heading and has finished loading; checks what a user sees. */
async function settled(page, what, title) {
  const h = heading(page);
  await visible(h.first());
  await until(async () => (await busy(page).count()) === 0, { message: `${what} to finish loading` });
  const text = (await h.first().innerText()).trim();
  assert.notEqual(text, 'Not found', `${what} exists`);
  assert.ok(text.length > 0, `${what} has a heading`);
  if (title instanceof RegExp) assert.match(text, title, `${what}: heading`);
  else if (title) assert.equal(text, title, `${what}: heading`);
  const errors = await page.getByRole('alert').allInnerTexts();
  assert.deepEqual(errors, [], `${what} shows no error`);
  return text;
}

/** The nav links: [{ name, href }]. */
async function navLinks(page) {
  // Also when the navigation is folded away behind the menu button (narrow windows).
  const nav = page.getByRole('navigation', { name: 'Main', includeHidden: true });
  await nav.getByRole('link', { includeHidden: true }).first().waitFor({ state: 'attached' });
  return nav.getByRole('link', { includeHidden: true }).evaluateAll((as) => as.map((a) => ({ name: a.textContent.trim(), href: a.getAttribute('href') })));
}

test('every screen in the navigation loads cleanly, with a heading and a screenshot', async () => {
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/');
  const links = await navLinks(page);
  assert.ok(links.length >= 15, `the navigation lists the screens: ${links.map((l) => l.name)}`);
  const seen = new Set();
  for (const { name, href } of links) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
    await page.waitForURL((u) => u.pathname === href);
    const title = await settled(page, `the ${name} screen`);
    assert.equal(
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).getAttribute('aria-current'),
      'page',
      `${name} is marked as the current page`,
    );
    seen.add(title);
    await shot(page, `screen-${name}`);
    await assertClean(page, `the ${name} screen`);
  }
  assert.equal(seen.size, links.length, `each nav entry has its own screen: ${[...seen]}`);
  await page.context().close();
});

test('the detail screens load cleanly', async () => {
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  for (const [pattern, title] of DETAILS) {
    const path = pattern.replace('{run}', encodeURIComponent(ctx.runId));
    await page.goto(`/ui${path}`);
    await settled(page, path, title);
    await shot(page, `detail${pattern.replace('{run}', 'run').replace(/[/@.]/g, '-')}`);
    await assertClean(page, path);
  }
  await page.context().close();
});

test('an unknown page says so and leads home', async () => {
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/no/such/page');
  await visible(heading(page).filter({ hasText: 'Not found' }));
  await page.getByRole('link', { name: 'Go to Home' }).click();
  await visible(heading(page).filter({ hasText: 'Home' }));
  await assertClean(page, 'the not-found page');
  await page.context().close();
});

test('at 200 % zoom nothing overflows sideways and the navigation is reachable', async () => {
  // 1280×800 at 200 %: 640×400 CSS pixels, two device pixels each.
  const page = await newPage(ctx.browser, { url: ctx.server.url, viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 });
  await page.goto('/ui/');
  await settled(page, 'home at 200 %');
  const nav = page.getByRole('navigation', { name: 'Main' });
  const menu = page.getByRole('button', { name: 'Menu' });
  const names = (await navLinks(page)).map((l) => l.name);
  assert.ok(names.length >= 15, `the navigation lists the screens: ${names}`);
  for (const name of names) {
    // Through the menu button when the navigation is folded away.
    if (!(await nav.getByRole('link', { name, exact: true }).isVisible())) {
      await visible(menu);
      await menu.click();
      assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    }
    await nav.getByRole('link', { name, exact: true }).click();
    const t = await settled(page, `${name} at 200 %`);
    const h = heading(page).first();
    await h.scrollIntoViewIfNeeded();
    assert.ok(await h.isVisible(), `${name}: heading "${t}" visible`);
    const o = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
    assert.ok(o.sw <= o.cw + 1, `${name} at 200 %: the page is ${o.sw} px wide in a ${o.cw} px window (horizontal scrolling)`);
    await shot(page, `zoom200-${name}`);
  }
  await assertClean(page, 'the console at 200 %');
  await page.context().close();
});

const luminance = (rgb) => {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(rgb);
  if (!m) return NaN;
  const [r, g, b] = m.slice(1, 4).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

test('the dark theme is dark, the light theme light', async () => {
  for (const scheme of ['dark', 'light']) {
    const page = await newPage(ctx.browser, { url: ctx.server.url, colorScheme: scheme });
    for (const path of ['/', '/incidents', '/sla']) {
      await page.goto(`/ui${path}`);
      await settled(page, `${path} (${scheme})`);
      const c = await page.evaluate(() => {
        const bg = (el) => {
          for (let e = el; e; e = e.parentElement) {
            const v = getComputedStyle(e).backgroundColor;
            if (v && v !== 'transparent' && !/rgba\(\d+,\s*\d+,\s*\d+,\s*0\)/.test(v)) return v;
          }
          return getComputedStyle(document.documentElement).backgroundColor;
        };
        const main = document.querySelector('main');
        const h1 = main.querySelector('h1');
        return { body: bg(document.body), main: bg(main), text: getComputedStyle(h1).color };
      });
      const [body, main, text] = [luminance(c.body), luminance(c.main), luminance(c.text)];
      if (scheme === 'dark') {
        assert.ok(body < 0.1 && main < 0.1, `${path}: a dark background in the dark theme: ${JSON.stringify(c)}`);
        assert.ok(text > 0.5, `${path}: light text in the dark theme: ${JSON.stringify(c)}`);
      } else {
        assert.ok(body > 0.7 && main > 0.7, `${path}: a light background in the light theme: ${JSON.stringify(c)}`);
        assert.ok(text < 0.2, `${path}: dark text in the light theme: ${JSON.stringify(c)}`);
      }
      if (scheme === 'dark') await shot(page, `dark${path.replace(/\//g, '-')}`);
    }
    await assertClean(page, `the ${scheme} theme`);
    await page.context().close();
  }
});

test('the problem detector itself notices a CSP violation and a console error', async () => {
  // Guards the other tests: if this detection broke, "clean" would prove nothing.
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/');
  await settled(page, 'home');
  await page.evaluate(() => {
    const d = document.createElement('div');
    d.setAttribute('style', 'color: red');
    document.body.appendChild(d);
  });
  await until(() => problems(page).csp.length > 0, { message: 'the CSP violation to be recorded' });
  assert.match(problems(page).csp[0], /style-src/);
  await assert.rejects(assertClean(page, 'a page with a violation'), /CSP violation/);
  await page.context().close();
});
