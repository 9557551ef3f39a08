// The incident screens as a responder uses them: list → detail → acknowledge (the timeline names
// the signed-in person), the status counters as filters kept in the URL, list keys, bulk
// acknowledge, and titles full of HTML that must show as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  assertClean, call, heading, login, newPage, problems, sendEvent, serverAndBrowser, shot, until, visible,
} from './harness.mjs';

const TOKEN = `e2e-token-${randomBytes(12).toString('hex')}`;
const KEY = 'demo-routing-key-000000000000002'; // the demo's Events API v2 key of svc-database
const ACTOR = 'E2E Tester';
const XSS = '<img src=x onerror=alert(1)>';
let state; // the signed-in browser state, shared by the tests' fresh contexts
const ctx = serverAndBrowser({
  token: TOKEN,
  async setup({ server, browser }) {
    const page = await newPage(browser, { url: server.url });
    await login(page, server.url, TOKEN, ACTOR);
    state = await page.context().storageState();
    await page.context().close();
  },
});

const signedIn = () => newPage(ctx.browser, { url: ctx.server.url, storageState: state });
const uid = () => randomBytes(4).toString('hex');

/** Triggers a new incident on svc-database; answers it as the API has it. */
async function trigger(title) {
  const r = await sendEvent(ctx.server, KEY, { summary: title, dedupKey: `e2e-${uid()}`, severity: 'critical' });
  assert.equal(r.status, 202, r.text);
  const q = await call(ctx.server, '/incidents/query', { method: 'POST', body: { query: title, limit: 5 } });
  const inc = q.json.find((i) => i.title === title);
  assert.ok(inc, `the incident "${title}" exists`);
  return inc;
}
const incident = async (id) => (await call(ctx.server, `/incidents/${id}`)).json;

const table = (page) => page.getByRole('table', { name: 'Incidents' });
const rows = (page) => table(page).getByRole('row').filter({ has: page.getByRole('checkbox', { name: /^Select (?!all on this page)/ }) });
const rowOf = (page, title) => rows(page).filter({ has: page.getByRole('link', { name: title, exact: true }) });

test('list → detail → acknowledge: the timeline names who acknowledged', async () => {
  const inc = await trigger(`E2E ack from detail ${uid()}`);
  const page = await signedIn();
  await page.goto('/ui/incidents');
  await visible(heading(page).filter({ hasText: 'Incidents' }));
  await page.getByRole('link', { name: inc.title, exact: true }).click();
  await page.waitForURL((u) => u.pathname === `/ui/incidents/${inc.id}`);
  await visible(heading(page).filter({ hasText: inc.title }));
  const timeline = page.getByRole('region', { name: 'Timeline' });
  await visible(timeline.getByRole('listitem').filter({ hasText: 'Triggered' }));
  await shot(page, 'incident-detail');

  const ack = page.getByRole('button', { name: 'Acknowledge', exact: true });
  assert.equal(await ack.isEnabled(), true);
  await ack.click();
  await visible(page.getByRole('status').filter({ hasText: 'Acknowledged.' }));
  await visible(timeline.getByRole('listitem').filter({ hasText: 'Acknowledged' }).filter({ hasText: ACTOR }));
  await until(async () => !(await ack.isEnabled()), { message: 'the Acknowledge button to be disabled once acknowledged' });
  await visible(page.getByRole('main').getByText('acknowledged', { exact: true }).first());
  assert.equal((await incident(inc.id)).status, 'acknowledged', 'the server has it acknowledged');
  await shot(page, 'incident-acknowledged');
  await assertClean(page, 'the incident detail');
  await page.context().close();
});

test('status counters filter the list, the filter lives in the URL and survives a reload', async () => {
  await trigger(`E2E counter ${uid()}`);
  const page = await signedIn();
  await page.goto('/ui/incidents');
  const counters = page.getByRole('group', { name: 'Status filter' });
  const triggered = counters.getByRole('button', { name: /Triggered/ });
  await until(async () => /\d+/.test(await triggered.innerText()), { message: 'the Triggered counter to show a number' });
  const count = Number(/(\d+)/.exec(await triggered.innerText())[1]);
  const counts = (await call(ctx.server, '/analytics/incident-counts')).json;
  assert.equal(count, counts.triggered, 'the counter shows the server’s count');

  await triggered.click();
  await until(async () => (await triggered.getAttribute('aria-pressed')) === 'true', { message: 'the counter to be pressed' });
  await until(() => new URL(page.url()).searchParams.get('status') === 'open', { message: `status=open in the URL (${page.url()})` });
  const check = async () => {
    await until(async () => (await rows(page).count()) === count, { message: `${count} rows (the Triggered count)` });
    const statuses = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.cells[1].innerText.trim()));
    assert.ok(statuses.every((s) => s === 'open' || s === 'triggered'), `only triggered incidents are listed: ${statuses}`);
  };
  await check();
  await page.reload();
  await visible(heading(page).filter({ hasText: 'Incidents' }));
  assert.equal(await counters.getByRole('button', { name: /Triggered/ }).getAttribute('aria-pressed'), 'true', 'still pressed after a reload');
  await check();
  await shot(page, 'incidents-triggered');
  // Pressing it again shows every incident.
  await counters.getByRole('button', { name: /Triggered/ }).click();
  await until(() => !new URL(page.url()).searchParams.get('status'), { message: 'the status filter to leave the URL' });
  await until(async () => (await rows(page).count()) > count, { message: 'all incidents again' });
  await assertClean(page, 'the incident list');
  await page.context().close();
});

test('list keys: j/k move the selection, a acknowledges the selected incident', async () => {
  const older = await trigger(`E2E keys older ${uid()}`);
  const newer = await trigger(`E2E keys newer ${uid()}`);
  const page = await signedIn();
  await page.goto('/ui/incidents?status=open');
  await visible(rowOf(page, newer.title));
  const selected = () => rows(page).evaluateAll((trs) => trs.findIndex((tr) => tr.getAttribute('aria-selected') === 'true'));
  assert.equal(await selected(), -1, 'nothing selected at first');
  await page.keyboard.press('j');
  await until(async () => (await selected()) === 0, { message: 'j to select the first row' });
  await page.keyboard.press('j');
  await until(async () => (await selected()) === 1, { message: 'j to select the second row' });
  assert.equal(await rowOf(page, older.title).getAttribute('aria-selected'), 'true', 'the second row is the older incident');
  await page.keyboard.press('k');
  await until(async () => (await selected()) === 0, { message: 'k to move back up' });
  assert.equal(await rowOf(page, newer.title).getAttribute('aria-selected'), 'true');
  await page.keyboard.press('a');
  await visible(page.getByRole('status').filter({ hasText: 'Acknowledged 1 of 1' }));
  await until(async () => (await incident(newer.id)).status === 'acknowledged', { message: 'the server to have it acknowledged' });
  assert.equal((await incident(older.id)).status, 'open', 'only the selected incident was acknowledged');
  // The list shows open incidents only: the acknowledged one leaves it.
  await until(async () => (await rowOf(page, newer.title).count()) === 0, { message: 'the acknowledged incident to leave the open list' });
  await visible(rowOf(page, older.title));
  await assertClean(page, 'the incident list');
  await page.context().close();
});

test('bulk acknowledge two incidents', async () => {
  const a = await trigger(`E2E bulk one ${uid()}`);
  const b = await trigger(`E2E bulk two ${uid()}`);
  const page = await signedIn();
  await page.goto('/ui/incidents');
  const toolbarAck = page.getByRole('button', { name: 'Acknowledge', exact: true });
  await visible(rowOf(page, a.title));
  assert.equal(await toolbarAck.isEnabled(), false, 'bulk actions wait for a selection');
  await rowOf(page, a.title).getByRole('checkbox').check();
  await rowOf(page, b.title).getByRole('checkbox').check();
  await visible(page.getByText('2 selected'));
  await shot(page, 'incidents-bulk-selected');
  await toolbarAck.click();
  await visible(page.getByRole('status').filter({ hasText: 'Acknowledged 2 of 2' }));
  for (const inc of [a, b]) {
    await until(async () => (await rowOf(page, inc.title).getByRole('cell').nth(1).innerText()).trim() === 'acknowledged', {
      message: `the row of ${inc.id} to show acknowledged`,
    });
    assert.equal((await incident(inc.id)).status, 'acknowledged');
  }
  await assertClean(page, 'the incident list');
  await page.context().close();
});

test('HTML in titles and names is shown as text, never run', async () => {
  const inc = await trigger(XSS);
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  // The display name is text too.
  const evilName = '<img src=y onerror=alert(2)>';
  await login(page, ctx.server.url, TOKEN, evilName);
  const noImages = async (where) => assert.equal(await page.locator('img[src="x"], img[src="y"]').count(), 0, `no <img> from a title in ${where}`);
  await visible(page.getByRole('banner').getByText(evilName, { exact: true }));

  await page.goto('/ui/incidents');
  await visible(page.getByRole('link', { name: XSS, exact: true }));
  await noImages('the incident list');
  await page.getByRole('link', { name: XSS, exact: true }).click();
  await visible(heading(page).filter({ hasText: XSS }));
  const timeline = page.getByRole('region', { name: 'Timeline' });
  await visible(timeline.getByText(XSS, { exact: false }).first());
  await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await visible(timeline.getByRole('listitem').filter({ hasText: 'Acknowledged' }).filter({ hasText: evilName }));
  await noImages('the incident detail');
  await shot(page, 'xss-incident');

  await page.goto('/ui/alerts');
  await visible(page.getByRole('link', { name: XSS, exact: true }).first());
  await noImages('the alert list');
  await page.getByRole('link', { name: XSS, exact: true }).first().click();
  await visible(heading(page).filter({ hasText: XSS }));
  await noImages('the alert detail');
  await shot(page, 'xss-alerts');

  await page.goto('/ui/');
  await visible(heading(page).filter({ hasText: 'Home' }));
  await visible(page.getByText(XSS, { exact: true }).first());
  await noImages('home');
  assert.deepEqual(problems(page).dialogs, [], 'no dialog opened');
  await assertClean(page, 'pages showing HTML-looking titles');
  assert.equal((await incident(inc.id)).title, XSS);
  await page.context().close();
});
