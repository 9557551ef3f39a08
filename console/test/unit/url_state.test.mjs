import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeState, encodeState, isDefaultState, toSearch, toggleIn } from '../../src/lib/url_state.js';

const schema = {
  q: { type: 'string' },
  status: { type: 'list', values: ['open', 'acknowledged', 'resolved'] },
  service: { type: 'string' },
  sort: { type: 'enum', values: ['newest', 'oldest'], default: 'newest' },
  refresh: { type: 'int', default: 30, values: [0, 10, 30, 60] },
  notes: { type: 'bool' },
};

test('defaults when the URL is empty', () => {
  assert.deepEqual(decodeState(schema, new URLSearchParams()), {
    q: '', status: [], service: '', sort: 'newest', refresh: 30, notes: false,
  });
  assert.equal(isDefaultState(schema, decodeState(schema, '')), true);
});

test('round trip keeps every field and leaves defaults out', () => {
  const state = { q: 'db down & more', status: ['open', 'resolved'], service: 'svc/a b', sort: 'oldest', refresh: 10, notes: true };
  const p = encodeState(schema, state);
  assert.equal(p.get('status'), 'open,resolved');
  assert.deepEqual(decodeState(schema, p), state);
  const clean = encodeState(schema, { ...decodeState(schema, ''), q: 'x' });
  assert.equal(toSearch(clean), '?q=x');
  assert.equal(toSearch(encodeState(schema, decodeState(schema, ''))), '');
});

test('bad values fall back to defaults; unknown list items are dropped', () => {
  const s = decodeState(schema, 'sort=sideways&refresh=7&status=open,bogus,open&notes=0');
  assert.equal(s.sort, 'newest');
  assert.equal(s.refresh, 30);
  assert.deepEqual(s.status, ['open']);
  assert.equal(s.notes, false);
  assert.equal(decodeState(schema, 'refresh=abc').refresh, 30);
  assert.equal(decodeState(schema, 'refresh=0').refresh, 0);
});

test('repeated keys are read as one list', () => {
  assert.deepEqual(decodeState(schema, 'status=open&status=resolved').status, ['open', 'resolved']);
});

test('keys outside the schema are kept', () => {
  const p = encodeState(schema, { status: ['open'] }, new URLSearchParams('tab=alerts&q=old'));
  assert.equal(p.get('tab'), 'alerts');
  assert.equal(p.get('q'), null);
  assert.equal(p.get('status'), 'open');
});

test('toggleIn', () => {
  assert.deepEqual(toggleIn(['a'], 'b'), ['a', 'b']);
  assert.deepEqual(toggleIn(['a', 'b'], 'a'), ['b']);
});
