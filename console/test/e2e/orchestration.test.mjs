// Orchestration against the demo's mock provider: open a plan and start a run; open a run that
// waits for a person and complete its manual step with a note.
//   plan-db-failover "Database primary failover": check-replica-health → approve-failover
//   (manual) → …; run-001 is a run of it whose approve-failover step is ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { assertClean, call, heading, newPage, shot, serverAndBrowser, until, visible } from './harness.mjs';

const ctx = serverAndBrowser();

test('open a plan and start a run of it', async () => {
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/orchestration');
  await visible(heading(page).filter({ hasText: 'Orchestration' }));
  await page.getByRole('region', { name: 'Plans' }).getByRole('link', { name: 'Database primary failover' }).click();
  await page.waitForURL((u) => u.pathname === '/ui/orchestration/plans/plan-db-failover');
  await visible(heading(page).filter({ hasText: 'Database primary failover' }));
  await visible(page.getByRole('heading', { name: 'Steps', level: 2 }));
  await visible(page.getByText('Approve failover').first());
  await shot(page, 'orchestration-plan');

  await page.getByRole('button', { name: 'Start run' }).click();
  await page.waitForURL((u) => /^\/ui\/orchestration\/runs\/[^/]+$/.test(u.pathname));
  const runId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  await visible(heading(page).filter({ hasText: 'Database primary failover' }));
  await visible(page.getByRole('main').getByText(runId, { exact: true }).first());
  const run = await call(ctx.server, `/orchestration/runs/${encodeURIComponent(runId)}`);
  assert.equal(run.status, 200, `the run ${runId} exists: ${run.text}`);
  assert.equal(run.json.planId, 'plan-db-failover');
  await visible(page.getByRole('main').getByText(run.json.status, { exact: true }).first());
  await shot(page, 'orchestration-run-started');
  await assertClean(page, 'the plan and the new run');
  await page.context().close();
});

test('complete a manual step through the dialog, with a note', async () => {
  const note = `Approved by the e2e test ${randomBytes(3).toString('hex')}`;
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/orchestration/runs?waiting=1');
  await visible(heading(page).filter({ hasText: 'Runs' }));
  await page.getByRole('link', { name: 'run-001', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/ui/orchestration/runs/run-001');
  await visible(heading(page).filter({ hasText: 'Database primary failover' }));
  const item = page.getByRole('listitem').filter({ has: page.getByText('Approve failover', { exact: true }) }).filter({ hasText: 'Started' });
  await visible(item.getByText('ready', { exact: true }));

  await page.getByRole('button', { name: 'Complete “Approve failover”' }).click();
  const dialog = page.getByRole('dialog', { name: 'Complete “Approve failover”' });
  await visible(dialog);
  await dialog.getByLabel('Completion note').fill(note);
  await visible(dialog.getByText(`${note.length}/2000 characters`));
  await shot(page, 'orchestration-complete-dialog');
  await dialog.getByRole('button', { name: 'Mark complete' }).click();
  await until(async () => (await page.getByRole('dialog').count()) === 0, { message: 'the dialog to close' });

  // The step now shows completed, with the note, and waits for nobody.
  await until(async () => /succeeded|completed/.test(await item.innerText()), { message: 'the step to show completed' });
  await visible(item.getByText(note));
  assert.equal(await page.getByRole('button', { name: 'Complete “Approve failover”' }).count(), 0, 'no longer offered');
  const run = (await call(ctx.server, '/orchestration/runs/run-001')).json;
  const step = run.steps.find((s) => (s.stepId || s.step) === 'approve-failover');
  assert.match(step.status, /succeeded|completed/, JSON.stringify(step));
  await shot(page, 'orchestration-step-completed');
  await assertClean(page, 'the run page');
  await page.context().close();
});
