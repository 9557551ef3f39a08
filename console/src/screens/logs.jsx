// Logs: POST /logs/query → { entries, url }. The form lives in the URL (q, sev, service, range |
// start/end, limit) so incident pages can link here and a link reproduces the search.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { formatTime } from '../lib/format.js';
import { parseRange } from '../lib/series.js';
import { Empty, ErrorBox, ExtLink, KeyValue, Loading, Page, Pill } from '../components/ui.jsx';
import { RangePicker, listParam, logTone, patchQuery, prettyJson } from './ops_ui.jsx';

const SEVERITIES = ['debug', 'info', 'warn', 'error', 'critical'];
const LIMITS = [50, 100, 200, 500];

function LogEntry({ e }) {
  const json = prettyJson(e.message);
  const extra = { ...(e.labels || {}), ...(e.fields || {}) };
  const hasExtra = Object.keys(extra).length > 0 || (e.metadata && Object.keys(e.metadata).length > 0);
  return (
    <li class={`log log-${logTone(e.severity)}`}>
      <div class="log-head">
        <Pill tone={logTone(e.severity)}>{e.severity || 'log'}</Pill>
        <time class="mono small" dateTime={e.timestamp}>
          {formatTime(e.timestamp) || e.timestamp}
        </time>
        {e.service && <span class="small muted">{e.service}</span>}
      </div>
      {json !== null ? <pre class="code">{json}</pre> : <p class="log-msg">{String(e.message ?? '')}</p>}
      {hasExtra && (
        <details class="log-more">
          <summary>Labels and fields</summary>
          <KeyValue object={{ ...extra, ...(e.metadata ? { metadata: e.metadata } : {}) }} />
        </details>
      )}
    </li>
  );
}

export function Logs({ query }) {
  const q = query.get('q') || '';
  const sev = listParam(query.get('sev'));
  const service = query.get('service') || '';
  const limit = Number(query.get('limit')) || 100;
  const range = parseRange(query);
  const [text, setText] = useState(q);
  const [svc, setSvc] = useState(service);
  const [sevs, setSevs] = useState(sev);
  const [nonce, setNonce] = useState(0);
  const key = query.toString();
  useEffect(() => {
    setText(q);
    setSvc(service);
    setSevs(sev);
  }, [q, service, sev.join(',')]); // eslint-disable-line react-hooks/exhaustive-deps

  const { data, error, loading, reload } = useApi(
    (signal) => {
      const r = parseRange(new URLSearchParams(key)); // a quick range is "the last N" as of now
      const body = { expression: {}, start: r.start, end: r.end, scope: {}, limit };
      if (q) body.expression.search = q;
      if (sev.length) body.expression.severityIn = sev;
      if (service) body.scope.service = service;
      return api('/logs/query', { method: 'POST', body, signal });
    },
    [key, nonce],
  );

  const submit = (ev) => {
    ev.preventDefault();
    patchQuery('/logs', query, { q: text.trim(), service: svc.trim(), sev: sevs });
    setNonce((n) => n + 1);
  };
  // The contract answers { entries, url }; a bare array (older providers) is read too.
  const entries = Array.isArray(data) ? data : data && Array.isArray(data.entries) ? data.entries : [];

  return (
    <Page title="Logs" actions={data && <ExtLink url={data.url}>Open in log provider</ExtLink>}>
      <form class="card ops-form" onSubmit={submit} role="search" aria-label="Log search">
        <div class="filters">
          <label class="field grow">
            <span class="field-label">Search</span>
            <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="text to find" />
          </label>
          <label class="field">
            <span class="field-label">Service</span>
            <input value={svc} onInput={(e) => setSvc(e.currentTarget.value)} placeholder="any" />
          </label>
          <label class="field">
            <span class="field-label">Limit</span>
            <select value={String(limit)} onChange={(e) => patchQuery('/logs', query, { limit: e.currentTarget.value === '100' ? '' : e.currentTarget.value })}>
              {LIMITS.map((n) => (
                <option key={n} value={String(n)}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset class="checks">
          <legend>Severity</legend>
          {SEVERITIES.map((s) => (
            <label class="check" key={s}>
              <input
                type="checkbox"
                checked={sevs.includes(s)}
                onChange={(e) => setSevs(e.currentTarget.checked ? [...sevs, s] : sevs.filter((x) => x !== s))}
              />
              {s}
            </label>
          ))}
        </fieldset>
        <RangePicker
          value={range}
          onChange={(r) => {
            patchQuery('/logs', query, { range: r.range || '', start: r.start || '', end: r.end || '' });
            setNonce((n) => n + 1);
          }}
          ranges={['15m', '1h', '6h', '24h']}
        />
        <div class="row">
          <button type="submit" class="btn primary">
            Search
          </button>
          <span class="small muted">
            {formatTime(range.start)} – {formatTime(range.end)}
          </span>
        </div>
        {range.error && <p class="notice warn">Time range in the link ignored: {range.error}.</p>}
      </form>

      <ErrorBox error={error} retry={reload} />
      {loading && <Loading label="Searching logs…" />}
      {data && !entries.length && !loading && <Empty>No log entries match. Widen the time range or clear filters.</Empty>}
      {entries.length > 0 && (
        <>
          <p class="small muted" aria-live="polite">
            {entries.length} {entries.length === 1 ? 'entry' : 'entries'}
            {entries.length >= limit ? ` (the limit; raise it or narrow the search)` : ''}
          </p>
          <ol class="logs">
            {entries.map((e, i) => (
              <LogEntry e={e} key={i} />
            ))}
          </ol>
        </>
      )}
    </Page>
  );
}
