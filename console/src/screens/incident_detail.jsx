// One incident: header and actions, the timeline (paged), alerts, notifications, SLA clocks,
// and links to logs and metrics around it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiPage } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link, useQueryState } from '../lib/router.js';
import { formatDuration, formatTime } from '../lib/format.js';
import { actorLabel, relatedSearch, slaClock, timelineKind } from '../lib/incident.js';
import {
  Confirm, DataTable, Empty, ErrorBox, ExtLink, Field, KeyValue, Loading, Modal, Page, Pill, SevPill,
  StatusPill, Tabs, Time,
} from '../components/ui.jsx';
import { PolicyRef, ServiceRef, TargetRef, UserRef } from '../components/refs.jsx';

const enc = encodeURIComponent;
const TABS = [
  { id: 'timeline', label: 'Timeline' },
  { id: 'alerts', label: 'Alerts' },
  { id: 'notifications', label: 'Notifications' },
  { id: 'sla', label: 'SLA' },
  { id: 'details', label: 'Details' },
];

function useTimeline(id) {
  const [st, setSt] = useState({ entries: [], next: null, loading: true, error: null });
  const seq = useRef(0);
  const load = async (after) => {
    const n = ++seq.current;
    setSt((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await apiPage(`/incidents/${enc(id)}/timeline`, { query: { limit: 50 }, after });
      if (n !== seq.current) return;
      setSt((s) => ({ entries: after ? [...s.entries, ...page.items] : page.items, next: page.next, loading: false, error: null }));
    } catch (error) {
      if (n === seq.current) setSt((s) => ({ ...s, loading: false, error }));
    }
  };
  useEffect(() => {
    load(null);
  }, [id]); // eslint-disable-line react-hooks/exhaustive-deps
  return { ...st, more: () => load(st.next), reload: () => load(null) };
}

function EntryMeta({ e }) {
  const m = e.metadata || {};
  const parts = [];
  if (m.coalesced && typeof m.coalesced === 'object') {
    parts.push(
      <span key="c">
        {m.coalesced.count} repeats, {formatTime(m.coalesced.firstAt)} – {formatTime(m.coalesced.lastAt)}
      </span>,
    );
  }
  if (m.person) parts.push(<span key="p">to <UserRef id={m.person} /></span>);
  if (m.channel) parts.push(<span key="ch">by {m.channel}{m.contactMethod ? ` (${m.contactMethod})` : ''}</span>);
  if (m.outcome || m.status) parts.push(<span key="o">{m.outcome || m.status}</span>);
  if (m.attempts > 1) parts.push(<span key="a">{m.attempts} attempts</span>);
  if (m.level !== undefined) parts.push(<span key="l">level {m.level}</span>);
  if (m.policy) parts.push(<span key="po">policy <PolicyRef id={m.policy} /></span>);
  if (Array.isArray(m.targets) && m.targets.length)
    parts.push(
      <span key="t">
        targets{' '}
        {m.targets.map((t, i) => (
          <span key={i}>
            {i > 0 && ', '}
            <TargetRef target={t} />
          </span>
        ))}
      </span>,
    );
  if (m.from && m.to) parts.push(<span key="ft">{m.from} → {m.to}{m.via ? ` (${m.via})` : ''}</span>);
  if (m.severityFrom && m.severityTo) parts.push(<span key="sv">{m.severityFrom} → {m.severityTo}</span>);
  if (m.reason) parts.push(<span key="r">reason: {m.reason}{m.by ? ` (${m.by})` : ''}</span>);
  if (m.until) parts.push(<span key="u">until {formatTime(m.until)}</span>);
  if (m.alertId) parts.push(<span key="al">alert <Link href={`/alerts/${enc(m.alertId)}`}>{m.alertId}</Link></span>);
  if (m.public) parts.push(<span key="pub">public</span>);
  const keys = Object.keys(m);
  return (
    <>
      {parts.length > 0 && <div class="tl-meta row">{parts}</div>}
      {keys.length > 0 && (
        <details class="tl-meta">
          <summary>Metadata</summary>
          <KeyValue object={m} />
        </details>
      )}
    </>
  );
}

function Timeline({ tl }) {
  const [notesOnly, setNotesOnly] = useQueryState('notes', '');
  const shown = notesOnly ? tl.entries.filter((e) => e.kind === 'note') : tl.entries;
  return (
    <section aria-label="Timeline">
      <div class="toolbar">
        <label class="check">
          <input type="checkbox" checked={!!notesOnly} onChange={(e) => setNotesOnly(e.currentTarget.checked ? '1' : '')} />
          Notes only
        </label>
        <span class="muted small">
          {tl.entries.length} entries loaded{tl.next ? ', more follow' : ''}
        </span>
      </div>
      {tl.error && <ErrorBox error={tl.error} retry={tl.entries.length ? tl.more : tl.reload} />}
      {tl.loading && !tl.entries.length ? (
        <Loading />
      ) : shown.length === 0 && !tl.error ? (
        <Empty>{notesOnly ? 'No notes among the loaded entries.' : 'The timeline is empty.'}</Empty>
      ) : (
        <ol class="timeline inc-tl">
          {shown.map((e) => {
            const k = timelineKind(e.kind);
            return (
              <li class="tl-item" key={e.id}>
                <span class={`tl-dot tone-${k.tone}`} aria-hidden="true">
                  {k.icon}
                </span>
                <div class="tl-head">
                  <span class={`tl-kind`}>{k.label}</span>
                  <Time value={e.at} />
                  <span class="muted">{actorLabel(e.actor)}</span>
                </div>
                {e.body && <pre class="tl-body">{e.body}</pre>}
                <EntryMeta e={e} />
              </li>
            );
          })}
        </ol>
      )}
      {tl.next && (
        <button type="button" class="btn" onClick={tl.more} disabled={tl.loading}>
          {tl.loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}

// The alerts route has no incident filter: page the service's alerts and keep this incident's.
function IncidentAlerts({ inc }) {
  const [st, setSt] = useState({ items: [], next: null, scanned: 0, loading: true, error: null });
  const load = async (after) => {
    setSt((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await apiPage('/alerts/query', {
        method: 'POST',
        after,
        body: { scope: inc.service ? { service: inc.service } : {}, limit: 50, metadata: { incidentId: inc.id } },
      });
      // The engine filters by metadata.incidentId; other providers ignore it, hence the check.
      const mine = page.items.filter((a) => (a.fields && a.fields.incidentId) === inc.id);
      setSt((s) => ({
        items: after ? [...s.items, ...mine] : mine,
        next: page.next,
        scanned: (after ? s.scanned : 0) + page.items.length,
        loading: false,
        error: null,
      }));
    } catch (error) {
      setSt((s) => ({ ...s, loading: false, error }));
    }
  };
  useEffect(() => {
    load(null);
  }, [inc.id]); // eslint-disable-line react-hooks/exhaustive-deps
  const columns = [
    { key: 'status', label: 'Status', render: (a) => <StatusPill status={a.status} /> },
    { key: 'severity', label: 'Severity', render: (a) => <SevPill severity={a.severity} /> },
    {
      key: 'title',
      label: 'Alert',
      className: 'title',
      render: (a) => <Link href={`/alerts/${enc(a.id)}`}>{a.title || `(${(a.fields && a.fields.action) || 'event'})`}</Link>,
    },
    { key: 'source', label: 'Source', render: (a) => (a.fields && a.fields.source) || '—' },
    { key: 'createdAt', label: 'At', render: (a) => <Time value={a.createdAt} /> },
  ];
  return (
    <section aria-label="Alerts">
      {st.error && <ErrorBox error={st.error} retry={() => load(null)} />}
      {st.loading && !st.items.length ? (
        <Loading />
      ) : st.items.length === 0 && !st.error ? (
        <Empty>No alerts of this incident{st.next ? ' on this page' : ''}.</Empty>
      ) : (
        st.items.length > 0 && <DataTable columns={columns} rows={st.items} caption="Alerts of this incident" />
      )}
      {st.next && (
        <p>
          <button type="button" class="btn" disabled={st.loading} onClick={() => load(st.next)}>
            Load older alerts
          </button>
        </p>
      )}
    </section>
  );
}

function Notifications({ id }) {
  const r = useApi((signal) => api(`/incidents/${enc(id)}/notifications`, { signal }), [id]);
  if (r.error) return <ErrorBox error={r.error} retry={r.reload} />;
  if (r.data === undefined) return <Loading />;
  const rows = r.data || [];
  if (!rows.length) return <Empty>Nobody has been notified about this incident.</Empty>;
  return (
    <DataTable
      caption="Notifications"
      rows={rows}
      columns={[
        { key: 'person', label: 'Person', render: (n) => <UserRef id={n.person} /> },
        { key: 'channel', label: 'Channel', render: (n) => `${n.channel || '—'}${n.contactMethod ? ` (${n.contactMethod})` : ''}` },
        { key: 'level', label: 'Level' },
        { key: 'status', label: 'Status', render: (n) => <StatusPill status={n.status} /> },
        { key: 'attempts', label: 'Attempts' },
        { key: 'dueAt', label: 'Due', render: (n) => <Time value={n.dueAt} /> },
        { key: 'sentAt', label: 'Sent', render: (n) => <Time value={n.sentAt} /> },
        { key: 'detail', label: 'Detail', className: 'title', render: (n) => n.detail || '' },
      ]}
    />
  );
}

const CLOCK_TONE = { met: 'good', breached: 'bad', running: 'info', overdue: 'bad', none: 'muted' };
function Clock({ label, clock }) {
  const { state, elapsed, target, left } = clock;
  let text = state;
  if (state === 'running' && left !== null) text = `${formatDuration(left)} left`;
  if (state === 'overdue') text = `${formatDuration(-left)} over`;
  return (
    <div class="card stat">
      <span class="stat-label">{label}</span>
      <span class="big">{elapsed === null ? '—' : formatDuration(elapsed)}</span>
      <span>
        target {target ? formatDuration(target) : 'none'} <Pill tone={CLOCK_TONE[state]}>{text}</Pill>
      </span>
      {target && elapsed !== null && (
        <meter min="0" max={target} low={target * 0.75} high={target} optimum="0" value={Math.min(elapsed, target)}>
          {Math.round((elapsed / target) * 100)}%
        </meter>
      )}
    </div>
  );
}

function SlaClocks({ inc, svc }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 15000);
    return () => clearInterval(t);
  }, []);
  const f = inc.fields || {};
  const s = svc.data;
  const resolvedAt = f.resolvedAt || (/resolved|closed/i.test(inc.status) ? inc.updatedAt : null);
  const ackAt = f.acknowledgedAt || resolvedAt;
  return (
    <section aria-label="SLA">
      {!inc.service && <p class="muted">This incident has no service, so no SLA targets.</p>}
      {svc.error && <ErrorBox error={svc.error} retry={svc.reload} />}
      <div class="grid">
        <Clock label="Time to acknowledge" clock={slaClock(inc.createdAt, ackAt, s && s.ackTargetMinutes * 60, now)} />
        <Clock label="Time to resolve" clock={slaClock(inc.createdAt, resolvedAt, s && s.resolveTargetMinutes * 60, now)} />
      </div>
      {s && (
        <p class="muted small">
          Targets of <ServiceRef id={s.id} />: acknowledge within {s.ackTargetMinutes} min, resolve within {s.resolveTargetMinutes} min.
        </p>
      )}
    </section>
  );
}

function NoteModal({ id, onClose, onDone }) {
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    if (!body.trim()) return;
    setBusy(true);
    try {
      await api(`/incidents/${enc(id)}/timeline`, { method: 'POST', body: { kind: 'note', body } });
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title="Add a note" onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="Note">
          <textarea value={body} onInput={(e) => setBody(e.currentTarget.value)} required autoFocus rows={6} />
        </Field>
        <ErrorBox error={error} />
        <div class="row">
          <span class="spacer" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy || !body.trim()}>
            {busy ? 'Adding…' : 'Add note'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

// Reassign to people or to an escalation policy: the new assignees are paged at once.
function ReassignModal({ id, onClose, onDone }) {
  const [kind, setKind] = useState('users');
  const [users, setUsers] = useState([]);
  const [policy, setPolicy] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const people = useApi((signal) => api('/admin/users', { query: { limit: 500 }, signal }), []);
  const policies = useApi((signal) => api('/admin/escalation-policies', { query: { limit: 500 }, signal }), []);
  const ready = kind === 'users' ? users.length > 0 : !!policy;
  const submit = async (e) => {
    e.preventDefault();
    if (!ready) return;
    setBusy(true);
    try {
      const body = kind === 'users' ? { users } : { escalationPolicy: policy };
      await api(`/incidents/${enc(id)}/reassign`, { method: 'POST', body });
      onDone(kind === 'users' ? `Reassigned to ${users.join(', ')}.` : `Reassigned to escalation policy ${policy}.`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const list = (st) => (Array.isArray(st.data) ? st.data : []);
  return (
    <Modal title="Reassign" onClose={onClose}>
      <form onSubmit={submit}>
        <fieldset class="row">
          <legend>Reassign to</legend>
          <label>
            <input type="radio" name="reassign-kind" checked={kind === 'users'} onChange={() => setKind('users')} /> people
          </label>
          <label>
            <input type="radio" name="reassign-kind" checked={kind === 'policy'} onChange={() => setKind('policy')} /> an escalation policy
          </label>
        </fieldset>
        {kind === 'users' ? (
          <Field label="People">
            <select
              multiple
              size={Math.min(8, Math.max(3, list(people).length))}
              onChange={(e) => setUsers(Array.from(e.currentTarget.selectedOptions, (o) => o.value))}
            >
              {list(people).map((p) => (
                <option value={p.id} selected={users.includes(p.id)}>
                  {p.name ? `${p.name} (${p.id})` : p.id}
                </option>
              ))}
            </select>
          </Field>
        ) : (
          <Field label="Escalation policy">
            <select value={policy} onChange={(e) => setPolicy(e.currentTarget.value)}>
              <option value="">Choose a policy</option>
              {list(policies).map((p) => (
                <option value={p.id}>{p.name ? `${p.name} (${p.id})` : p.id}</option>
              ))}
            </select>
          </Field>
        )}
        {(people.error || policies.error) && <ErrorBox error={people.error || policies.error} />}
        <p class="muted">They are paged at once; an acknowledged incident is open again.</p>
        <ErrorBox error={error} />
        <div class="row">
          <span class="spacer" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy || !ready}>
            {busy ? 'Reassigning…' : 'Reassign'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function IncidentDetail({ params }) {
  const id = params.id;
  const inc = useApi((signal) => api(`/incidents/${enc(id)}`, { signal }), [id], { refreshMs: 30000 });
  const service = inc.data && inc.data.service;
  const svc = useApi((signal) => (service ? api(`/admin/services/${enc(service)}`, { signal }) : Promise.resolve(null)), [service]);
  const tl = useTimeline(id);
  const [tab, setTab] = useQueryState('tab', 'timeline');
  const [dialog, setDialog] = useState(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState(null);
  const [notice, setNotice] = useState('');

  const refresh = () => {
    inc.reload();
    tl.reload();
  };
  const run = async (label, fn) => {
    setBusy(true);
    setActionError(null);
    setNotice('');
    try {
      await fn();
      setNotice(label);
      setDialog(null);
      refresh();
    } catch (e) {
      setActionError(e);
    }
    setBusy(false);
  };
  const patch = (status, label) => run(label, () => api(`/incidents/${enc(id)}`, { method: 'PATCH', body: { status } }));

  if (inc.error && !inc.data)
    return (
      <Page title="Incident">
        <ErrorBox error={inc.error} retry={inc.reload} />
        <Link href="/incidents">Back to incidents</Link>
      </Page>
    );
  if (!inc.data) return <Loading />;
  const i = inc.data;
  const st = String(i.status || '').toLowerCase();
  const resolved = st === 'resolved' || st === 'closed';
  const acked = resolved || ['acknowledged', 'investigating', 'mitigating', 'monitoring'].includes(st);

  return (
    <Page
      title={i.title || i.id}
      sub={
        <>
          <span class="mono">{i.id}</span>
          <StatusPill status={i.status} />
          <SevPill severity={i.severity} />
          {i.fields && i.fields.urgency && <span>{i.fields.urgency} urgency</span>}
          <span>
            service <ServiceRef id={i.service} />
          </span>
          <span>
            created <Time value={i.createdAt} />
          </span>
          <span>
            updated <Time value={i.updatedAt} />
          </span>
          <ExtLink url={i.url} />
        </>
      }
      actions={
        <>
          <button type="button" class="btn" disabled={busy || acked} onClick={() => patch('acknowledged', 'Acknowledged.')}>
            Acknowledge
          </button>
          <button type="button" class="btn" disabled={busy || resolved} onClick={() => patch('resolved', 'Resolved.')}>
            Resolve
          </button>
          <button type="button" class="btn" disabled={busy || resolved} onClick={() => setDialog('escalate')}>
            Escalate
          </button>
          <button type="button" class="btn" disabled={busy || resolved} onClick={() => setDialog('reassign')}>
            Reassign
          </button>
          <button type="button" class="btn primary" disabled={busy} onClick={() => setDialog('note')}>
            Add note
          </button>
        </>
      }
    >
      {inc.error && <ErrorBox error={inc.error} retry={inc.reload} />}
      {actionError && !dialog && <ErrorBox error={actionError} />}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {i.description && <pre class="card">{i.description}</pre>}
      <nav class="row" aria-label="Related">
        <span class="muted">Around this incident:</span>
        <Link href={`/logs${relatedSearch(i)}`}>Logs</Link>
        <Link href={`/metrics${relatedSearch(i)}`}>Metrics</Link>
        {i.service && <Link href={`/alerts?service=${enc(i.service)}`}>Alerts of the service</Link>}
      </nav>
      <Tabs tabs={TABS} active={tab} onChange={setTab} />
      <div role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'timeline' && <Timeline tl={tl} />}
        {tab === 'alerts' && <IncidentAlerts inc={i} />}
        {tab === 'notifications' && <Notifications id={id} />}
        {tab === 'sla' && <SlaClocks inc={i} svc={svc} />}
        {tab === 'details' && (
          <div class="grid">
            <div class="card">
              <h2>Fields</h2>
              <KeyValue object={i.fields} />
            </div>
            <div class="card">
              <h2>Metadata</h2>
              <KeyValue object={i.metadata} />
            </div>
          </div>
        )}
      </div>
      {dialog === 'note' && (
        <NoteModal
          id={id}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            setNotice('Note added.');
            setTab('timeline');
            refresh();
          }}
        />
      )}
      {dialog === 'reassign' && (
        <ReassignModal
          id={id}
          onClose={() => setDialog(null)}
          onDone={(label) => {
            setDialog(null);
            setNotice(label);
            setTab('timeline');
            refresh();
          }}
        />
      )}
      {dialog === 'escalate' && (
        <Confirm
          title="Escalate now?"
          confirmLabel="Escalate"
          busy={busy}
          error={actionError}
          onCancel={() => {
            setDialog(null);
            setActionError(null);
          }}
          onConfirm={() => run('Escalated to the next level.', () => api(`/admin/incidents/${enc(id)}/escalate`, { method: 'POST' }))}
        >
          <p>The next level of the escalation policy is paged at once.</p>
        </Confirm>
      )}
    </Page>
  );
}
