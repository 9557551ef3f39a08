// Pure helpers: a list screen's filter state ↔ URLSearchParams, driven by a small schema:
//   { q: { type: 'string' }, status: { type: 'list', values: ['open', …] },
//     sort: { type: 'enum', values: ['newest', 'oldest'], default: 'newest' },
//     refresh: { type: 'int', default: 30, min: 0 }, notes: { type: 'bool' } }
// Defaults are left out of the URL, so a clean list has a clean URL. Lists are written as one
// comma-joined value (`status=open,acknowledged`); repeated keys are read too.

const dflt = (spec) => {
  if (spec.default !== undefined) return Array.isArray(spec.default) ? [...spec.default] : spec.default;
  switch (spec.type) {
    case 'list': return [];
    case 'bool': return false;
    case 'int': return 0;
    default: return '';
  }
};

function decodeOne(spec, params, key) {
  const all = params.getAll(key);
  if (!all.length) return dflt(spec);
  const raw = all[all.length - 1].trim();
  switch (spec.type) {
    case 'list': {
      const seen = new Set();
      for (const part of all.flatMap((v) => v.split(','))) {
        const v = part.trim();
        if (v && (!spec.values || spec.values.includes(v))) seen.add(v);
      }
      return [...seen];
    }
    case 'enum':
      return spec.values.includes(raw) ? raw : dflt(spec);
    case 'int': {
      if (!/^-?\d+$/.test(raw)) return dflt(spec);
      const n = Number(raw);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return dflt(spec);
      if (spec.values && !spec.values.includes(n)) return dflt(spec);
      return n;
    }
    case 'bool':
      return raw === '1' || raw === 'true' || raw === 'yes';
    default:
      return raw;
  }
}

/** URLSearchParams (or a query string) → the state object of `schema`. */
export function decodeState(schema, params) {
  const p = typeof params === 'string' ? new URLSearchParams(params) : params || new URLSearchParams();
  const out = {};
  for (const [key, spec] of Object.entries(schema)) out[key] = decodeOne(spec, p, key);
  return out;
}

function isDefault(spec, value) {
  const d = dflt(spec);
  if (spec.type === 'list') return !value || value.length === 0 || (Array.isArray(d) && d.length === value.length && d.every((x, i) => x === value[i]));
  return value === undefined || value === null || value === d || (spec.type !== 'int' && spec.type !== 'bool' && value === '');
}

/**
 * The state written into URLSearchParams: keys of `schema` are set (or removed when default);
 * other keys of `base` are kept.
 */
export function encodeState(schema, state, base) {
  const p = new URLSearchParams(base ? base.toString() : '');
  for (const [key, spec] of Object.entries(schema)) {
    p.delete(key);
    const v = state[key];
    if (isDefault(spec, v)) continue;
    if (spec.type === 'list') p.set(key, v.join(','));
    else if (spec.type === 'bool') p.set(key, '1');
    else p.set(key, String(v));
  }
  return p;
}

/** '?a=1' or '' for a path. */
export function toSearch(params) {
  const s = params.toString();
  return s ? '?' + s : '';
}

/** True when every field of `state` is its default. */
export function isDefaultState(schema, state) {
  return Object.entries(schema).every(([k, spec]) => isDefault(spec, state[k]));
}

/** A list value with `item` added or removed. */
export function toggleIn(list, item) {
  return list.includes(item) ? list.filter((x) => x !== item) : [...list, item];
}
