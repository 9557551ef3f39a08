import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutSteps, runProgress, stateMap, runStates, typeBadge, waitsForPerson } from '../../src/lib/dag.js';

const s = (id, ...dependsOn) => ({ id, title: id, type: 'automated', dependsOn });

const layouts = [
  { name: 'empty', steps: [], levels: [], edges: 0, cycles: [], missing: [] },
  { name: 'not an array', steps: null, levels: [], edges: 0, cycles: [], missing: [] },
  { name: 'one step', steps: [s('a')], levels: [['a']], edges: 0, cycles: [], missing: [] },
  { name: 'chain', steps: [s('a'), s('b', 'a'), s('c', 'b')], levels: [['a'], ['b'], ['c']], edges: 2, cycles: [], missing: [] },
  {
    name: 'longest path wins',
    steps: [s('a'), s('b', 'a'), s('c', 'b'), s('d', 'a', 'c')],
    levels: [['a'], ['b'], ['c'], ['d']],
    edges: 4, cycles: [], missing: [],
  },
  {
    name: 'declaration order within a level, dependency declared later',
    steps: [s('z', 'y'), s('x'), s('y'), s('w', 'x')],
    levels: [['x', 'y'], ['z', 'w']],
    edges: 2, cycles: [], missing: [],
  },
  {
    name: 'demo plan-incident-comms (fan out)',
    steps: [s('draft'), s('notify', 'draft'), s('publish', 'draft'), s('schedule', 'publish')],
    levels: [['draft'], ['notify', 'publish'], ['schedule']],
    edges: 3, cycles: [], missing: [],
  },
  {
    name: 'unknown dependency',
    steps: [s('a', 'ghost'), s('b', 'a')],
    levels: [['a'], ['b']],
    edges: 1, cycles: [], missing: [{ step: 'a', dependsOn: 'ghost' }],
  },
  { name: 'self loop', steps: [s('a', 'a'), s('b', 'a')], levels: [['a'], ['b']], edges: 1, cycles: ['a'], missing: [] },
  {
    name: 'two-cycle shares a level, successors below',
    steps: [s('root'), s('a', 'root', 'b'), s('b', 'a'), s('c', 'b')],
    levels: [['root'], ['a', 'b'], ['c']],
    edges: 4, cycles: ['a', 'b'], missing: [],
  },
  {
    name: 'duplicate ids keep the first, repeated deps counted once',
    steps: [s('a'), s('b', 'a', 'a'), { id: 'a', dependsOn: ['b'] }],
    levels: [['a'], ['b']],
    edges: 1, cycles: [], missing: [],
  },
  {
    name: 'junk entries and non-array dependsOn are ignored',
    steps: [null, 7, { title: 'no id' }, { id: 'a', dependsOn: 'a' }, { id: 2, dependsOn: [null, 'a'] }],
    levels: [['a'], ['2']],
    edges: 1, cycles: [], missing: [],
  },
];

for (const c of layouts) {
  test(`layoutSteps: ${c.name}`, () => {
    const got = layoutSteps(c.steps);
    assert.deepEqual(got.levels, c.levels);
    assert.equal(got.edges.length, c.edges);
    assert.deepEqual(got.cycles, c.cycles);
    assert.deepEqual(got.missing, c.missing);
  });
}

test('layoutSteps: duplicates are reported', () => {
  assert.deepEqual(layoutSteps([s('a'), s('a'), s('b'), s('a')]).duplicates, ['a']);
});

test('layoutSteps: edges go from dependency to step', () => {
  assert.deepEqual(layoutSteps([s('a'), s('b', 'a')]).edges, [{ from: 'a', to: 'b' }]);
});

test('layoutSteps: a 1,000-step chain and a 1,000-step ring neither hang nor overflow', () => {
  const chain = Array.from({ length: 1000 }, (_, i) => s(`s${i}`, ...(i ? [`s${i - 1}`] : [])));
  const t0 = Date.now();
  const got = layoutSteps(chain);
  assert.equal(got.levels.length, 1000);
  assert.deepEqual(got.levels[999], ['s999']);
  const ring = Array.from({ length: 1000 }, (_, i) => s(`r${i}`, `r${(i + 999) % 1000}`));
  const r = layoutSteps(ring);
  assert.equal(r.levels.length, 1);
  assert.equal(r.levels[0].length, 1000);
  assert.equal(r.cycles.length, 1000);
  const wide = Array.from({ length: 1000 }, (_, i) => s(`w${i}`, ...Array.from({ length: Math.min(i, 20) }, (_, k) => `w${i - k - 1}`)));
  assert.equal(layoutSteps(wide).levels.length, 1000);
  assert.ok(Date.now() - t0 < 2000);
});

const manual = (id) => ({ id, type: 'manual' });
const auto = (id) => ({ id, type: 'automated' });
const progress = [
  { name: 'nothing', steps: [], states: [], want: { done: 0, total: 0, percent: 0, blocked: [] } },
  {
    name: 'demo run-001',
    steps: [auto('check'), manual('approve'), auto('promote')],
    states: [{ stepId: 'check', status: 'succeeded' }, { stepId: 'approve', status: 'ready' }, { stepId: 'promote', status: 'pending' }],
    want: { done: 1, total: 3, percent: 33, blocked: ['approve'] },
  },
  {
    name: 'completed/complete count as done, in_progress manual waits',
    steps: [auto('a'), auto('b'), manual('c'), manual('d')],
    states: [{ stepId: 'a', status: 'completed' }, { stepId: 'b', status: 'Complete' }, { stepId: 'c', status: 'in-progress' }, { stepId: 'd', status: 'BLOCKED' }],
    want: { done: 2, total: 4, percent: 50, blocked: ['c', 'd'] },
  },
  {
    name: 'skipped counts as done; automated blocked is not a manual wait',
    steps: [auto('a'), auto('b')],
    states: [{ stepId: 'a', status: 'skipped' }, { stepId: 'b', status: 'blocked' }],
    want: { done: 1, total: 2, percent: 50, blocked: [] },
  },
  {
    name: 'state map instead of an array',
    steps: [manual('a'), auto('b')],
    states: { a: { status: 'running' }, b: 'succeeded' },
    want: { done: 1, total: 2, percent: 50, blocked: ['a'] },
  },
  {
    name: 'no plan steps: the states are the steps',
    steps: undefined,
    states: [{ stepId: 'x', status: 'succeeded' }, { stepId: 'y', status: 'failed' }],
    want: { done: 1, total: 2, percent: 50, blocked: [] },
  },
  {
    name: 'states for unknown steps and missing states',
    steps: [auto('a'), manual('b'), auto('a')],
    states: [{ stepId: 'zzz', status: 'succeeded' }, null, { stepId: 'a', status: 'succeeded' }],
    want: { done: 1, total: 2, percent: 50, blocked: [] },
  },
  {
    name: 'all done',
    steps: [auto('a'), auto('b'), auto('c')],
    states: [{ stepId: 'a', status: 'succeeded' }, { stepId: 'b', status: 'success' }, { stepId: 'c', status: 'succeeded' }],
    want: { done: 3, total: 3, percent: 100, blocked: [] },
  },
];
for (const c of progress) {
  test(`runProgress: ${c.name}`, () => assert.deepEqual(runProgress(c.steps, c.states), c.want));
}

test('stateMap, runStates, typeBadge, waitsForPerson', () => {
  assert.equal(stateMap([{ stepId: 'a', status: 'x' }]).get('a').status, 'x');
  assert.equal(stateMap({ b: 'ready' }).get('b').status, 'ready');
  assert.equal(stateMap(null).size, 0);
  assert.deepEqual(runStates({ steps: [1] }), [1]);
  assert.deepEqual(runStates({ stepStates: [2] }), [2]);
  assert.deepEqual(runStates({ steps: [], stepStates: [3] }), [3]);
  assert.deepEqual(runStates(null), []);
  for (const [t, b] of [['manual', 'M'], ['Observe', 'O'], ['invoke', 'I'], ['verify', 'V'], ['record', 'R'], ['automated', 'A'], ['x', '?'], [undefined, '?']]) {
    assert.equal(typeBadge(t), b);
  }
  assert.equal(waitsForPerson({ type: 'manual' }, { status: 'ready' }), true);
  assert.equal(waitsForPerson({ type: 'manual' }, { status: 'pending' }), false);
  assert.equal(waitsForPerson({ type: 'automated' }, { status: 'blocked' }), false);
  assert.equal(waitsForPerson({ type: 'manual' }, undefined), false);
});
