import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtNum, href, listParam, logTone, patched, prettyJson, realTime } from '../../src/lib/ops_util.js';

const hrefs = [
  ['/logs', {}, '/logs'],
  ['/logs', undefined, '/logs'],
  ['/logs', { service: 'svc a', q: '', x: null, y: undefined }, '/logs?service=svc+a'],
  ['/metrics', { by: ['region', 'team'], none: [] }, '/metrics?by=region%2Cteam'],
  ['/runs', { status: 'blocked', n: 0 }, '/runs?status=blocked&n=0'],
];
for (const [p, params, want] of hrefs) test(`href ${want}`, () => assert.equal(href(p, params), want));

const patches = [
  ['a=1&b=2', { b: '' }, '/x?a=1'],
  ['a=1', { b: ['p', 'q'] }, '/x?a=1&b=p%2Cq'],
  ['a=1', { a: null }, '/x'],
  ['', { a: 'v&w' }, '/x?a=v%26w'],
  [new URLSearchParams('k=1'), { k: 2 }, '/x?k=2'],
  ['k=1', { k: [] }, '/x'],
];
for (const [q, patch, want] of patches) test(`patched → ${want}`, () => assert.equal(patched('/x', q, patch), want));

test('listParam', () => {
  assert.deepEqual(listParam('error, warn,,'), ['error', 'warn']);
  assert.deepEqual(listParam(''), []);
  assert.deepEqual(listParam(null), []);
});

const times = [
  ['2026-12-06T18:00:00Z', Date.UTC(2026, 11, 6, 18)],
  ['0001-01-01T00:00:00Z', null],
  ['', null],
  [undefined, null],
  ['garbage', null],
  [1000, 1000],
];
for (const [v, want] of times) test(`realTime(${JSON.stringify(v)})`, () => assert.equal(realTime(v), want));

const tones = [
  ['error', 'bad'], ['ERROR', 'bad'], ['fatal', 'bad'], ['critical', 'bad'], ['warn', 'warn'], ['Warning', 'warn'],
  ['debug', 'muted'], ['trace', 'muted'], ['info', 'info'], ['notice', 'info'], ['', 'info'], [undefined, 'info'],
];
for (const [s, want] of tones) test(`logTone(${s}) = ${want}`, () => assert.equal(logTone(s), want));

const jsons = [
  ['plain text', null],
  ['{"a":1}', '{\n  "a": 1\n}'],
  ['  [1,2] ', '[\n  1,\n  2\n]'],
  ['{not json', null],
  ['"a string"', null],
  ['42', null],
  [{ a: [1] }, '{\n  "a": [\n    1\n  ]\n}'],
  [[], '[]'],
  [null, null],
  [7, null],
];
for (const [m, want] of jsons) test(`prettyJson(${JSON.stringify(m)})`, () => assert.equal(prettyJson(m), want));

const nums = [
  [0, '0'], [1, '1'], [12.345, '12.3'], [999.9, '1000'], [1234, '1234'], [12345, '12.3k'], [2.5e6, '2.5M'],
  [3.21e9, '3.21G'], [-45678, '-45.7k'], [0.5, '0.5'], [0.000123, '1.23e-4'], [null, '—'], [NaN, '—'], ['5', '—'],
];
for (const [v, want] of nums) test(`fmtNum(${v}) = ${want}`, () => assert.equal(fmtNum(v), want));
