// Incidents list: counters that filter, filters in the URL, server paging, auto-refresh, bulk
// acknowledge/resolve and list keys.
import { useEffect, useState } from 'preact/hooks';
import { api, apiPage } from '../lib/api.js';
import { useApi, useCursorPages, useDebounced, useListKeys } from '../lib/hooks.js';
import { Link, navigate, useLocation } from '../lib/router.js';
import { decodeState, encodeState, isDefaultState, toSearch, toggleIn } from '../lib/url_state.js';
import { loadServices } from '../lib/catalog.js';
import { DataTable, Empty, ErrorBox, Field, Loading, Page, Pager, SevPill, StatusPill, Time } from '../components/ui.jsx';
import { ServiceRef } from '../components/refs.jsx';

export const SEVERITIES = ['sev1', 'sev2', 'sev3', 'sev4', 'sev5'];
const SCHEMA = {
  q: { type: 'string' },
  status: { type: 'list', values: ['open', 'acknowledged', 'resolved'] },
  severity: { type: 'list', values: SEVERITIES },
  service: { type: 'string' },
  sort: { type: 'enum', values: ['newest', 'oldest'], default: 'newest' },
  refresh: { type: 'int', values: [0, 10, 30, 60], default: 30 },
};
const FILTERS = { q: SCHEMA.q, status: SCHEMA.status, severity: SCHEMA.severity, service: SCHEMA.service };
const COUNTERS = [
  { status: 'open', key: 'triggered', label: 'Triggered', tone: 'bad' },
  { status: 'acknowledged', key: 'acknowledged', label: 'Acknowledged', tone: 'warn' },
  { status: 'resolved', key: 'resolved', label: 'Resolved', tone: 'good' },
];
const enc = encodeURIComponent;
const PAGE = 50;

/** PATCHes each incident to `status`; answers { ok, failed: [{ id, error }] }. */
export async function setStatuses(ids, status) {
  const res = await Promise.allSettled(ids.map((id) => api(`/incidents/${enc(id)}`, { method: 'PATCH', body: { status } })));
  const failed = [];
  res.forEach((r, i) => r.status === 'rejected' && failed.push({ id: ids[i], error: r.reason }));
  return { ok: ids.length - failed.length, failed };
}

/** A search box that writes to the URL 250 ms after typing stops. */
export function SearchBox({ value, onChange, label = 'Search' }) {
  const [text, setText] = useState(value);
  const settled = useDebounced(text, 250);
  useEffect(() => {
    if (settled !== value) onChange(settled);
  }, [settled]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (value !== settled) setText(value);
  }, [value]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Field label={label}>
      <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="Title contains…" />
    </Field>
  );
}

/** A service picker from the catalog; free text when the catalog is too large to list. */
export function ServicePicker({ value, onChange, label = 'Service' }) {
  const svcs = useApi(() => loadServices(), []);
  const d = svcs.data;
  if (!d || d.truncated)
    return (
      <Field label={label}>
        <input type="text" value={value} placeholder="service id" onChange={(e) => onChange(e.currentTarget.value.trim())} />
      </Field>
    );
  return (
    <Field label={label}>
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">All services</option>
        {value && !d.byId.has(value) && <option value={value}>{value}</option>}
        {d.items.map((s) => (
          <option value={s.id} key={s.id}>
            {s.name || s.id}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function RefreshPicker({ value, onChange, onNow, busy }) {
  return (
    <div class="row">
      <Field label="Auto-refresh">
        <select value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))}>
          <option value="0">Off</option>
          <option value="10">10 s</option>
          <option value="30">30 s</option>
          <option value="60">60 s</option>
        </select>
      </Field>
      <button type="button" class="btn" onClick={onNow} disabled={busy}>
        {busy ? 'Refreshing…' : 'Refresh'}
      </button>
    </div>
  );
}

/** Outcome of a bulk action, in a live region. */
export function BulkResult({ result, verb }) {
  if (!result) return null;
  return (
    <div class={result.failed.length ? 'notice warn' : 'notice'} role="status">
      {verb} {result.ok} of {result.ok + result.failed.length}.
      {result.failed.length > 0 && (
        <ul>
          {result.failed.map((f) => (
            <li key={f.id}>
              {f.id}: {f.error && f.error.message}
              {f.error && f.error.requestId ? ` (request ${f.error.requestId})` : ''}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function IncidentList() {
  const { path, query } = useLocation();
  const f = decodeState(SCHEMA, query);
  const setF = (patch) => navigate(path + toSearch(encodeState(SCHEMA, { ...f, ...patch }, query)), { replace: true });
  const filterKey = JSON.stringify([f.q, f.status, f.severity, f.service, f.sort]);
  const pages = useCursorPages(filterKey);
  const refreshMs = f.refresh * 1000;

  const list = useApi(
    (signal) =>
      apiPage('/incidents/query', {
        method: 'POST',
        query: { sort: f.sort },
        after: pages.after,
        signal,
        body: {
          query: f.q || undefined,
          statuses: f.status.length ? f.status : undefined,
          severities: f.severity.length ? f.severity : undefined,
          scope: f.service ? { service: f.service } : {},
          limit: PAGE,
        },
      }),
    [filterKey, pages.after],
    { refreshMs },
  );
  const counts = useApi((signal) => api('/analytics/incident-counts', { query: { service: f.service }, signal }), [f.service], { refreshMs });

  const rows = (list.data && list.data.items) || [];
  const [sel, setSel] = useState(() => new Set());
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);


  const toggle = (id) => {
    const s = new Set(sel);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSel(s);
  };
  const act = async (ids, status) => {
    if (!ids.length || busy) return;
    setBusy(true);
    setResult(null);
    const r = await setStatuses(ids, status);
    setResult({ ...r, verb: status === 'resolved' ? 'Resolved' : 'Acknowledged' });
    setBusy(false);
    setSel(new Set());
    list.reload();
    counts.reload();
  };
  const keys = useListKeys({
    count: rows.length,
    onOpen: (i) => navigate(`/incidents/${enc(rows[i].id)}`),
    onAck: (i) => act([rows[i].id], 'acknowledged'),
    onResolve: (i) => act([rows[i].id], 'resolved'),
    onToggle: (i) => toggle(rows[i].id),
  });

  useEffect(() => {
    setSel(new Set());
    keys.setIndex(-1);
  }, [filterKey, pages.after]); // eslint-disable-line react-hooks/exhaustive-deps

  const allOnPage = rows.length > 0 && rows.every((r) => sel.has(r.id));
  const someOnPage = rows.some((r) => sel.has(r.id));
  const filtered = !isDefaultState(FILTERS, f);
  const c = counts.data;

  const columns = [
    {
      key: 'sel',
      className: 'w-check',
      label: (
        <input
          type="checkbox"
          aria-label="Select all on this page"
          checked={allOnPage}
          ref={(el) => el && (el.indeterminate = someOnPage && !allOnPage)}
          onChange={() => setSel(allOnPage ? new Set() : new Set(rows.map((r) => r.id)))}
        />
      ),
      render: (r) => <input type="checkbox" aria-label={`Select ${r.id}`} checked={sel.has(r.id)} onChange={() => toggle(r.id)} />,
    },
    { key: 'status', label: 'Status', render: (r) => <StatusPill status={r.status} /> },
    { key: 'severity', label: 'Severity', render: (r) => <SevPill severity={r.severity} /> },
    {
      key: 'title',
      label: 'Title',
      className: 'title',
      render: (r) => (
        <>
          <Link href={`/incidents/${enc(r.id)}`}>{r.title || '(no title)'}</Link>
          <div class="muted small">{r.id}</div>
        </>
      ),
    },
    { key: 'service', label: 'Service', render: (r) => <ServiceRef id={r.service} /> },
    { key: 'createdAt', label: 'Created', render: (r) => <Time value={r.createdAt} /> },
    { key: 'updatedAt', label: 'Updated', render: (r) => <Time value={r.updatedAt} /> },
  ];

  return (
    <Page title="Incidents">
      <div class="seg counters" role="group" aria-label="Status filter">
        {COUNTERS.map((x) => (
          <button
            type="button"
            key={x.status}
            class={`btn counter tone-border-${x.tone}`}
            aria-pressed={f.status.includes(x.status) ? 'true' : 'false'}
            onClick={() => setF({ status: toggleIn(f.status, x.status) })}
            title={counts.error ? `Counts unavailable: ${counts.error.message}` : undefined}
          >
            <b>{c && typeof c[x.key] === 'number' ? c[x.key] : '—'}</b>
            <span>{x.label}</span>
          </button>
        ))}
      </div>
      <div class="filters">
        <SearchBox value={f.q} onChange={(q) => setF({ q })} />
        <ServicePicker value={f.service} onChange={(service) => setF({ service })} />
        <div class="field">
          <span class="field-label" id="sev-label">
            Severity
          </span>
          <div class="seg" role="group" aria-labelledby="sev-label">
            {SEVERITIES.map((s) => (
              <button
                type="button"
                key={s}
                class="btn small"
                aria-pressed={f.severity.includes(s) ? 'true' : 'false'}
                onClick={() => setF({ severity: toggleIn(f.severity, s) })}
              >
                {s}
              </button>
            ))}
          </div>
        </div>
        <Field label="Sort">
          <select value={f.sort} onChange={(e) => setF({ sort: e.currentTarget.value })}>
            <option value="newest">Newest first</option>
            <option value="oldest">Oldest first</option>
          </select>
        </Field>
        <RefreshPicker value={f.refresh} onChange={(refresh) => setF({ refresh })} onNow={() => (list.reload(), counts.reload())} busy={list.loading} />
        {filtered && (
          <button type="button" class="btn ghost" onClick={() => setF({ q: '', status: [], severity: [], service: '' })}>
            Reset filters
          </button>
        )}
      </div>
      <div class="toolbar" aria-label="Bulk actions">
        <span>{sel.size ? `${sel.size} selected` : 'Select incidents for bulk actions'}</span>
        <button type="button" class="btn" disabled={!sel.size || busy} onClick={() => act([...sel], 'acknowledged')}>
          Acknowledge
        </button>
        <button type="button" class="btn" disabled={!sel.size || busy} onClick={() => act([...sel], 'resolved')}>
          Resolve
        </button>
        <span class="spacer" />
        <span class="kbd-help">
          <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>x</kbd> select · <kbd>a</kbd> acknowledge · <kbd>r</kbd> resolve
        </span>
      </div>
      <BulkResult result={result} verb={result && result.verb} />
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.data === undefined && !list.error ? (
        <Loading />
      ) : rows.length === 0 && !list.error ? (
        pages.page > 1 ? (
          <Empty>No more incidents on this page.</Empty>
        ) : filtered ? (
          <Empty>
            <p>No incidents match these filters.</p>
            <button type="button" class="btn" onClick={() => setF({ q: '', status: [], severity: [], service: '' })}>
              Reset filters
            </button>
          </Empty>
        ) : (
          <Empty>No incidents. All quiet.</Empty>
        )
      ) : (
        rows.length > 0 && (
          <DataTable
            caption="Incidents"
            columns={columns}
            rows={rows}
            selected={keys.index}
            onRowClick={(r, i) => keys.setIndex(i)}
          />
        )
      )}
      <Pager
        page={pages.page}
        hasPrev={pages.hasPrev}
        hasNext={!!(list.data && list.data.next)}
        onPrev={pages.prev}
        onNext={() => pages.next(list.data.next)}
        busy={list.loading}
      />
    </Page>
  );
}
