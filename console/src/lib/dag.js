// Orchestration plan graphs (pure, unit-tested): levels for drawing a plan's steps and the
// progress of a run. Robust to what a provider may send: cycles, self-loops, unknown or repeated
// dependencies, repeated step ids, thousands of steps (no recursion anywhere).
import { normalizeStatus } from './format.js';

const idOf = (s) => (s && s.id !== undefined && s.id !== null && s.id !== '' ? String(s.id) : null);

/**
 * steps `[{ id, title, type, dependsOn[] }]` →
 * `{ levels: [[id…]…], edges: [{ from, to }], cycles: [id…], missing: [{ step, dependsOn }],
 *    duplicates: [id…], byId: Map }`.
 * A step's level is the length of its longest dependency chain (0: no dependencies); the steps
 * of one cycle share a level; within a level steps keep their declaration order.
 */
export function layoutSteps(steps) {
  const list = Array.isArray(steps) ? steps : [];
  const byId = new Map();
  const order = [];
  const duplicates = [];
  for (const s of list) {
    const id = idOf(s);
    if (id === null) continue;
    if (byId.has(id)) {
      if (!duplicates.includes(id)) duplicates.push(id);
      continue;
    }
    byId.set(id, s);
    order.push(id);
  }
  const index = new Map(order.map((id, i) => [id, i]));
  const n = order.length;
  const preds = order.map(() => []); // indices of known dependencies
  const succs = order.map(() => []);
  const edges = [];
  const missing = [];
  const selfLoop = new Array(n).fill(false);
  for (let i = 0; i < n; i++) {
    const id = order[i];
    const deps = byId.get(id).dependsOn;
    const seen = new Set();
    for (const raw of Array.isArray(deps) ? deps : []) {
      if (raw === null || raw === undefined) continue;
      const dep = String(raw);
      if (seen.has(dep)) continue;
      seen.add(dep);
      const j = index.get(dep);
      if (j === undefined) {
        missing.push({ step: id, dependsOn: dep });
      } else if (j === i) {
        selfLoop[i] = true;
      } else {
        preds[i].push(j);
        succs[j].push(i);
        edges.push({ from: dep, to: id });
      }
    }
  }

  // Strongly connected components (iterative Tarjan, edges dependency → step). Tarjan emits
  // components in reverse topological order.
  const comp = new Array(n).fill(-1);
  const low = new Array(n).fill(0);
  const num = new Array(n).fill(-1);
  const onStack = new Array(n).fill(false);
  const stack = [];
  const comps = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (num[root] !== -1) continue;
    const work = [[root, 0]];
    num[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (work.length) {
      const top = work[work.length - 1];
      const v = top[0];
      if (top[1] < succs[v].length) {
        const w = succs[v][top[1]++];
        if (num[w] === -1) {
          num[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          work.push([w, 0]);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v], num[w]);
        }
      } else {
        work.pop();
        if (work.length) {
          const u = work[work.length - 1][0];
          low[u] = Math.min(low[u], low[v]);
        }
        if (low[v] === num[v]) {
          const members = [];
          let w;
          do {
            w = stack.pop();
            onStack[w] = false;
            comp[w] = comps.length;
            members.push(w);
          } while (w !== v);
          comps.push(members);
        }
      }
    }
  }

  const inCycle = new Array(n).fill(false);
  for (const members of comps) if (members.length > 1) for (const m of members) inCycle[m] = true;
  for (let i = 0; i < n; i++) if (selfLoop[i]) inCycle[i] = true;

  // Longest-path level over the component graph, sources first.
  const compLevel = new Array(comps.length).fill(0);
  for (let c = comps.length - 1; c >= 0; c--) {
    let lvl = 0;
    for (const m of comps[c]) {
      for (const p of preds[m]) if (comp[p] !== c) lvl = Math.max(lvl, compLevel[comp[p]] + 1);
    }
    compLevel[c] = lvl;
  }
  const levels = [];
  for (let i = 0; i < n; i++) {
    const l = compLevel[comp[i]];
    while (levels.length <= l) levels.push([]);
    levels[l].push(order[i]);
  }
  const cycles = order.filter((_, i) => inCycle[i]);
  return { levels, edges, cycles, missing, duplicates, byId };
}

/** A run's step states (`run.steps`, else `run.stepStates`; an array or an id → state map) → Map id → state. */
export function stateMap(stepStates) {
  const map = new Map();
  if (Array.isArray(stepStates)) {
    for (const st of stepStates) {
      const id = st && (st.stepId ?? st.id);
      if (id !== undefined && id !== null) map.set(String(id), st);
    }
  } else if (stepStates && typeof stepStates === 'object') {
    for (const [id, st] of Object.entries(stepStates)) {
      map.set(id, st && typeof st === 'object' ? st : { status: st });
    }
  }
  return map;
}

/** The states of a run, whichever field the provider used. */
export function runStates(run) {
  if (!run) return [];
  return Array.isArray(run.steps) && run.steps.length ? run.steps : run.stepStates || run.steps || [];
}

const fieldsOf = (x) => (x && x.fields && typeof x.fields === 'object' && !Array.isArray(x.fields) ? x.fields : {});
const text = (v) => (typeof v === 'string' ? v.trim() : '');

/** A step made from its state alone: the title and type its `fields` name (the local provider), else the id. */
function stepFromState(id, st) {
  const f = fieldsOf(st);
  return { id, title: text(f.title) || id, type: text(f.type) || undefined };
}

/**
 * The steps of a run: its plan's (`plan.steps`) when it has some, else one per step state, with
 * the title and type the state's `fields` carry (a provider that does not embed the plan in runs).
 */
export function runSteps(plan, stepStates) {
  if (plan && Array.isArray(plan.steps) && plan.steps.length) return plan.steps;
  return [...stateMap(stepStates)].map(([id, st]) => stepFromState(id, st));
}

/**
 * What a person completing a manual step is told: `fields.with.instructions` (the local
 * provider), else `with.instructions`, else `instructions`; '' when none.
 */
export function stepInstructions(step) {
  if (!step || typeof step !== 'object') return '';
  const withOf = (o) => (o && o.with && typeof o.with === 'object' ? o.with : {});
  return text(withOf(fieldsOf(step)).instructions) || text(withOf(step).instructions) || text(step.instructions);
}

/**
 * What a step state's `fields` say beyond its status → `{ attempts, error, nextAttemptAt, output }`:
 * attempts a positive integer or null, error the last error as text ('' when none), nextAttemptAt
 * as given (null when none), output as display text — pretty JSON for an object, a string as it is
 * — or null when there is none.
 */
export function stepDetail(state) {
  const f = fieldsOf(state);
  const n = Number(f.attempts);
  const attempts = (typeof f.attempts === 'number' || typeof f.attempts === 'string') && Number.isInteger(n) && n > 0 ? n : null;
  let error = '';
  if (typeof f.error === 'string') error = f.error.trim();
  else if (f.error && typeof f.error === 'object') error = JSON.stringify(f.error);
  const next = f.nextAttemptAt;
  const nextAttemptAt = next === undefined || next === null || next === '' ? null : next;
  let output = null;
  if (f.output !== undefined && f.output !== null && f.output !== '') output = typeof f.output === 'string' ? f.output : JSON.stringify(f.output, null, 2);
  return { attempts, error, nextAttemptAt, output };
}

const WAITING = new Set(['ready', 'running', 'blocked']);

/** True for a manual step whose normalised status waits for a person (ready, running, blocked). */
export function waitsForPerson(step, state) {
  const type = step && typeof step.type === 'string' ? step.type.trim().toLowerCase() : '';
  return type === 'manual' && WAITING.has(normalizeStatus(state && state.status));
}

/**
 * `{ done, total, percent, blocked }`: done = succeeded or skipped steps, total = the plan's
 * distinct steps (the states, typed by their `fields`, when the plan has none), blocked = ids of
 * manual steps waiting for a person.
 */
export function runProgress(steps, stepStates) {
  const states = stateMap(stepStates);
  const list = [];
  const seen = new Set();
  for (const s of Array.isArray(steps) ? steps : []) {
    const id = idOf(s);
    if (id === null || seen.has(id)) continue;
    seen.add(id);
    list.push(s);
  }
  if (!list.length) for (const [id, st] of states) list.push(stepFromState(id, st));
  let done = 0;
  const blocked = [];
  for (const s of list) {
    const st = states.get(String(s.id));
    const norm = normalizeStatus(st && st.status);
    if (norm === 'succeeded' || norm === 'skipped') done++;
    if (waitsForPerson(s, st)) blocked.push(String(s.id));
  }
  const total = list.length;
  return { done, total, percent: total ? Math.round((done / total) * 100) : 0, blocked };
}

const BADGES = { manual: 'M', observe: 'O', invoke: 'I', verify: 'V', record: 'R', automated: 'A', automatic: 'A' };
/** One-letter badge of a step type (M/O/I/V/R/A; '?' for unknown). */
export function typeBadge(type) {
  return BADGES[typeof type === 'string' ? type.trim().toLowerCase() : ''] || '?';
}
