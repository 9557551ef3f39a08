// Orchestration against the demo's runbooks (the `local` provider, src/demo/demo_runbooks.json;
// docs/RUNBOOKS.md). The demo starts with no runs; the tests start their own:
//   restart-checkout "Checkout errors: rolling restart": health (observe, passes at once) →
//   approve (manual, "Approve the restart") → restart → verify → note; completing approve runs
//   the rest and the run completes within a couple of seconds.
// (disk-full starts by itself only ~50 s after the demo starts: nothing here relies on it.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { assertClean, call, heading, newPage, shot, serverAndBrowser, until, visible } from './harness.mjs';

const ctx = serverAndBrowser();

const PLAN = 'restart-checkout';
const TITLE = 'Checkout errors: rolling restart';
const APPROVE = 'Approve the restart';
const INSTRUCTIONS = 'Make sure no deployment of checkout is in progress, then complete this step to restart its pods one at a time.';

/** The run as the API answers it. */
async function getRun(runId) {
  const r = await call(ctx.server, `/orchestration/runs/${encodeURIComponent(runId)}`);
  assert.equal(r.status, 200, `the run ${runId} exists: ${r.text}`);
  return r.json;
}

/** Waits until the API says the run has `status`; answers the run. */
async function runReaches(runId, status) {
  let last;
  await until(
    async () => {
      last = await getRun(runId);
      return last.status === status;
    },
    { message: `run ${runId} to be ${status} (last: ${last && last.status})` },
  );
  return last;
}

const stepOf = (run, id) => run.steps.find((s) => (s.stepId || s.step) === id);

test('start a run from a runbook, complete its manual step through the dialog, see the run complete', async () => {
  const note = `Approved by the e2e test ${randomBytes(3).toString('hex')}`;
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/orchestration');
  await visible(heading(page).filter({ hasText: 'Orchestration' }));
  await page.getByRole('region', { name: 'Plans' }).getByRole('link', { name: TITLE }).click();
  await page.waitForURL((u) => u.pathname === `/ui/orchestration/plans/${PLAN}`);
  await visible(heading(page).filter({ hasText: TITLE }));
  await visible(page.getByRole('heading', { name: 'Steps', level: 2 }));
  await visible(page.getByText(APPROVE).first());
  await shot(page, 'orchestration-plan');

  await page.getByRole('button', { name: 'Start run' }).click();
  await page.waitForURL((u) => /^\/ui\/orchestration\/runs\/[^/]+$/.test(u.pathname));
  const runId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  assert.match(runId, /^run-[0-9a-f]{32}$/);
  await visible(heading(page).filter({ hasText: TITLE }));
  await visible(page.getByRole('main').getByText(runId, { exact: true }).first());
  assert.equal((await getRun(runId)).planId, PLAN);

  // health passes by itself; the run then waits for a person on approve.
  const blocked = await runReaches(runId, 'blocked');
  assert.equal(stepOf(blocked, 'health').status, 'succeeded', JSON.stringify(stepOf(blocked, 'health')));
  assert.equal(stepOf(blocked, 'approve').status, 'blocked', JSON.stringify(stepOf(blocked, 'approve')));
  const main = page.getByRole('main');
  const item = main.getByRole('listitem').filter({ has: page.getByText(APPROVE, { exact: true }) }).filter({ hasText: 'Started' });
  await visible(item.getByText('blocked', { exact: true }));
  await visible(main.getByText('blocked', { exact: true }).first());
  // The Complete button says what to do, next to it.
  const complete = page.getByRole('button', { name: `Complete “${APPROVE}”` });
  await visible(main.getByRole('listitem').filter({ has: complete }).getByText(INSTRUCTIONS));
  // The health step's output, folded away until opened.
  const health = main.getByRole('listitem').filter({ has: page.getByText("Look at checkout's health", { exact: true }) }).filter({ hasText: 'Started' });
  const output = health.getByText('"status": "degraded"');
  assert.equal(await output.isVisible(), false, 'the output starts folded');
  await health.getByText('Output', { exact: true }).click();
  await visible(output);
  await shot(page, 'orchestration-run-blocked');

  await complete.click();
  const dialog = page.getByRole('dialog', { name: `Complete “${APPROVE}”` });
  await visible(dialog);
  await visible(dialog.getByText(INSTRUCTIONS));
  await dialog.getByLabel('Completion note').fill(note);
  await visible(dialog.getByText(`${note.length}/2000 characters`));
  await shot(page, 'orchestration-complete-dialog');
  await dialog.getByRole('button', { name: 'Mark complete' }).click();
  await until(async () => (await page.getByRole('dialog').count()) === 0, { message: 'the dialog to close' });

  // The rest of the runbook runs by itself: the API says completed, then the page does.
  const done = await runReaches(runId, 'completed');
  const step = stepOf(done, 'approve');
  assert.equal(step.status, 'succeeded', JSON.stringify(step));
  assert.equal(step.note, note);
  for (const s of done.steps) assert.equal(s.status, 'succeeded', JSON.stringify(s));
  await visible(page.getByRole('main').getByText('Finished.', { exact: true }));
  await visible(page.getByText('5/5 steps (100%)'));
  await until(async () => /succeeded/.test(await item.innerText()), { message: 'the step to show succeeded' });
  await visible(item.getByText(note));
  assert.equal(await complete.count(), 0, 'no longer offered');
  await shot(page, 'orchestration-run-completed');
  await assertClean(page, 'the plan and the run');
  await page.context().close();
});

test('a run waiting for a person is pointed out by the overview and the runs list, and links its incident', async () => {
  const started = await call(ctx.server, '/orchestration/runs', { method: 'POST', body: { planId: PLAN, fields: { incidentId: 'inc-1' } } });
  assert.equal(started.status, 201, started.text);
  const runId = started.json.id;
  await runReaches(runId, 'blocked');

  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/orchestration');
  await visible(heading(page).filter({ hasText: 'Orchestration' }));
  // Runs in a query answer embed their plan without steps: the steps' own fields say which wait.
  await page.getByRole('link', { name: /runs? (has|have) a manual step ready for a person/ }).click();
  await page.waitForURL((u) => u.pathname === '/ui/orchestration/runs' && u.searchParams.get('waiting') === '1');
  await visible(heading(page).filter({ hasText: 'Runs' }));
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: runId, exact: true }) });
  await visible(row.getByText(APPROVE, { exact: true }));
  await visible(row.getByText(TITLE, { exact: true }));
  await shot(page, 'orchestration-runs-waiting');
  await row.getByRole('link', { name: runId, exact: true }).click();
  await page.waitForURL((u) => u.pathname === `/ui/orchestration/runs/${runId}`);
  await visible(heading(page).filter({ hasText: TITLE }));
  await visible(page.getByRole('button', { name: `Complete “${APPROVE}”` }));
  await page.getByRole('main').getByRole('link', { name: 'inc-1', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/ui/incidents/inc-1');
  await visible(heading(page).filter({ hasText: 'Checkout API 5xx rate above 5%' }));
  await assertClean(page, 'the overview, the runs list, the run and its incident');
  await page.context().close();
});
