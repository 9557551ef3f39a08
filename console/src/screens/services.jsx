// Services: list; detail with SLA targets, quiet settings, open incidents and integrations
// (create a key, shown once; revoke).
import { useState } from 'preact/hooks';
import { api, apiPage } from '../lib/api.js';
import { useApi, useCursorPages } from '../lib/hooks.js';
import { Link, useQueryState } from '../lib/router.js';
import { formatDuration } from '../lib/format.js';
import {
  Confirm, DataTable, Empty, ErrorBox, ExtLink, Field, KeyValue, Loading, Modal, Page, Pager, Pill, SevPill, StatusPill, Time,
} from '../components/ui.jsx';
import { PolicyRef, TeamRef } from '../components/refs.jsx';
import { SearchBox } from './incidents.jsx';

const enc = encodeURIComponent;
const mins = (m) => (m ? formatDuration(m * 60) : 'off');
const secs = (s) => (s ? formatDuration(s) : '—');

export function ServiceList() {
  const [q, setQ] = useQueryState('q', '');
  const pages = useCursorPages(q);
  const list = useApi(
    (signal) => apiPage('/services/query', { method: 'POST', body: { name: q || undefined, limit: 50 }, after: pages.after, signal }),
    [q, pages.after],
  );
  const rows = (list.data && list.data.items) || [];
  return (
    <Page title="Services">
      <div class="filters">
        <SearchBox label="Name" value={q} onChange={setQ} />
      </div>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.data === undefined && !list.error ? (
        <Loading />
      ) : rows.length === 0 && !list.error ? (
        <Empty>{q ? 'No service has a name like that.' : 'No services yet.'}</Empty>
      ) : (
        rows.length > 0 && (
          <DataTable
            caption="Services"
            rows={rows}
            columns={[
              {
                key: 'name',
                label: 'Service',
                className: 'title',
                render: (s) => (
                  <>
                    <Link href={`/services/${enc(s.id)}`}>{s.name || s.id}</Link>
                    <div class="muted small">{(s.metadata && s.metadata.description) || s.id}</div>
                  </>
                ),
              },
              { key: 'team', label: 'Team', render: (s) => <TeamRef id={(s.tags && s.tags.team) || (s.metadata && s.metadata.team)} /> },
              { key: 'env', label: 'Environment', render: (s) => (s.tags && (s.tags.environment || s.tags.env)) || '—' },
              { key: 'tier', label: 'Tier', render: (s) => (s.tags && s.tags.tier) || '—' },
              { key: 'ack', label: 'Ack target', render: (s) => secs(s.metadata && s.metadata.ackTargetSeconds) },
              { key: 'res', label: 'Resolve target', render: (s) => secs(s.metadata && s.metadata.resolveTargetSeconds) },
              { key: 'url', label: '', render: (s) => <ExtLink url={s.url}>Open</ExtLink> },
            ]}
          />
        )
      )}
      <Pager page={pages.page} hasPrev={pages.hasPrev} hasNext={!!(list.data && list.data.next)} onPrev={pages.prev} onNext={() => pages.next(list.data.next)} busy={list.loading} />
    </Page>
  );
}

function OpenIncidents({ id }) {
  const r = useApi(
    (signal) => apiPage('/incidents/query', { method: 'POST', body: { statuses: ['open', 'acknowledged'], scope: { service: id }, limit: 10 }, signal }),
    [id],
    { refreshMs: 30000 },
  );
  if (r.error) return <ErrorBox error={r.error} retry={r.reload} />;
  if (!r.data) return <Loading />;
  if (!r.data.items.length) return <Empty>No open incidents.</Empty>;
  return (
    <>
      <ul class="list-plain">
        {r.data.items.map((i) => (
          <li key={i.id} class="row">
            <StatusPill status={i.status} />
            <SevPill severity={i.severity} />
            <Link href={`/incidents/${enc(i.id)}`}>{i.title || i.id}</Link>
            <span class="muted small">
              <Time value={i.createdAt} />
            </span>
          </li>
        ))}
      </ul>
      <p>
        <Link href={`/incidents?service=${enc(id)}&status=open,acknowledged`}>{r.data.next ? 'All open incidents of this service' : 'In the incident list'}</Link>
      </p>
    </>
  );
}

function CopyField({ label, value, multiline }) {
  const [done, setDone] = useState('');
  const copy = async (e) => {
    const box = e.currentTarget.parentElement.querySelector('input,textarea');
    try {
      await navigator.clipboard.writeText(value);
      setDone('Copied.');
    } catch {
      box.select();
      setDone(document.execCommand && document.execCommand('copy') ? 'Copied.' : 'Select the text and copy it.');
    }
  };
  return (
    <div class="field">
      <span class="field-label">{label}</span>
      <div class="secret">
        {multiline ? (
          <textarea class="mono" readOnly value={value} rows={value.split('\n').length} aria-label={label} onFocus={(e) => e.currentTarget.select()} />
        ) : (
          <input class="mono grow" readOnly value={value} aria-label={label} onFocus={(e) => e.currentTarget.select()} />
        )}
        <button type="button" class="btn" onClick={copy}>
          Copy
        </button>
      </div>
      <span class="field-hint" role="status">
        {done}
      </span>
    </div>
  );
}

function examples(kind, key) {
  const o = window.location.origin;
  if (kind === 'alertmanager') {
    const url = `${o}/integrations/alertmanager/${key}`;
    return [
      ['Alertmanager webhook URL', url, false],
      ['alertmanager.yml', `receivers:\n  - name: opsorch\n    webhook_configs:\n      - url: ${url}\n        send_resolved: true`, true],
      ['Send a test alert', `curl -X POST ${url}/api/v2/alerts \\\n  -H 'Content-Type: application/json' \\\n  -d '[{"labels":{"alertname":"OpsorchTest","severity":"critical"},"annotations":{"summary":"Test alert"}}]'`, true],
    ];
  }
  return [
    [
      'Trigger a test incident (PagerDuty Events API v2)',
      `curl -X POST ${o}/v2/enqueue \\\n  -H 'Content-Type: application/json' \\\n  -d '{"routing_key":"${key}","event_action":"trigger","dedup_key":"opsorch-test","payload":{"summary":"Test alert","source":"my-host","severity":"critical"}}'`,
      true,
    ],
    ['Resolve it', `curl -X POST ${o}/v2/enqueue \\\n  -H 'Content-Type: application/json' \\\n  -d '{"routing_key":"${key}","event_action":"resolve","dedup_key":"opsorch-test"}'`, true],
  ];
}

function CreateIntegration({ service, onClose, onCreated }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('events_v2');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api(`/admin/services/${enc(service)}/integrations`, { method: 'POST', body: { name: name.trim() || undefined, kind } });
      setCreated(r);
      onCreated();
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  if (created)
    return (
      <Modal
        wide
        title={`Key of ${created.name || created.id}`}
        onClose={onClose}
        footer={
          <button type="button" class="btn primary" onClick={onClose}>
            I have stored the key
          </button>
        }
      >
        <p class="notice warn">This key is shown only now. Store it where your sender reads it; opsorch keeps only its hash.</p>
        <CopyField label="Integration key" value={created.key} />
        {examples(created.kind, created.key).map(([label, text, multi]) => (
          <CopyField key={label} label={label} value={text} multiline={multi} />
        ))}
      </Modal>
    );
  return (
    <Modal title="Create an integration key" onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="Name" hint="Optional, e.g. the sending system">
          <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
        </Field>
        <Field label="Kind">
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="events_v2">PagerDuty Events API v2</option>
            <option value="alertmanager">Prometheus Alertmanager webhook</option>
          </select>
        </Field>
        <ErrorBox error={error} />
        <div class="row">
          <span class="spacer" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function Integrations({ service }) {
  const pages = useCursorPages(service);
  const list = useApi((signal) => apiPage(`/admin/services/${enc(service)}/integrations`, { query: { limit: 50 }, after: pages.after, signal }), [service, pages.after]);
  const [creating, setCreating] = useState(false);
  const [revoke, setRevoke] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const doRevoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/admin/integrations/${enc(revoke.id)}`, { method: 'DELETE' });
      setRevoke(null);
      list.reload();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const rows = (list.data && list.data.items) || [];
  return (
    <section class="card">
      <div class="row">
        <h2>Integrations</h2>
        <span class="spacer" />
        <button type="button" class="btn" onClick={() => setCreating(true)}>
          Create key
        </button>
      </div>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.data === undefined && !list.error ? (
        <Loading />
      ) : rows.length === 0 && !list.error ? (
        <Empty>No integrations: nothing can send events to this service yet.</Empty>
      ) : (
        rows.length > 0 && (
          <DataTable
            caption="Integrations"
            rows={rows}
            columns={[
              { key: 'name', label: 'Name', render: (x) => x.name || x.id },
              { key: 'kind', label: 'Kind', render: (x) => (x.kind === 'alertmanager' ? 'Alertmanager' : 'Events API v2') },
              { key: 'keyPrefix', label: 'Key', render: (x) => <code>{x.keyPrefix}…</code> },
              { key: 'createdAt', label: 'Created', render: (x) => <Time value={x.createdAt} /> },
              {
                key: 'state',
                label: 'State',
                render: (x) =>
                  x.revoked ? (
                    <Pill tone="muted">revoked</Pill>
                  ) : (
                    <button type="button" class="btn small danger" onClick={() => setRevoke(x)}>
                      Revoke
                    </button>
                  ),
              },
            ]}
          />
        )
      )}
      <Pager page={pages.page} hasPrev={pages.hasPrev} hasNext={!!(list.data && list.data.next)} onPrev={pages.prev} onNext={() => pages.next(list.data.next)} />
      {creating && <CreateIntegration service={service} onClose={() => setCreating(false)} onCreated={list.reload} />}
      {revoke && (
        <Confirm
          title={`Revoke ${revoke.name || revoke.id}?`}
          danger
          confirmLabel="Revoke"
          busy={busy}
          error={error}
          onConfirm={doRevoke}
          onCancel={() => {
            setRevoke(null);
            setError(null);
          }}
        >
          <p>
            The key <code>{revoke.keyPrefix}…</code> stops working at once. Senders using it get errors until they use a new key.
          </p>
        </Confirm>
      )}
    </section>
  );
}

export function ServiceDetail({ params }) {
  const id = params.id;
  const r = useApi((signal) => api(`/admin/services/${enc(id)}`, { signal }), [id]);
  if (r.error && !r.data)
    return (
      <Page title="Service">
        <ErrorBox error={r.error} retry={r.reload} />
        <Link href="/services">Back to services</Link>
      </Page>
    );
  if (!r.data) return <Loading />;
  const s = r.data;
  const hour = new Date(Date.now() - 3600e3).toISOString();
  const rel = `?service=${enc(s.id)}&start=${enc(hour)}&end=${enc(new Date().toISOString())}`;
  return (
    <Page
      title={s.name || s.id}
      sub={
        <>
          <span class="mono">{s.id}</span>
          {s.team && (
            <span>
              team <TeamRef id={s.team} />
            </span>
          )}
          <span>
            escalation {s.escalationPolicy ? <PolicyRef id={s.escalationPolicy} /> : <span class="muted">none: nobody is paged</span>}
          </span>
        </>
      }
    >
      {s.description && <p>{s.description}</p>}
      <nav class="row" aria-label="Related">
        <span class="muted">Last hour:</span>
        <Link href={`/logs${rel}`}>Logs</Link>
        <Link href={`/metrics${rel}`}>Metrics</Link>
        <Link href={`/alerts?service=${enc(s.id)}`}>Alerts</Link>
        <Link href={`/incidents?service=${enc(s.id)}`}>Incidents</Link>
      </nav>
      <div class="grid">
        <section class="card">
          <h2>SLA targets</h2>
          <dl class="kv">
            <dt>Acknowledge within</dt>
            <dd>{mins(s.ackTargetMinutes)}</dd>
            <dt>Resolve within</dt>
            <dd>{mins(s.resolveTargetMinutes)}</dd>
          </dl>
        </section>
        <section class="card">
          <h2>Quiet settings</h2>
          <dl class="kv">
            <dt>Re-page if acknowledged but not resolved after</dt>
            <dd>{mins(s.ackTimeoutMinutes)}</dd>
            <dt>Auto-resolve after</dt>
            <dd>{mins(s.autoResolveMinutes)}</dd>
            <dt>Mute intervals</dt>
            <dd>{s.muteIntervals && s.muteIntervals.length ? s.muteIntervals.join(', ') : 'none'}</dd>
          </dl>
        </section>
        <section class="card">
          <h2>Tags</h2>
          <KeyValue object={s.tags} />
        </section>
      </div>
      <section class="card">
        <h2>Open incidents</h2>
        <OpenIncidents id={s.id} />
      </section>
      <Integrations service={s.id} />
    </Page>
  );
}
