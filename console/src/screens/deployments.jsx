// Deployments: POST /deployments/query with service/environment/status/text filters (in the URL);
// views list / timeline / stats; detail GET /deployments/{id}.
import { useEffect, useState } from 'preact/hooks';
import { api, apiPage } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link, navigate } from '../lib/router.js';
import { formatDuration, formatTime, statusTone } from '../lib/format.js';
import { toRFC3339 } from '../lib/series.js';
import { DataTable, Empty, ErrorBox, ExtLink, KeyValue, Loading, Page, Pager, Pill, StatusPill, Tabs } from '../components/ui.jsx';
import { Tile, When, href, patchQuery, realTime } from './ops_ui.jsx';

const STATUSES = ['', 'queued', 'running', 'success', 'failed', 'cancelled'];
const VIEWS = [{ id: 'list', label: 'List' }, { id: 'timeline', label: 'Timeline' }, { id: 'stats', label: 'Stats' }];
const PAGE = 100;
const dhref = (d) => `/deployments/${encodeURIComponent(d.id)}`;

function duration(d) {
  const s = realTime(d.startedAt);
  const f = realTime(d.finishedAt);
  return s !== null && f !== null && f >= s ? formatDuration((f - s) / 1000) : '';
}
const actorName = (a) => (a && typeof a === 'object' ? a.name || a.id || '' : typeof a === 'string' ? a : '');
const kind = (d) => d.metadata && typeof d.metadata.deployment_type === 'string' && d.metadata.deployment_type;

function Timeline({ rows }) {
  const sorted = [...rows].sort((a, b) => (realTime(b.startedAt) || 0) - (realTime(a.startedAt) || 0));
  const days = [];
  for (const d of sorted) {
    const day = (formatTime(realTime(d.startedAt)) || 'unknown date').slice(0, 10);
    if (!days.length || days[days.length - 1].day !== day) days.push({ day, items: [] });
    days[days.length - 1].items.push(d);
  }
  return days.map((g) => (
    <section key={g.day}>
      <h2 class="small">{g.day}</h2>
      <ol class="timeline">
        {g.items.map((d) => (
          <li class="tl-item" key={d.id}>
            <span class={`tl-dot tone-${statusTone(d.status)}`} aria-hidden="true" />
            <div class="tl-head">
              <span class="mono small">{formatTime(realTime(d.startedAt)).slice(11)}</span>
              <Link href={dhref(d)} class="tl-kind">
                {d.service || d.id} {d.version && <span class="mono">{d.version}</span>}
              </Link>
              {d.environment && <Pill tone="muted">{d.environment}</Pill>}
              <StatusPill status={d.status} />
              {kind(d) && <Pill tone="info">{kind(d)}</Pill>}
            </div>
            <div class="tl-meta">
              {[actorName(d.actor), duration(d) && `took ${duration(d)}`, d.fields && d.fields.description].filter(Boolean).join(' · ')}
            </div>
          </li>
        ))}
      </ol>
    </section>
  ));
}

function Stats({ rows }) {
  const by = (s) => rows.filter((d) => d.status === s).length;
  const services = new Set(rows.map((d) => d.service).filter(Boolean));
  const envs = new Set(rows.map((d) => d.environment).filter(Boolean));
  const perService = [...services].sort().map((s) => {
    const ds = rows.filter((d) => d.service === s);
    return { id: s, total: ds.length, success: ds.filter((d) => d.status === 'success').length, failed: ds.filter((d) => d.status === 'failed').length };
  });
  return (
    <>
      <div class="tiles">
        <Tile label="Total" value={rows.length} />
        <Tile label="Success" value={by('success')} tone="good" />
        <Tile label="Failed" value={by('failed')} tone={by('failed') ? 'bad' : undefined} />
        <Tile label="Running" value={by('running')} tone={by('running') ? 'info' : undefined} />
        <Tile label="Services" value={services.size} />
        <Tile label="Environments" value={envs.size} sub={[...envs].sort().join(', ')} />
      </div>
      {perService.length > 0 && (
        <DataTable
          caption="Deployments per service"
          rows={perService}
          columns={[
            { key: 'id', label: 'Service', render: (r) => <Link href={href('/deployments', { service: r.id, view: 'list' })}>{r.id}</Link> },
            { key: 'total', label: 'Total' },
            { key: 'success', label: 'Success' },
            { key: 'failed', label: 'Failed' },
          ]}
        />
      )}
    </>
  );
}

export function Deployments({ query }) {
  const q = query.get('q') || '';
  const service = query.get('service') || '';
  const env = query.get('env') || '';
  const status = query.get('status') || '';
  const view = VIEWS.some((v) => v.id === query.get('view')) ? query.get('view') : 'list';
  const [f, setF] = useState({ q, service, env });
  useEffect(() => setF({ q, service, env }), [q, service, env]);
  const fkey = [q, service, env, status].join('|');
  const [pg, setPg] = useState({ fkey, cursors: [null] });
  const pages = pg.fkey === fkey ? pg.cursors : [null];
  const after = pages[pages.length - 1];
  const { data, error, loading, reload } = useApi(
    (signal) => {
      const body = { scope: {}, limit: PAGE };
      if (q) body.query = q;
      if (status) body.statuses = [status];
      if (service) body.scope.service = service;
      if (env) body.scope.environment = env;
      return apiPage('/deployments/query', { method: 'POST', body, after, signal });
    },
    [fkey, after],
  );
  const rows = (data && data.items) || [];
  const upd = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const columns = [
    { key: 'id', label: 'Deployment', render: (d) => <Link href={dhref(d)}>{d.id}</Link> },
    { key: 'service', label: 'Service' },
    { key: 'environment', label: 'Env' },
    { key: 'version', label: 'Version', render: (d) => <span class="mono">{d.version || '—'}</span> },
    { key: 'status', label: 'Status', render: (d) => <><StatusPill status={d.status} /> {kind(d) && <Pill tone="info">{kind(d)}</Pill>}</> },
    { key: 'startedAt', label: 'Started', render: (d) => <When value={d.startedAt} /> },
    { key: 'dur', label: 'Duration', render: (d) => duration(d) || '—' },
    { key: 'actor', label: 'By', render: (d) => actorName(d.actor) || '—' },
    { key: 'url', label: 'Provider', render: (d) => <ExtLink url={d.url}>Open</ExtLink> },
  ];
  return (
    <Page title="Deployments">
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          patchQuery('/deployments', query, { q: f.q.trim(), service: f.service.trim(), env: f.env.trim() });
        }}
      >
        <label class="field">
          <span class="field-label">Search</span>
          <input type="search" value={f.q} onInput={upd('q')} />
        </label>
        <label class="field">
          <span class="field-label">Service</span>
          <input value={f.service} onInput={upd('service')} placeholder="any" />
        </label>
        <label class="field">
          <span class="field-label">Environment</span>
          <input value={f.env} onInput={upd('env')} placeholder="any" />
        </label>
        <label class="field">
          <span class="field-label">Status</span>
          <select value={status} onChange={(e) => patchQuery('/deployments', query, { status: e.currentTarget.value })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="btn">
          Filter
        </button>
      </form>
      <Tabs tabs={VIEWS} active={view} onChange={(v) => patchQuery('/deployments', query, { view: v === 'list' ? '' : v })} />
      <div role="tabpanel" aria-labelledby={`tab-${view}`}>
        <ErrorBox error={error} retry={reload} />
        {loading && !data && <Loading />}
        {data && !rows.length && <Empty>No deployments{fkey !== '|||' ? ' match these filters' : ''}.</Empty>}
        {rows.length > 0 && view === 'list' && <DataTable caption="Deployments" columns={columns} rows={rows} onRowClick={(d) => navigate(dhref(d))} />}
        {rows.length > 0 && view === 'timeline' && <Timeline rows={rows} />}
        {rows.length > 0 && view === 'stats' && <Stats rows={rows} />}
        {data && data.next && view !== 'list' && <p class="small muted">Figures cover this page of {rows.length} deployments.</p>}
        <Pager
          page={pages.length}
          hasPrev={pages.length > 1}
          hasNext={!!(data && data.next)}
          busy={loading}
          onPrev={() => setPg({ fkey, cursors: pages.slice(0, -1) })}
          onNext={() => setPg({ fkey, cursors: [...pages, data.next] })}
        />
      </div>
    </Page>
  );
}

export function DeploymentDetail({ params }) {
  const id = params.id;
  const { data: d, error, loading, reload } = useApi((signal) => api(`/deployments/${encodeURIComponent(id)}`, { signal }), [id]);
  if (!d) return <Page title={`Deployment ${id}`}>{loading ? <Loading /> : <ErrorBox error={error} retry={reload} />}</Page>;
  const s = realTime(d.startedAt);
  const f = realTime(d.finishedAt);
  const around = s !== null ? { start: toRFC3339(s - 15 * 60e3), end: toRFC3339((f !== null ? f : Date.now()) + 15 * 60e3) } : {};
  const fields = d.fields || {};
  return (
    <Page
      title={`${d.service || d.id}${d.version ? ' ' + d.version : ''}`}
      sub={
        <>
          <span class="mono">{d.id}</span>
          <StatusPill status={d.status} />
          {d.environment && <Pill tone="muted">{d.environment}</Pill>}
          <ExtLink url={d.url}>Open in deployment provider</ExtLink>
        </>
      }
      actions={<Link href="/deployments">All deployments</Link>}
    >
      <ErrorBox error={error} retry={reload} />
      <div class="grid">
        <section class="card">
          <h2>Deployment</h2>
          <dl class="kv">
            <div class="kv-row"><dt>Service</dt><dd>{d.service || '—'}</dd></div>
            <div class="kv-row"><dt>Environment</dt><dd>{d.environment || '—'}</dd></div>
            <div class="kv-row"><dt>Version</dt><dd class="mono">{d.version || '—'}</dd></div>
            <div class="kv-row"><dt>Started</dt><dd><When value={d.startedAt} /></dd></div>
            <div class="kv-row"><dt>Finished</dt><dd>{f !== null ? <When value={d.finishedAt} /> : 'not yet'}</dd></div>
            <div class="kv-row"><dt>Duration</dt><dd>{duration(d) || '—'}</dd></div>
            <div class="kv-row"><dt>By</dt><dd>{actorName(d.actor) || '—'}{d.actor && d.actor.type ? ` (${d.actor.type})` : ''}</dd></div>
            {typeof fields.incidentId === 'string' && (
              <div class="kv-row"><dt>Incident</dt><dd><Link href={`/incidents/${encodeURIComponent(fields.incidentId)}`}>{fields.incidentId}</Link></dd></div>
            )}
          </dl>
          {d.service && (
            <p class="row">
              <Link href={href('/logs', { service: d.service, ...around })}>Logs around this deployment</Link>
              <Link href={href('/metrics', { service: d.service, ...around })}>Metrics around it</Link>
            </p>
          )}
        </section>
        <section class="card">
          <h2>Fields</h2>
          <KeyValue object={d.fields} />
          <h2>Metadata</h2>
          <KeyValue object={d.metadata} />
        </section>
      </div>
    </Page>
  );
}
