// Alerts (the engine's events): list with filters in the URL and server paging; detail.
import { api, apiPage } from '../lib/api.js';
import { useApi, useCursorPages, useListKeys } from '../lib/hooks.js';
import { Link, navigate, useLocation } from '../lib/router.js';
import { decodeState, encodeState, isDefaultState, toSearch, toggleIn } from '../lib/url_state.js';
import { DataTable, Empty, ErrorBox, ExtLink, KeyValue, Loading, Page, Pager, SevPill, StatusPill, Time } from '../components/ui.jsx';
import { ServiceRef } from '../components/refs.jsx';
import { RefreshPicker, SearchBox, ServicePicker } from './incidents.jsx';

const enc = encodeURIComponent;
const SEVS = ['sev1', 'sev2', 'sev3', 'sev4'];
const SCHEMA = {
  q: { type: 'string' },
  status: { type: 'list', values: ['firing', 'acknowledged', 'resolved'] },
  severity: { type: 'list', values: SEVS },
  service: { type: 'string' },
  refresh: { type: 'int', values: [0, 10, 30, 60], default: 30 },
};
const FILTERS = { q: SCHEMA.q, status: SCHEMA.status, severity: SCHEMA.severity, service: SCHEMA.service };

const alertTitle = (a) => a.title || `(${(a.fields && a.fields.action) || 'event'} ${(a.fields && a.fields.dedupKey) || ''})`.replace(' )', ')');

function Toggles({ label, values, selected, onChange }) {
  return (
    <div class="field">
      <span class="field-label">{label}</span>
      <div class="seg" role="group" aria-label={label}>
        {values.map((v) => (
          <button type="button" key={v} class="btn small" aria-pressed={selected.includes(v) ? 'true' : 'false'} onClick={() => onChange(toggleIn(selected, v))}>
            {v}
          </button>
        ))}
      </div>
    </div>
  );
}

export function AlertList() {
  const { path, query } = useLocation();
  const f = decodeState(SCHEMA, query);
  const setF = (patch) => navigate(path + toSearch(encodeState(SCHEMA, { ...f, ...patch }, query)), { replace: true });
  const filterKey = JSON.stringify([f.q, f.status, f.severity, f.service]);
  const pages = useCursorPages(filterKey);
  const list = useApi(
    (signal) =>
      apiPage('/alerts/query', {
        method: 'POST',
        after: pages.after,
        signal,
        body: {
          query: f.q || undefined,
          statuses: f.status.length ? f.status : undefined,
          severities: f.severity.length ? f.severity : undefined,
          scope: f.service ? { service: f.service } : {},
          limit: 50,
        },
      }),
    [filterKey, pages.after],
    { refreshMs: f.refresh * 1000 },
  );
  const rows = (list.data && list.data.items) || [];
  const keys = useListKeys({ count: rows.length, onOpen: (i) => navigate(`/alerts/${enc(rows[i].id)}`) });
  const filtered = !isDefaultState(FILTERS, f);
  const reset = () => setF({ q: '', status: [], severity: [], service: '' });
  return (
    <Page title="Alerts">
      <div class="filters">
        <SearchBox value={f.q} onChange={(q) => setF({ q })} />
        <ServicePicker value={f.service} onChange={(service) => setF({ service })} />
        <Toggles label="Status" values={SCHEMA.status.values} selected={f.status} onChange={(status) => setF({ status })} />
        <Toggles label="Severity" values={SEVS} selected={f.severity} onChange={(severity) => setF({ severity })} />
        <RefreshPicker value={f.refresh} onChange={(refresh) => setF({ refresh })} onNow={list.reload} busy={list.loading} />
        {filtered && (
          <button type="button" class="btn ghost" onClick={reset}>
            Reset filters
          </button>
        )}
      </div>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.data === undefined && !list.error ? (
        <Loading />
      ) : rows.length === 0 && !list.error ? (
        filtered ? (
          <Empty>
            <p>No alerts match these filters.</p>
            <button type="button" class="btn" onClick={reset}>
              Reset filters
            </button>
          </Empty>
        ) : (
          <Empty>No alerts.</Empty>
        )
      ) : (
        rows.length > 0 && (
          <DataTable
            caption="Alerts"
            rows={rows}
            selected={keys.index}
            onRowClick={(r, i) => keys.setIndex(i)}
            columns={[
              { key: 'status', label: 'Status', render: (a) => <StatusPill status={a.status} /> },
              { key: 'severity', label: 'Severity', render: (a) => <SevPill severity={a.severity} /> },
              {
                key: 'title',
                label: 'Title',
                className: 'title',
                render: (a) => (
                  <>
                    <Link href={`/alerts/${enc(a.id)}`}>{alertTitle(a)}</Link>
                    <div class="muted small">{a.id}</div>
                  </>
                ),
              },
              { key: 'service', label: 'Service', render: (a) => <ServiceRef id={a.service} /> },
              {
                key: 'incident',
                label: 'Incident',
                render: (a) => (a.fields && a.fields.incidentId ? <Link href={`/incidents/${enc(a.fields.incidentId)}`}>{a.fields.incidentId}</Link> : '—'),
              },
              { key: 'createdAt', label: 'Received', render: (a) => <Time value={a.createdAt} /> },
            ]}
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

export function AlertDetail({ params }) {
  const r = useApi((signal) => api(`/alerts/${enc(params.id)}`, { signal }), [params.id]);
  if (r.error && !r.data)
    return (
      <Page title="Alert">
        <ErrorBox error={r.error} retry={r.reload} />
        <Link href="/alerts">Back to alerts</Link>
      </Page>
    );
  if (!r.data) return <Loading />;
  const a = r.data;
  const incidentId = a.fields && a.fields.incidentId;
  const { fields, metadata, ...main } = a;
  return (
    <Page
      title={alertTitle(a)}
      sub={
        <>
          <span class="mono">{a.id}</span>
          <StatusPill status={a.status} />
          <SevPill severity={a.severity} />
          <span>
            service <ServiceRef id={a.service} />
          </span>
          <span>
            received <Time value={a.createdAt} />
          </span>
          {incidentId && (
            <span>
              incident <Link href={`/incidents/${enc(incidentId)}`}>{incidentId}</Link>
            </span>
          )}
          <ExtLink url={a.url} />
        </>
      }
    >
      {a.description && <pre class="card">{a.description}</pre>}
      <div class="grid">
        <div class="card">
          <h2>Alert</h2>
          <KeyValue object={main} />
        </div>
        <div class="card">
          <h2>Fields</h2>
          <KeyValue object={fields} />
        </div>
        <div class="card">
          <h2>Metadata</h2>
          <KeyValue object={metadata} />
        </div>
      </div>
    </Page>
  );
}
