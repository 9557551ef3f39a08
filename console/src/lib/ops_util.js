// Pure helpers of the observe/operate screens (helper B; unit-tested, no DOM).
import { timeMs } from './series.js';

/** `path?k=v…` from an object; empty values (and empty arrays) are left out, arrays joined by commas. */
export function href(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length)) q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** `query` (URLSearchParams or text) with `patch` merged in (null/''/[] removes a key) → 'path?…'. */
export function patched(path, query, patch) {
  const q = new URLSearchParams(query);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) q.delete(k);
    else q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** A comma list from the URL → array of non-empty strings. */
export const listParam = (v) => (v ? String(v).split(',').map((x) => x.trim()).filter(Boolean) : []);

/** A provider time in ms, or null when missing or the zero time Go writes for "unset" (0001-01-01…). */
export function realTime(v) {
  const ms = timeMs(v);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

/** Log severity → tone: error/fatal… 'bad', warn 'warn', debug/trace 'muted', the rest 'info'. */
export function logTone(s) {
  const k = String(s || '').trim().toLowerCase();
  if (/^(fatal|crit|critical|emerg|emergency|alert|error|err|panic)$/.test(k)) return 'bad';
  if (/^warn(ing)?$/.test(k)) return 'warn';
  if (/^(debug|trace)$/.test(k)) return 'muted';
  return 'info';
}

/** An object message, or text that parses as a JSON object/array → pretty JSON; otherwise null. */
export function prettyJson(m) {
  if (m && typeof m === 'object') return JSON.stringify(m, null, 2);
  if (typeof m !== 'string') return null;
  const t = m.trim();
  if (!/^[[{]/.test(t)) return null;
  try {
    const v = JSON.parse(t);
    return v && typeof v === 'object' ? JSON.stringify(v, null, 2) : null;
  } catch {
    return null;
  }
}

/** Compact number: 1234 → '1.23k', 0.000123 → '1.23e-4', null → '—'. */
export function fmtNum(v, digits = 3) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return +(v / 1e9).toPrecision(digits) + 'G';
  if (a >= 1e6) return +(v / 1e6).toPrecision(digits) + 'M';
  if (a >= 1e4) return +(v / 1e3).toPrecision(digits) + 'k';
  if (a >= 1e3) return String(Math.round(v));
  if (a < 1e-3) return v.toExponential(digits - 1);
  return String(+v.toPrecision(digits));
}
