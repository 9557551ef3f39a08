// Home: what needs attention now. Each widget is one request (providers: one per capability),
// all in parallel.
import { api, apiPage } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { formatTime } from '../lib/format.js';
import { Empty, ErrorBox, Loading, Page, Pill, SevPill, StatusPill, Time } from '../components/ui.jsx';
import { PolicyRef, UserRef } from '../components/refs.jsx';
import { groupByPolicy } from './oncall.jsx';
import { HealthPill, loadProviders } from './settings.jsx';

const enc = encodeURIComponent;
const R = { refreshMs: 30000 };
const more = (p) => `${p.items.length}${p.next ? '+' : ''}`;

function Widget({ title, state, children, link }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {state.error ? <ErrorBox error={state.error} retry={state.reload} /> : state.data === undefined ? <Loading /> : children}
      {link}
    </section>
  );
}

function Counts() {
  const r = useApi((signal) => api('/analytics/incident-counts', { signal }), [], R);
  const c = r.data;
  const items = [
    ['Triggered', 'triggered', 'open', 'bad'],
    ['Acknowledged', 'acknowledged', 'acknowledged', 'warn'],
    ['Resolved', 'resolved', 'resolved', 'good'],
  ];
  return (
    <section class="card">
      <h2>Incidents</h2>
      {r.error ? (
        <p class="muted">Counts are not available{r.error.status === 404 ? ' on this server' : `: ${r.error.message}`}.</p>
      ) : !c ? (
        <Loading />
      ) : (
        <div class="row">
          {items.map(([label, key, status, tone]) => (
            <Link key={key} class={`btn counter tone-border-${tone}`} href={`/incidents?status=${status}`}>
              <b>{typeof c[key] === 'number' ? c[key] : '—'}</b>
              <span>{label}</span>
            </Link>
          ))}
        </div>
      )}
    </section>
  );
}

function NewestOpen() {
  const r = useApi((signal) => apiPage('/incidents/query', { method: 'POST', body: { statuses: ['open', 'acknowledged'], limit: 5 }, signal }), [], R);
  return (
    <Widget title="Newest open incidents" state={r} link={<Link href="/incidents?status=open,acknowledged">All open incidents</Link>}>
      {r.data && !r.data.items.length ? (
        <Empty>No open incidents.</Empty>
      ) : (
        <ul class="list-plain">
          {(r.data ? r.data.items : []).map((i) => (
            <li key={i.id} class="row">
              <SevPill severity={i.severity} />
              <StatusPill status={i.status} />
              <Link href={`/incidents/${enc(i.id)}`}>{i.title || i.id}</Link>
              <span class="muted small">
                <Time value={i.createdAt} />
              </span>
            </li>
          ))}
        </ul>
      )}
    </Widget>
  );
}

function Firing() {
  const r = useApi((signal) => apiPage('/alerts/query', { method: 'POST', body: { statuses: ['firing'], limit: 100 }, signal }), [], R);
  return (
    <Widget title="Firing alerts" state={r} link={<Link href="/alerts?status=firing">Firing alerts</Link>}>
      {r.data && (
        <p>
          <span class="big">{more(r.data)}</span> trigger events
        </p>
      )}
    </Widget>
  );
}

function Blocked() {
  const r = useApi((signal) => apiPage('/orchestration/runs/query', { method: 'POST', body: { statuses: ['blocked'], limit: 100 }, signal }), [], R);
  return (
    <Widget title="Runs" state={r}>
      {r.data &&
        (r.data.items.length ? (
          <p>
            <Link href="/orchestration/runs?status=blocked">
              <span class="big">{more(r.data)}</span> {r.data.items.length === 1 && !r.data.next ? 'run' : 'runs'} blocked waiting for manual action
            </Link>
          </p>
        ) : (
          <p class="muted">No run is waiting for manual action.</p>
        ))}
    </Widget>
  );
}

function OnCallNow() {
  const r = useApi((signal) => api('/oncalls', { signal }), [], { refreshMs: 60000 });
  const groups = groupByPolicy(r.data || []);
  return (
    <Widget title="On call now" state={r} link={<Link href="/oncall">On-call details</Link>}>
      {!groups.length ? (
        <Empty>Nobody is on call.</Empty>
      ) : (
        <ul class="list-plain">
          {groups.map((g) => (
            <li key={g.policy.id}>
              <PolicyRef id={g.policy.id} name={g.policy.name} />
              {g.levels.map(([level, rows]) => (
                <div key={level} class="small">
                  L{level}:{' '}
                  {rows.map((o, i) => (
                    <span key={i}>
                      {i > 0 && ', '}
                      <UserRef id={o.user && o.user.id} name={o.user && o.user.name} />
                      {o.end && <span class="muted" title={formatTime(o.end)}> until <Time value={o.end} /></span>}
                    </span>
                  ))}
                </div>
              ))}
            </li>
          ))}
        </ul>
      )}
    </Widget>
  );
}

function Health() {
  const h = useApi((signal) => api('/health', { signal }), [], R);
  const p = useApi((signal) => loadProviders(signal), []);
  const caps = p.data ? Object.entries(p.data) : [];
  const missing = caps.filter(([, x]) => x.error || !x.providers.length).map(([c]) => c);
  return (
    <section class="card">
      <h2>Health</h2>
      <p>
        Server <HealthPill health={h.data} error={h.error} />
      </p>
      {p.error ? (
        <ErrorBox error={p.error} retry={p.reload} />
      ) : !p.data ? (
        <Loading />
      ) : missing.length ? (
        <p>
          <Pill tone="warn">{missing.length}</Pill> capabilities without providers: {missing.join(', ')}
        </p>
      ) : (
        <p>All {caps.length} capabilities have providers.</p>
      )}
      <Link href="/settings">Providers & health</Link>
    </section>
  );
}

export function Home() {
  return (
    <Page title="Home">
      <div class="grid">
        <Counts />
        <NewestOpen />
        <Firing />
        <Blocked />
        <OnCallNow />
        <Health />
      </div>
    </Page>
  );
}
