import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutSteps, runProgress, runSteps, stateMap, runStates, stepDetail, stepInstructions, typeBadge, waitsForPerson } from '../../src/lib/dag.js';

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
    name: 'fan out',
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
    name: 'a manual step ready after an automated one',
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
    name: 'no plan steps: the states\' fields name the types (local provider runs in queries)',
    steps: null,
    states: [
      { stepId: 'health', status: 'succeeded', fields: { type: 'observe', title: 'Look at the health' } },
      { stepId: 'approve', status: 'blocked', fields: { type: 'manual', title: 'Approve the restart' } },
      { stepId: 'restart', status: 'pending', fields: { type: 'invoke' } },
    ],
    want: { done: 1, total: 3, percent: 33, blocked: ['approve'] },
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

test('runSteps: the plan\'s steps, else steps made from the states', () => {
  const plan = { steps: [{ id: 'a', title: 'A', type: 'manual' }] };
  assert.equal(runSteps(plan, [{ stepId: 'x' }]), plan.steps);
  const states = [
    { stepId: 'approve', status: 'blocked', fields: { type: 'manual', title: 'Approve the restart' } },
    { stepId: 'restart', status: 'pending', fields: { type: ' invoke ', title: '' } },
    { stepId: 'odd', status: 'pending', fields: ['not', 'an', 'object'] },
    { stepId: 'bare', status: 'pending' },
  ];
  const want = [
    { id: 'approve', title: 'Approve the restart', type: 'manual' },
    { id: 'restart', title: 'restart', type: 'invoke' },
    { id: 'odd', title: 'odd', type: undefined },
    { id: 'bare', title: 'bare', type: undefined },
  ];
  for (const p of [null, undefined, {}, { steps: null }, { steps: [] }]) assert.deepEqual(runSteps(p, states), want);
  assert.deepEqual(runSteps(null, null), []);
});

test('stepInstructions: fields.with (local provider), with, or instructions', () => {
  const text = 'Make sure no deployment is in progress, then complete this step.';
  assert.equal(stepInstructions({ id: 'approve', type: 'manual', fields: { onFailure: 'stop', with: { instructions: `  ${text}\n` } } }), text);
  assert.equal(stepInstructions({ with: { instructions: text } }), text);
  assert.equal(stepInstructions({ instructions: text }), text);
  assert.equal(stepInstructions({ fields: { with: { instructions: '  ' } }, instructions: 'fallback' }), 'fallback');
  for (const s of [null, undefined, 'approve', {}, { fields: null }, { fields: { with: null } }, { fields: { with: { instructions: 42 } } }]) {
    assert.equal(stepInstructions(s), '', JSON.stringify(s));
  }
});

test('stepDetail: attempts, error, next attempt and output from a state\'s fields', () => {
  const none = { attempts: null, error: '', nextAttemptAt: null, output: null };
  for (const st of [null, undefined, {}, { fields: null }, { fields: 'x' }, { fields: [] }, { fields: { title: 'T', type: 'manual' } }]) {
    assert.deepEqual(stepDetail(st), none, JSON.stringify(st));
  }
  const output = { logs: [{ level: 'info', message: 'restarted checkout-api-7f9c' }], result: { restarted: ['checkout-api-7f9c'] } };
  assert.deepEqual(
    stepDetail({
      stepId: 'cleanup',
      status: 'pending',
      fields: { attempts: 2, error: ' disk-cleanup: permission denied \n', nextAttemptAt: '2026-12-07T01:41:30Z', output },
    }),
    { attempts: 2, error: 'disk-cleanup: permission denied', nextAttemptAt: '2026-12-07T01:41:30Z', output: JSON.stringify(output, null, 2) },
  );
  assert.equal(stepDetail({ fields: { output: 'plain text' } }).output, 'plain text');
  assert.equal(stepDetail({ fields: { output: { recorded: false } } }).output, '{\n  "recorded": false\n}');
  assert.equal(stepDetail({ fields: { output: 0 } }).output, '0');
  assert.equal(stepDetail({ fields: { output: '' } }).output, null);
  assert.equal(stepDetail({ fields: { error: { code: 7 } } }).error, '{"code":7}');
  for (const [a, want] of [[1, 1], ['3', 3], [0, null], [-1, null], [1.5, null], [true, null], ['', null], [null, null], ['x', null]]) {
    assert.equal(stepDetail({ fields: { attempts: a } }).attempts, want, JSON.stringify(a));
  }
});
