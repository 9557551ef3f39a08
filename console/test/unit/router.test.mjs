import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeNext, matchRoute, splitLocation } from '../../src/lib/router.js';

const routes = [
  { path: '/' },
  { path: '/incidents' },
  { path: '/incidents/:id' },
  { path: '/schedules/:id/overrides/:oid' },
];

test('matchRoute: static, params, decoding, no match', () => {
  assert.equal(matchRoute(routes, '/').route.path, '/');
  assert.equal(matchRoute(routes, '/incidents').route.path, '/incidents');
  const m = matchRoute(routes, '/incidents/inc%2F42%20x');
  assert.equal(m.route.path, '/incidents/:id');
  assert.deepEqual(m.params, { id: 'inc/42 x' });
  assert.deepEqual(matchRoute(routes, '/schedules/s1/overrides/o2').params, { id: 's1', oid: 'o2' });
  assert.equal(matchRoute(routes, '/incidents/a/b'), null);
  assert.equal(matchRoute(routes, '/nope'), null);
  assert.equal(matchRoute(routes, '/incidents/%E0%A4%A'), null);
});

test('first matching row wins', () => {
  const rs = [{ path: '/a/new' }, { path: '/a/:id' }];
  assert.equal(matchRoute(rs, '/a/new').route.path, '/a/new');
  assert.equal(matchRoute(rs, '/a/x').params.id, 'x');
});

test('splitLocation strips the /ui base and a trailing slash', () => {
  assert.equal(splitLocation('/ui').path, '/');
  assert.equal(splitLocation('/ui/').path, '/');
  assert.equal(splitLocation('/ui/incidents/').path, '/incidents');
  assert.equal(splitLocation('/ui/incidents/x', '?a=1').search, '?a=1');
  assert.equal(splitLocation('/uix').path, '/uix');
});

test('isSafeNext accepts app paths only', () => {
  assert.equal(isSafeNext('/incidents?x=1'), true);
  assert.equal(isSafeNext('//evil.example'), false);
  assert.equal(isSafeNext('/\\evil.example'), false);
  assert.equal(isSafeNext('https://evil.example'), false);
  assert.equal(isSafeNext(''), false);
  assert.equal(isSafeNext(null), false);
});
