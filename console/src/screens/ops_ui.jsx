// Small pieces shared by the observe/operate screens (helper B).
import { useState } from 'preact/hooks';
import { navigate } from '../lib/router.js';
import { patched, realTime } from '../lib/ops_util.js';
import { formatTime } from '../lib/format.js';
import { QUICK_RANGES, fromLocalInput, toLocalInput, toRFC3339 } from '../lib/series.js';

export { href, listParam, logTone, prettyJson, realTime } from '../lib/ops_util.js';

/** Replaces the current URL's query with `patch` merged in (null/'' removes a key). */
export function patchQuery(path, query, patch, { push = false } = {}) {
  navigate(patched(path, query, patch), { replace: !push });
}

/** Absolute local time, '—' when unset. */
export function When({ value }) {
  const ms = realTime(value);
  if (ms === null) return <span class="muted">—</span>;
  return <time dateTime={toRFC3339(ms)}>{formatTime(ms)}</time>;
}

/**
 * Quick ranges and a custom start/end. value `{ range, start, end }` (range: a quick name, or
 * null for a custom range); onChange gets `{ range }` or `{ start, end }` (RFC 3339).
 */
export function RangePicker({ value, onChange, ranges = QUICK_RANGES }) {
  const [custom, setCustom] = useState(!value.range);
  const [from, setFrom] = useState(toLocalInput(value.start));
  const [to, setTo] = useState(toLocalInput(value.end));
  const [err, setErr] = useState('');
  const apply = () => {
    const s = fromLocalInput(from);
    const e = fromLocalInput(to);
    if (Number.isNaN(s) || Number.isNaN(e)) return setErr('Enter a start and an end.');
    if (s >= e) return setErr('The start must be before the end.');
    setErr('');
    onChange({ start: toRFC3339(s), end: toRFC3339(e) });
  };
  return (
    <fieldset class="range">
      <legend>Time range</legend>
      <div class="seg">
        {ranges.map((r) => (
          <button
            type="button"
            class="btn small"
            key={r}
            aria-pressed={!custom && value.range === r ? 'true' : 'false'}
            onClick={() => {
              setCustom(false);
              onChange({ range: r });
            }}
          >
            {r}
          </button>
        ))}
        <button type="button" class="btn small" aria-pressed={custom ? 'true' : 'false'}
          onClick={() => {
            setFrom(toLocalInput(value.start));
            setTo(toLocalInput(value.end));
            setCustom(true);
          }}
        >
          Custom
        </button>
      </div>
      {custom && (
        <div class="range-custom">
          <label class="field">
            <span class="field-label">From</span>
            <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">To</span>
            <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          <button type="button" class="btn" onClick={apply}>
            Apply
          </button>
          {err && (
            <span class="range-err" role="alert">
              {err}
            </span>
          )}
        </div>
      )}
    </fieldset>
  );
}

/** A labelled progress bar "k/n steps (p%)". */
export function Progress({ done, total, percent }) {
  return (
    <div class="progress">
      <progress max={total || 1} value={done} aria-label="Steps done" />
      <span>
        {done}/{total} steps ({percent}%)
      </span>
    </div>
  );
}

/** A figure tile: label over a big value. */
export function Tile({ label, value, sub, tone }) {
  return (
    <div class={tone ? `tile tone-${tone}` : 'tile'}>
      <span class="stat-label">{label}</span>
      <b class="tile-value">{value}</b>
      {sub && <span class="small muted">{sub}</span>}
    </div>
  );
}
