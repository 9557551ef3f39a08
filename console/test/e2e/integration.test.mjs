// An integration key's life from the service page: create it (shown once), send a PagerDuty
// Events API v2 event with it, watch the incident appear in the list by itself, never see the
// key again, revoke it, and the key stops working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { assertClean, heading, newPage, sendEvent, shot, serverAndBrowser, until, visible } from './harness.mjs';

const ctx = serverAndBrowser();

/** Everything a person could read or copy on the page: its text and every field's value. */
const readable = (page) =>
  page.evaluate(() => [document.body.innerText, ...[...document.querySelectorAll('input,textarea,select')].map((e) => e.value)].join('\n'));

test('create a key, send an event with it, see the incident arrive, revoke the key', async () => {
  const name = `e2e sender ${randomBytes(3).toString('hex')}`;
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  // A fake clock that runs at normal speed, so the test can skip ahead to the next auto-refresh.
  await page.clock.install();
  await page.goto('/ui/services/svc-search');
  await visible(heading(page).filter({ hasText: 'Search' }));
  const integrations = page.getByRole('table', { name: 'Integrations' });

  // Create: the key is shown once, in a dialog.
  await page.getByRole('button', { name: 'Create key' }).click();
  const form = page.getByRole('dialog', { name: 'Create an integration key' });
  await visible(form);
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Kind').selectOption({ label: 'PagerDuty Events API v2' });
  await form.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByRole('dialog', { name: `Key of ${name}` });
  await visible(shown);
  const key = await shown.getByRole('textbox', { name: 'Integration key', exact: true }).inputValue();
  assert.match(key, /^[\w-]{16,}$/, `a key is shown: "${key}"`);
  const example = await shown.getByRole('textbox', { name: /Trigger a test incident/ }).inputValue();
  assert.ok(example.includes(key) && example.includes('/v2/enqueue'), `the example command uses the key: ${example}`);
  await shot(page, 'integration-key-dialog');
  await shown.getByRole('button', { name: 'I have stored the key' }).click();
  await until(async () => (await page.getByRole('dialog').count()) === 0, { message: 'the dialog to close' });
  const row = integrations.getByRole('row').filter({ hasText: name });
  await visible(row);
  assert.ok(!(await readable(page)).includes(key), 'the key is gone once the dialog is closed');

  // Reopening the service page shows the key's prefix at most, never the key.
  await page.reload();
  await visible(row);
  assert.ok((await row.innerText()).includes(key.slice(0, 6)), 'the row shows the key prefix');
  assert.ok(!(await readable(page)).includes(key), 'the reopened service page does not show the key');
  assert.ok(!(await page.content()).includes(key), 'the reopened service page has no key in its HTML');

  // The incident list refreshes by itself: an event sent now shows up without a reload.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Incidents' }).click();
  await visible(heading(page).filter({ hasText: 'Incidents' }));
  await page.getByLabel('Auto-refresh').selectOption({ label: '10 s' });
  await until(() => new URL(page.url()).searchParams.get('refresh') === '10', { message: 'refresh=10 in the URL' });
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const title = `E2E via new key ${randomBytes(3).toString('hex')}`;
  const sent = await sendEvent(ctx.server, key, { summary: title, dedupKey: `e2e-${title}` });
  assert.equal(sent.status, 202, `the new key is accepted: ${sent.text}`);
  const link = page.getByRole('link', { name: title, exact: true });
  assert.equal(await link.count(), 0, 'not listed before the next refresh');
  await page.clock.fastForward(11000);
  await visible(link);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  await shot(page, 'integration-incident-arrived');

  // Revoke: the key stops working.
  await page.goto('/ui/services/svc-search');
  await visible(row);
  await row.getByRole('button', { name: 'Revoke' }).click();
  const confirm = page.getByRole('dialog', { name: `Revoke ${name}?` });
  await visible(confirm);
  await confirm.getByRole('button', { name: 'Revoke' }).click();
  await visible(row.getByText('revoked', { exact: true }));
  assert.equal(await row.getByRole('button', { name: 'Revoke' }).count(), 0);
  const refused = await sendEvent(ctx.server, key, { summary: `${title} after revoke`, dedupKey: `e2e-after-${title}` });
  assert.ok(refused.status >= 400 && refused.status < 500, `a revoked key is refused (HTTP ${refused.status}: ${refused.text})`);
  await shot(page, 'integration-revoked');
  await assertClean(page, 'the service and incident pages');
  await page.context().close();
});
