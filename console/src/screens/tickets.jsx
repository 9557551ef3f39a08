// Tickets: list (POST /tickets/query, 25 a page, cursor paging when the provider sends one),
// create (POST /tickets, then PATCH the assignees: CreateTicketInput has no assignees), detail
// with a status change (PATCH /tickets/{id} {status}).
import { useEffect, useState } from 'preact/hooks';
import { api, apiPage } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link, navigate } from '../lib/router.js';
import {
  DataTable, Empty, ErrorBox, ExtLink, Field, KeyValue, Loading, Modal, Page, Pager, StatusPill, Time,
} from '../components/ui.jsx';
import { When, patchQuery } from './ops_ui.jsx';

const FILTER_STATUSES = ['', 'open', 'todo', 'in_progress', 'resolved', 'done', 'closed'];
const SET_STATUSES = ['open', 'in_progress', 'resolved', 'closed'];
const PAGE = 25;
const split = (s) => s.split(/[,\s]+/).map((x) => x.trim()).filter(Boolean);

function CreateTicket({ onClose }) {
  const [f, setF] = useState({ title: '', description: '', assignees: '', reporter: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const upd = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = async (e) => {
    e.preventDefault();
    if (!f.title.trim()) return setError(new Error('A title is needed.'));
    setBusy(true);
    setError(null);
    try {
      const body = { title: f.title.trim() };
      if (f.description.trim()) body.description = f.description.trim();
      if (f.reporter.trim()) body.fields = { reporter: f.reporter.trim() };
      const t = await api('/tickets', { method: 'POST', body });
      const assignees = split(f.assignees);
      if (assignees.length && t && t.id) await api(`/tickets/${encodeURIComponent(t.id)}`, { method: 'PATCH', body: { assignees } });
      onClose();
      if (t && t.id) navigate(`/tickets/${encodeURIComponent(t.id)}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal
      title="New ticket"
      onClose={onClose}
      footer={
        <>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="ticket-new" class="btn primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        </>
      }
    >
      <form id="ticket-new" onSubmit={submit}>
        <Field label="Title">
          <input value={f.title} onInput={upd('title')} required maxLength={300} />
        </Field>
        <Field label="Description">
          <textarea value={f.description} onInput={upd('description')} rows={5} />
        </Field>
        <Field label="Assignees" hint="Comma-separated ids or e-mail addresses">
          <input value={f.assignees} onInput={upd('assignees')} />
        </Field>
        <Field label="Reporter" hint="Stored in the ticket's fields (the create call has no reporter)">
          <input value={f.reporter} onInput={upd('reporter')} />
        </Field>
      </form>
      <ErrorBox error={error} />
    </Modal>
  );
}

export function Tickets({ query }) {
  const q = query.get('q') || '';
  const status = query.get('status') || '';
  const [text, setText] = useState(q);
  const fkey = `${q}|${status}`;
  const [pg, setPg] = useState({ fkey, cursors: [null] }); // cursors of the pages seen, per filter
  const pages = pg.fkey === fkey ? pg.cursors : [null];
  const setPages = (cursors) => setPg({ fkey, cursors });
  const [creating, setCreating] = useState(false);
  useEffect(() => setText(q), [q]);
  const after = pages[pages.length - 1];
  const { data, error, loading, reload } = useApi(
    (signal) => {
      const body = { scope: {}, limit: PAGE };
      if (q) body.query = q;
      if (status) body.statuses = [status];
      return apiPage('/tickets/query', { method: 'POST', body, after, signal });
    },
    [q, status, after],
  );
  const rows = (data && data.items) || [];
  const columns = [
    { key: 'key', label: 'Key', render: (t) => <Link href={`/tickets/${encodeURIComponent(t.id)}`}>{t.key || t.id}</Link> },
    { key: 'title', label: 'Title', className: 'title' },
    { key: 'status', label: 'Status', render: (t) => <StatusPill status={t.status} /> },
    { key: 'assignees', label: 'Assignees', render: (t) => (t.assignees || []).join(', ') || '—' },
    { key: 'updatedAt', label: 'Updated', render: (t) => <Time value={t.updatedAt} /> },
    { key: 'url', label: 'Provider', render: (t) => <ExtLink url={t.url}>Open</ExtLink> },
  ];
  return (
    <Page
      title="Tickets"
      actions={
        <button type="button" class="btn primary" onClick={() => setCreating(true)}>
          New ticket
        </button>
      }
    >
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          patchQuery('/tickets', query, { q: text.trim() });
        }}
      >
        <label class="field grow">
          <span class="field-label">Search</span>
          <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span class="field-label">Status</span>
          <select value={status} onChange={(e) => patchQuery('/tickets', query, { status: e.currentTarget.value })}>
            {FILTER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="btn">
          Search
        </button>
      </form>
      <ErrorBox error={error} retry={reload} />
      {loading && !data && <Loading />}
      {data && !rows.length && <Empty>No tickets{q || status ? ' match these filters' : ''}.</Empty>}
      {rows.length > 0 && <DataTable columns={columns} rows={rows} caption="Tickets" onRowClick={(t) => navigate(`/tickets/${encodeURIComponent(t.id)}`)} />}
      <Pager
        page={pages.length}
        hasPrev={pages.length > 1}
        hasNext={!!(data && data.next)}
        busy={loading}
        onPrev={() => setPages(pages.slice(0, -1))}
        onNext={() => setPages([...pages, data.next])}
      />
      {creating && <CreateTicket onClose={() => setCreating(false)} />}
    </Page>
  );
}

export function TicketDetail({ params }) {
  const id = params.id;
  const { data: t, error, loading, reload } = useApi((signal) => api(`/tickets/${encodeURIComponent(id)}`, { signal }), [id]);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [saveError, setSaveError] = useState(null);
  useEffect(() => t && setStatus(t.status || ''), [t && t.status]); // eslint-disable-line react-hooks/exhaustive-deps
  if (error && !t) return <Page title={`Ticket ${id}`}><ErrorBox error={error} retry={reload} /></Page>;
  if (!t) return <Page title={`Ticket ${id}`}>{loading && <Loading />}</Page>;
  const options = SET_STATUSES.includes(t.status) || !t.status ? SET_STATUSES : [t.status, ...SET_STATUSES];
  const change = async (e) => {
    e.preventDefault();
    setBusy(true);
    setSaveError(null);
    try {
      await api(`/tickets/${encodeURIComponent(id)}`, { method: 'PATCH', body: { status } });
      reload();
    } catch (err) {
      setSaveError(err);
    }
    setBusy(false);
  };
  const fields = t.fields || {};
  return (
    <Page
      title={t.title || t.id}
      sub={
        <>
          <span class="mono">{t.key || t.id}</span>
          <StatusPill status={t.status} />
          <ExtLink url={t.url}>Open in ticket provider</ExtLink>
        </>
      }
      actions={<Link href="/tickets">All tickets</Link>}
    >
      <ErrorBox error={error} retry={reload} />
      <div class="grid">
        <section class="card">
          <h2>Status</h2>
          <form class="row" onSubmit={change}>
            <label class="field">
              <span class="field-label">Change status to</span>
              <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
                {options.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" class="btn primary" disabled={busy || status === t.status}>
              {busy ? 'Saving…' : 'Save'}
            </button>
          </form>
          <ErrorBox error={saveError} />
        </section>
        <section class="card">
          <h2>Details</h2>
          <dl class="kv">
            <div class="kv-row"><dt>Assignees</dt><dd>{(t.assignees || []).join(', ') || '—'}</dd></div>
            <div class="kv-row"><dt>Reporter</dt><dd>{t.reporter || fields.reporter || '—'}</dd></div>
            <div class="kv-row"><dt>Created</dt><dd><When value={t.createdAt} /></dd></div>
            <div class="kv-row"><dt>Updated</dt><dd><When value={t.updatedAt} /></dd></div>
            {typeof fields.incidentId === 'string' && (
              <div class="kv-row"><dt>Incident</dt><dd><Link href={`/incidents/${encodeURIComponent(fields.incidentId)}`}>{fields.incidentId}</Link></dd></div>
            )}
          </dl>
        </section>
      </div>
      <section class="card">
        <h2>Description</h2>
        {t.description ? <p class="prewrap">{t.description}</p> : <p class="muted">No description.</p>}
      </section>
      <div class="grid">
        <section class="card">
          <h2>Fields</h2>
          <KeyValue object={t.fields} />
        </section>
        <section class="card">
          <h2>Metadata</h2>
          <KeyValue object={t.metadata} />
        </section>
      </div>
    </Page>
  );
}
