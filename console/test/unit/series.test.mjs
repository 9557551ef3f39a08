import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseRFC3339, timeMs, toRFC3339, toUplotData, seriesLabel, varyingLabelKeys, stats, quickRange,
  parseRange, rangeMs, autoStep, splitRange, bounded, fromLocalInput, toLocalInput,
} from '../../src/lib/series.js';

const T = (s) => Date.UTC(2026, 11, 6, 18, 0, s) / 1000; // 2026-12-06T18:00:ss in unix seconds
const iso = (s) => `2026-12-06T18:00:${String(s).padStart(2, '0')}Z`;

const times = [
  ['2026-12-06T18:00:00Z', Date.UTC(2026, 11, 6, 18)],
  ['2026-12-06t18:00:00z', Date.UTC(2026, 11, 6, 18)],
  ['2026-12-06T18:36:06.117446381Z', Date.UTC(2026, 11, 6, 18, 36, 6, 117)],
  ['2026-12-06T20:00:00+02:00', Date.UTC(2026, 11, 6, 18)],
  ['2026-12-06T17:30:00-00:30', Date.UTC(2026, 11, 6, 18)],
  ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ['2024-02-30T00:00:00Z', NaN],
  ['2026-13-01T00:00:00Z', NaN],
  ['2026-12-06T24:00:00Z', NaN],
  ['2026-12-06', NaN],
  ['2026-12-06T18:00:00', NaN],
  ['yesterday', NaN],
  ['', NaN],
  [null, NaN],
  [42, NaN],
];
for (const [input, want] of times) {
  test(`parseRFC3339(${JSON.stringify(input)})`, () => assert.deepEqual(parseRFC3339(input), want));
}

test('timeMs accepts ms numbers, digit strings, RFC 3339 and Dates', () => {
  assert.equal(timeMs(1700000000000), 1700000000000);
  assert.equal(timeMs('1700000000000'), 1700000000000);
  assert.equal(timeMs(new Date(5)), 5);
  assert.equal(timeMs('2026-12-06T18:00:00Z'), Date.UTC(2026, 11, 6, 18));
  assert.ok(Number.isNaN(timeMs(Infinity)));
  assert.ok(Number.isNaN(timeMs('12abc')));
  assert.ok(Number.isNaN(timeMs({})));
  assert.equal(toRFC3339(Date.UTC(2026, 0, 2, 3, 4, 5)), '2026-01-02T03:04:05Z');
  assert.equal(toRFC3339(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), '2026-01-02T03:04:05.006Z');
});

const uplot = [
  { name: 'no series', series: [], want: [[]] },
  { name: 'not an array', series: null, want: [[]] },
  { name: 'one series', series: [{ name: 'a', points: [{ timestamp: iso(0), value: 1 }, { timestamp: iso(10), value: 2 }] }], want: [[T(0), T(10)], [1, 2]] },
  {
    name: 'unsorted points are sorted by time',
    series: [{ name: 'a', points: [{ timestamp: iso(20), value: 3 }, { timestamp: iso(0), value: 1 }] }],
    want: [[T(0), T(20)], [1, 3]],
  },
  {
    name: 'union of timestamps with gaps as null',
    series: [
      { name: 'a', points: [{ timestamp: iso(0), value: 1 }, { timestamp: iso(20), value: 3 }] },
      { name: 'b', points: [{ timestamp: iso(10), value: 5 }, { timestamp: iso(20), value: 6 }] },
    ],
    want: [[T(0), T(10), T(20)], [1, null, 3], [null, 5, 6]],
  },
  {
    name: 'same instant in different zones is one x',
    series: [
      { name: 'a', points: [{ timestamp: '2026-12-06T18:00:00Z', value: 1 }] },
      { name: 'b', points: [{ timestamp: '2026-12-06T19:00:00+01:00', value: 2 }] },
    ],
    want: [[T(0)], [1], [2]],
  },
  {
    name: 'bad timestamps dropped, bad values null, numeric strings read, ms numbers accepted',
    series: [{ name: 'a', points: [{ timestamp: 'nope', value: 1 }, { timestamp: iso(0), value: 'NaN' }, { timestamp: iso(5), value: '2.5' }, { timestamp: T(9) * 1000, value: 4 }, null] }],
    want: [[T(0), T(5), T(9)], [null, 2.5, 4]],
  },
  { name: 'series without points', series: [{ name: 'a' }, { name: 'b', points: [{ timestamp: iso(1), value: 0 }] }], want: [[T(1)], [null], [0]] },
  { name: 'repeated timestamp: last wins', series: [{ points: [{ timestamp: iso(1), value: 1 }, { timestamp: iso(1), value: 9 }] }], want: [[T(1)], [9]] },
];
for (const c of uplot) {
  test(`toUplotData: ${c.name}`, () => assert.deepEqual(toUplotData(c.series), c.want));
}

const labels = [
  [{ name: 'cpu' }, undefined, 'cpu'],
  [{ name: 'cpu', labels: {} }, undefined, 'cpu'],
  [{ name: 'cpu', labels: { region: 'eu', env: 'prod' } }, undefined, 'cpu{env="prod", region="eu"}'],
  [{ name: 'cpu', labels: { region: 'eu', env: 'prod' } }, ['region'], 'cpu{region="eu"}'],
  [{ name: 'cpu', labels: { env: 'prod' } }, ['region'], 'cpu'],
  [{ service: 'svc-a' }, undefined, 'svc-a'],
  [{}, undefined, 'series'],
  [null, undefined, 'series'],
];
for (const [s, keys, want] of labels) {
  test(`seriesLabel → ${want}`, () => assert.equal(seriesLabel(s, keys), want));
}

test('varyingLabelKeys keeps only keys that differ (a missing key counts as a value)', () => {
  assert.deepEqual(
    varyingLabelKeys([
      { labels: { env: 'prod', region: 'eu', team: 'a' } },
      { labels: { env: 'prod', region: 'us' } },
    ]),
    ['region', 'team'],
  );
  assert.deepEqual(varyingLabelKeys([{ labels: { env: 'prod' } }]), []);
  assert.deepEqual(varyingLabelKeys(null), []);
});

const statCases = [
  { name: 'empty', points: [], want: { latest: null, latestAt: null, min: null, max: null, avg: null } },
  { name: 'not an array', points: undefined, want: { latest: null, latestAt: null, min: null, max: null, avg: null } },
  {
    name: 'basic',
    points: [{ timestamp: iso(0), value: 4 }, { timestamp: iso(10), value: 2 }, { timestamp: iso(20), value: 6 }],
    want: { latest: 6, latestAt: T(20) * 1000, min: 2, max: 6, avg: 4 },
  },
  {
    name: 'latest is by time, not by order',
    points: [{ timestamp: iso(20), value: 1 }, { timestamp: iso(0), value: 3 }],
    want: { latest: 1, latestAt: T(20) * 1000, min: 1, max: 3, avg: 2 },
  },
  {
    name: 'nulls and junk ignored',
    points: [{ timestamp: iso(0), value: null }, { timestamp: iso(5), value: 'x' }, { timestamp: iso(9), value: -1 }, null],
    want: { latest: -1, latestAt: T(9) * 1000, min: -1, max: -1, avg: -1 },
  },
  { name: 'no timestamps: last in order', points: [{ value: 1 }, { value: 2 }], want: { latest: 2, latestAt: null, min: 1, max: 2, avg: 1.5 } },
];
for (const c of statCases) {
  test(`stats: ${c.name}`, () => assert.deepEqual(stats(c.points), c.want));
}

const NOW = Date.UTC(2026, 11, 6, 18);
const quick = [
  ['15m', '2026-12-06T17:45:00Z'],
  ['1h', '2026-12-06T17:00:00Z'],
  ['6h', '2026-12-06T12:00:00Z'],
  ['24h', '2026-12-05T18:00:00Z'],
  ['7d', '2026-11-29T18:00:00Z'],
  ['30d', '2026-11-06T18:00:00Z'],
];
for (const [name, start] of quick) {
  test(`quickRange(${name})`, () => assert.deepEqual(quickRange(name, NOW), { start, end: '2026-12-06T18:00:00Z' }));
}
for (const bad of ['', '1y', '0m', '-1h', '1000d', 'h', null, '1h ']) {
  test(`quickRange(${JSON.stringify(bad)}) is null`, () => assert.equal(quickRange(bad, NOW), null));
}
test('rangeMs', () => {
  assert.equal(rangeMs('1m'), 60e3);
  assert.ok(Number.isNaN(rangeMs('30s')));
});

const q = (s) => new URLSearchParams(s);
const ranges = [
  { name: 'nothing: fallback', query: '', want: { start: '2026-12-06T17:00:00Z', end: '2026-12-06T18:00:00Z', range: '1h', error: null } },
  { name: 'quick range', query: 'range=6h', want: { start: '2026-12-06T12:00:00Z', end: '2026-12-06T18:00:00Z', range: '6h', error: null } },
  { name: 'bad quick range', query: 'range=1y', want: { start: '2026-12-06T17:00:00Z', end: '2026-12-06T18:00:00Z', range: '1h', error: 'unknown range "1y"' } },
  {
    name: 'RFC 3339 start/end',
    query: 'start=2026-12-01T00:00:00Z&end=2026-12-02T00:00:00%2B01:00',
    want: { start: '2026-12-01T00:00:00Z', end: '2026-12-01T23:00:00Z', range: null, error: null },
  },
  { name: 'ms start/end', query: `start=${NOW - 1000}&end=${NOW}`, want: { start: '2026-12-06T17:59:59Z', end: '2026-12-06T18:00:00Z', range: null, error: null } },
  { name: 'start only: end is now', query: 'start=2026-12-06T10:00:00Z', want: { start: '2026-12-06T10:00:00Z', end: '2026-12-06T18:00:00Z', range: null, error: null } },
  { name: 'bad start', query: 'start=tomorrow&end=2026-12-06T10:00:00Z', want: { start: '2026-12-06T17:00:00Z', end: '2026-12-06T18:00:00Z', range: '1h', error: 'start "tomorrow" is not a time' } },
  { name: 'bad end', query: 'start=2026-12-06T10:00:00Z&end=x', want: { start: '2026-12-06T17:00:00Z', end: '2026-12-06T18:00:00Z', range: '1h', error: 'end "x" is not a time' } },
  { name: 'end before start', query: 'start=2026-12-06T10:00:00Z&end=2026-12-06T09:00:00Z', want: { start: '2026-12-06T17:00:00Z', end: '2026-12-06T18:00:00Z', range: '1h', error: 'start must be before end' } },
  { name: 'end only is missing a start', query: 'end=2026-12-06T09:00:00Z', want: { start: '2026-12-06T17:00:00Z', end: '2026-12-06T18:00:00Z', range: '1h', error: 'start "" is not a time' } },
];
for (const c of ranges) {
  test(`parseRange: ${c.name}`, () => assert.deepEqual(parseRange(q(c.query), { now: NOW }), c.want));
}
test('parseRange: plain object and another fallback', () => {
  assert.equal(parseRange({ range: '15m' }, { now: NOW }).start, '2026-12-06T17:45:00Z');
  assert.equal(parseRange(null, { now: NOW, fallback: '24h' }).start, '2026-12-05T18:00:00Z');
});

const steps = [
  ['2026-12-06T17:45:00Z', '2026-12-06T18:00:00Z', 5],
  ['2026-12-06T17:00:00Z', '2026-12-06T18:00:00Z', 15],
  ['2026-12-06T12:00:00Z', '2026-12-06T18:00:00Z', 120],
  ['2026-12-05T18:00:00Z', '2026-12-06T18:00:00Z', 600],
  ['2026-11-29T18:00:00Z', '2026-12-06T18:00:00Z', 3600],
  ['2026-12-06T18:00:00Z', '2026-12-06T18:00:00Z', 60],
  ['x', '2026-12-06T18:00:00Z', 60],
];
for (const [s, e, want] of steps) {
  test(`autoStep(${s}..${e}) = ${want}`, () => assert.equal(autoStep(s, e), want));
}
test('autoStep: very long spans round to whole days', () => {
  assert.equal(autoStep(0, 1000 * 86400e3), 5 * 86400);
});

test('splitRange', () => {
  assert.deepEqual(splitRange('2026-12-01T00:00:00Z', '2026-12-04T00:00:00Z', 3), [
    { start: '2026-12-01T00:00:00Z', end: '2026-12-02T00:00:00Z' },
    { start: '2026-12-02T00:00:00Z', end: '2026-12-03T00:00:00Z' },
    { start: '2026-12-03T00:00:00Z', end: '2026-12-04T00:00:00Z' },
  ]);
  assert.deepEqual(splitRange('2026-12-04T00:00:00Z', '2026-12-01T00:00:00Z', 3), []);
  assert.equal(splitRange(0, 1000, 0).length, 1);
});

test('local datetime input round trip', () => {
  const ms = Date.UTC(2026, 11, 6, 18, 30);
  assert.equal(fromLocalInput(toLocalInput(ms)), ms);
  assert.ok(Number.isNaN(fromLocalInput('2026-12-06')));
  assert.equal(toLocalInput('junk'), '');
});

test('bounded runs at most `limit` tasks at once, results in order', async () => {
  let running = 0;
  let peak = 0;
  const tasks = Array.from({ length: 9 }, (_, i) => async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return i * 2;
  });
  assert.deepEqual(await bounded(tasks, 3), [0, 2, 4, 6, 8, 10, 12, 14, 16]);
  assert.equal(peak, 3);
  assert.deepEqual(await bounded([], 3), []);
});

test('bounded stops starting tasks after a failure', async () => {
  let started = 0;
  const tasks = Array.from({ length: 10 }, (_, i) => async () => {
    started++;
    await new Promise((r) => setTimeout(r, 2));
    if (i === 1) throw new Error('boom');
    return i;
  });
  await assert.rejects(bounded(tasks, 2), /boom/);
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(started <= 3, `started ${started}`);
});
