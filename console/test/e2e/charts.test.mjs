// Charts: the SLA page draws its trend chart and downloads its CSV; the metrics explorer charts
// a metric on a time axis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertClean, heading, newPage, shot, serverAndBrowser, until, visible } from './harness.mjs';

const ctx = serverAndBrowser();

/** The drawn size of the chart's canvas (device pixels) inside `scope`. */
const canvasSize = (scope) =>
  scope
    .locator('canvas')
    .first()
    .evaluate((c) => {
      const r = c.getBoundingClientRect();
      return { w: c.width, h: c.height, cw: Math.round(r.width), ch: Math.round(r.height) };
    });

/** True when the canvas has at least one pixel that is not fully transparent: something was drawn. */
const drawn = (scope) =>
  scope
    .locator('canvas')
    .first()
    .evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
      return false;
    });

test('the SLA page draws its trend chart and downloads a CSV', async () => {
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/sla');
  await visible(heading(page).filter({ hasText: 'SLA analytics' }));
  const chart = page.getByRole('figure');
  await visible(chart);
  await until(async () => {
    const s = await canvasSize(chart);
    return s.w > 0 && s.h > 0 && s.cw > 100 && s.ch > 50;
  }, { message: 'a chart canvas with a size' });
  await until(() => drawn(chart), { message: 'something drawn on the canvas' });
  // The legend names the series (at least one), and they can be toggled from the keyboard.
  const series = chart.getByRole('button', { name: /MTTA|MTTR|Breaches/ });
  await visible(series.first());
  assert.ok((await series.count()) >= 1);
  const first = series.first();
  assert.equal(await first.getAttribute('aria-pressed'), 'true');
  await first.focus();
  await page.keyboard.press('Enter');
  await until(async () => (await first.getAttribute('aria-pressed')) === 'false', { message: 'Enter on a legend entry to hide its series' });
  await page.keyboard.press('Enter');
  await until(async () => (await first.getAttribute('aria-pressed')) === 'true', { message: 'Enter again to show it' });
  // The table of services is there too.
  await visible(page.getByRole('table', { name: 'SLA per service' }));
  await shot(page, 'sla');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  assert.match(download.suggestedFilename(), /^sla-.*\.csv$/);
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.trim().split(/\r?\n/);
  assert.ok(lines.length >= 2, `a header and rows: ${csv.slice(0, 300)}`);
  assert.match(lines[0], /service/i, `the CSV header names the service column: ${lines[0]}`);
  assert.ok(lines[0].split(',').length >= 3, `several columns: ${lines[0]}`);
  assert.ok(lines.some((l) => l.includes('svc-checkout')), 'the CSV has the demo services');
  await assertClean(page, 'the SLA page');
  await page.context().close();
});

test('the metrics explorer charts a metric on a time axis', async () => {
  const page = await newPage(ctx.browser, { url: ctx.server.url });
  await page.goto('/ui/metrics');
  await visible(heading(page).filter({ hasText: 'Metrics' }));
  await page.getByLabel('Find a metric').fill('cache_hit');
  const metric = page.getByRole('listitem').getByRole('button', { name: /^cache_hit_ratio / });
  await metric.click();
  await until(async () => (await metric.getAttribute('aria-pressed')) === 'true', { message: 'the metric to be picked' });
  await until(() => new URL(page.url()).searchParams.get('metric') === 'cache_hit_ratio', { message: 'the metric in the URL' });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const chart = page.getByRole('figure');
  await visible(chart);
  // Each query redraws the chart on a new canvas: wait for the last one to settle.
  await until(async () => (await page.getByRole('status').filter({ hasText: 'Querying' }).count()) === 0, { message: 'the query to finish' });
  const size = await until(async () => {
    const s = await canvasSize(chart);
    return s.w > 0 && s.h > 0 && s.cw > 100 && s.ch > 50 && s;
  }, { message: 'a chart canvas with a size' });
  assert.ok(size, 'the canvas has a size');
  await until(() => drawn(chart), { message: 'something drawn on the canvas' });

  // The x axis is time: hovering the plot shows the time under the cursor in the legend.
  const box = await chart.locator('canvas').first().boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
  const xValue = async () => (await chart.getByRole('row').first().innerText()).trim();
  const shown = await until(async () => {
    const t = await xValue();
    return /\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}/.test(t) && t;
  }, { message: 'the legend to show the time under the cursor' });
  assert.doesNotMatch(shown, /^\D*\d{1,3}\D*$/, `an x value that is not an index: ${shown}`);
  const year = String(new Date().getUTCFullYear());
  assert.ok(shown.includes(year) || /\d{1,2}:\d{2}/.test(shown), `a time of today: ${shown}`);
  await shot(page, 'metrics-chart');
  await assertClean(page, 'the metrics explorer');
  await page.context().close();
});
