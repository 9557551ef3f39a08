// Time series helpers (pure, unit-tested): OpsOrch MetricSeries → uPlot data, stats, time ranges.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 text → epoch ms (NaN when malformed or out of range). Fractions below 1 ms are dropped. */
export function parseRFC3339(text) {
  if (typeof text !== 'string') return NaN;
  const m = RFC3339.exec(text.trim());
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NaN;
  const dt = new Date(0);
  dt.setUTCFullYear(y, mo - 1, d);
  dt.setUTCHours(h, mi, Math.min(s, 59), 0);
  if (dt.getUTCDate() !== d) return NaN; // 2024-02-30
  let ms = dt.getTime() + (m[7] ? Math.floor(Number(m[7]) * 1000) : 0);
  if (m[9]) {
    const off = (Number(m[10]) * 60 + Number(m[11])) * 60000;
    if (Number(m[10]) > 23 || Number(m[11]) > 59) return NaN;
    ms += m[9] === '+' ? -off : off;
  }
  return ms;
}

/** RFC 3339 text, epoch ms (number or all-digit text) or Date → epoch ms; NaN otherwise. */
export function timeMs(value) {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value !== 'string') return NaN;
  const t = value.trim();
  if (/^\d{1,15}$/.test(t)) return Number(t);
  return parseRFC3339(t);
}

/** epoch ms → RFC 3339 UTC text without milliseconds when they are zero. */
export function toRFC3339(ms) {
  const s = new Date(ms).toISOString();
  return s.endsWith('.000Z') ? s.slice(0, -5) + 'Z' : s;
}

function num(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * MetricSeries[] → uPlot data `[xs, ys1, ys2, …]`: xs is the sorted union of every series'
 * timestamps in unix seconds; a series without a point at some x has `null` there (a gap).
 * Points with an unreadable time are dropped; unreadable values become null.
 */
export function toUplotData(series) {
  const list = Array.isArray(series) ? series : [];
  const perSeries = list.map((s) => {
    const m = new Map();
    for (const p of s && Array.isArray(s.points) ? s.points : []) {
      const ms = timeMs(p && p.timestamp);
      if (Number.isNaN(ms)) continue;
      m.set(ms / 1000, num(p.value));
    }
    return m;
  });
  const all = new Set();
  for (const m of perSeries) for (const x of m.keys()) all.add(x);
  const xs = [...all].sort((a, b) => a - b);
  return [xs, ...perSeries.map((m) => xs.map((x) => (m.has(x) ? m.get(x) : null)))];
}

/** Label keys whose values differ between the series (the ones a legend must show). */
export function varyingLabelKeys(series) {
  const list = Array.isArray(series) ? series : [];
  const values = new Map();
  for (const s of list) {
    const labels = (s && s.labels) || {};
    for (const k of Object.keys(labels)) if (!values.has(k)) values.set(k, new Set());
  }
  for (const s of list) {
    const labels = (s && s.labels) || {};
    for (const [k, set] of values) set.add(k in labels ? String(labels[k]) : '\u0000');
  }
  return [...values].filter(([, set]) => set.size > 1).map(([k]) => k).sort();
}

/** `name{k="v", …}` of a series; `keys` limits the labels shown (default: all, sorted). */
export function seriesLabel(s, keys) {
  const name = (s && (s.name || s.service)) || 'series';
  const labels = (s && s.labels) || {};
  const ks = (keys || Object.keys(labels).sort()).filter((k) => k in labels);
  if (!ks.length) return String(name);
  return `${name}{${ks.map((k) => `${k}="${labels[k]}"`).join(', ')}}`;
}

/** `{ latest, latestAt, min, max, avg }` of points (nulls when none has a number). */
export function stats(points) {
  let latest = null;
  let latestAt = -Infinity;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let count = 0;
  for (const p of Array.isArray(points) ? points : []) {
    const v = num(p && p.value);
    if (v === null) continue;
    const t = timeMs(p.timestamp);
    if (!Number.isNaN(t) ? t >= latestAt : latestAt === -Infinity) {
      latest = v;
      if (!Number.isNaN(t)) latestAt = t;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    count++;
  }
  if (!count) return { latest: null, latestAt: null, min: null, max: null, avg: null };
  return { latest, latestAt: latestAt === -Infinity ? null : latestAt, min, max, avg: sum / count };
}

const UNIT = { m: 60e3, h: 3600e3, d: 86400e3 };
/** Milliseconds of a range name like '15m', '1h', '24h', '7d' (1 min … 400 d); NaN otherwise. */
export function rangeMs(name) {
  const m = /^(\d{1,4})([mhd])$/.exec(typeof name === 'string' ? name : '');
  if (!m) return NaN;
  const ms = Number(m[1]) * UNIT[m[2]];
  return ms >= 60e3 && ms <= 400 * 86400e3 ? ms : NaN;
}

export const QUICK_RANGES = ['15m', '1h', '6h', '24h', '7d'];

/** `{ start, end }` (RFC 3339) of the last `name` ('15m', '1h', '6h', '24h', '7d', …) before `now`; null if unknown. */
export function quickRange(name, now = Date.now()) {
  const ms = rangeMs(name);
  const end = timeMs(now);
  if (Number.isNaN(ms) || Number.isNaN(end)) return null;
  return { start: toRFC3339(end - ms), end: toRFC3339(end) };
}

/**
 * The time range of a URL: `range` (a quick range name), else `start`/`end` (RFC 3339 or epoch ms).
 * → `{ start, end, range, error }` with RFC 3339 times; an invalid or missing range falls back to
 * the last `fallback` and names the problem in `error`.
 */
export function parseRange(query, { fallback = '1h', now = Date.now() } = {}) {
  const get = (k) => (query && typeof query.get === 'function' ? query.get(k) : query && query[k]) || '';
  const range = get('range');
  const start = get('start');
  const end = get('end');
  const fb = (error) => ({ ...quickRange(fallback, now), range: fallback, error });
  if (range) {
    const q = quickRange(range, now);
    return q ? { ...q, range, error: null } : fb(`unknown range "${range}"`);
  }
  if (!start && !end) return fb(null);
  const s = timeMs(start);
  const e = end ? timeMs(end) : timeMs(now);
  if (Number.isNaN(s)) return fb(`start "${start}" is not a time`);
  if (Number.isNaN(e)) return fb(`end "${end}" is not a time`);
  if (s >= e) return fb('start must be before end');
  return { start: toRFC3339(s), end: toRFC3339(e), range: null, error: null };
}

const STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
/** A round step in seconds giving at most `maxPoints` points over [start, end]. */
export function autoStep(start, end, maxPoints = 240) {
  const span = (timeMs(end) - timeMs(start)) / 1000;
  if (!(span > 0)) return 60;
  const want = span / maxPoints;
  return STEPS.find((s) => s >= want) || Math.ceil(want / 86400) * 86400;
}

/** [start, end] cut into `n` equal buckets `[{ start, end }]` (RFC 3339), oldest first. */
export function splitRange(start, end, n) {
  const s = timeMs(start);
  const e = timeMs(end);
  const k = Math.max(1, Math.floor(n) || 1);
  if (Number.isNaN(s) || Number.isNaN(e) || e <= s) return [];
  const out = [];
  for (let i = 0; i < k; i++) {
    out.push({ start: toRFC3339(Math.round(s + ((e - s) * i) / k)), end: toRFC3339(Math.round(s + ((e - s) * (i + 1)) / k)) });
  }
  return out;
}

/** `<input type="datetime-local">` value (local time, minutes) ↔ epoch ms. */
export function toLocalInput(value) {
  const ms = timeMs(value);
  if (Number.isNaN(ms)) return '';
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}
export function fromLocalInput(text) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text || '')) return NaN;
  const ms = new Date(text).getTime(); // no zone: local time
  return Number.isFinite(ms) ? ms : NaN;
}

/**
 * Runs `tasks` (functions returning promises) with at most `limit` at a time; results in order.
 * The first failure rejects and no further task is started.
 */
export async function bounded(tasks, limit = 4) {
  const out = new Array(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < tasks.length && !failed) {
      const i = next++;
      try {
        out[i] = await tasks[i]();
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}
