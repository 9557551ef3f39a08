// Teams (list, detail with members and services) and people (list, detail with contact methods,
// notification rules and upcoming shifts).
import { api, apiPage } from '../lib/api.js';
import { useApi, useCursorPages } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { formatDuration, formatTime } from '../lib/format.js';
import { DataTable, Empty, ErrorBox, ExtLink, KeyValue, Loading, Page, Pager, Pill, SevPill, StatusPill, Time } from '../components/ui.jsx';
import { PolicyRef, ScheduleRef, TeamRef } from '../components/refs.jsx';

const enc = encodeURIComponent;

/** A paged GET list as a table with loading/empty/error states. */
export function PagedTable({ path, method = 'GET', body, columns, empty, caption, limit = 50 }) {
  const pages = useCursorPages(path + JSON.stringify(body || null));
  const list = useApi(
    (signal) => apiPage(path, { method, body: body && { ...body, limit }, query: method === 'GET' ? { limit } : undefined, after: pages.after, signal }),
    [path, JSON.stringify(body || null), pages.after],
  );
  const rows = (list.data && list.data.items) || [];
  return (
    <>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.data === undefined && !list.error ? (
        <Loading />
      ) : rows.length === 0 && !list.error ? (
        <Empty>{empty}</Empty>
      ) : (
        rows.length > 0 && <DataTable caption={caption} rows={rows} columns={columns} />
      )}
      <Pager page={pages.page} hasPrev={pages.hasPrev} hasNext={!!(list.data && list.data.next)} onPrev={pages.prev} onNext={() => pages.next(list.data.next)} busy={list.loading} />
    </>
  );
}

const personLink = (p) => (
  <>
    <Link href={`/people/${enc(p.id)}`}>{p.name || p.id}</Link>
    {p.email && p.email !== p.name && <div class="muted small">{p.email}</div>}
  </>
);

function PeopleTabs({ active }) {
  return (
    <nav class="row" aria-label="Teams and people">
      <Link href="/teams" class={active === 'teams' ? 'btn' : 'btn ghost'} aria-current={active === 'teams' ? 'page' : undefined}>
        Teams
      </Link>
      <Link href="/people" class={active === 'people' ? 'btn' : 'btn ghost'} aria-current={active === 'people' ? 'page' : undefined}>
        People
      </Link>
    </nav>
  );
}

export function TeamList() {
  return (
    <Page title="Teams" actions={<PeopleTabs active="teams" />}>
      <PagedTable
        path="/admin/teams"
        caption="Teams"
        empty="No teams yet."
        columns={[
          {
            key: 'name',
            label: 'Team',
            className: 'title',
            render: (t) => (
              <>
                <Link href={`/teams/${enc(t.id)}`}>{t.name || t.id}</Link>
                {t.description && <div class="muted small">{t.description}</div>}
              </>
            ),
          },
          { key: 'id', label: 'Id', render: (t) => <code>{t.id}</code> },
          { key: 'parent', label: 'Part of', render: (t) => (t.parent ? <TeamRef id={t.parent} /> : '—') },
        ]}
      />
    </Page>
  );
}

export function TeamDetail({ params }) {
  const id = params.id;
  const r = useApi((signal) => api(`/admin/teams/${enc(id)}`, { signal }), [id]);
  if (r.error && !r.data)
    return (
      <Page title="Team">
        <ErrorBox error={r.error} retry={r.reload} />
        <Link href="/teams">Back to teams</Link>
      </Page>
    );
  if (!r.data) return <Loading />;
  const t = r.data;
  return (
    <Page
      title={t.name || t.id}
      sub={
        <>
          <span class="mono">{t.id}</span>
          {t.parent && (
            <span>
              part of <TeamRef id={t.parent} />
            </span>
          )}
          <ExtLink url={t.url} />
        </>
      }
    >
      {t.description && <p>{t.description}</p>}
      <section>
        <h2>Members</h2>
        <PagedTable
          path={`/teams/${enc(id)}/members`}
          caption="Members"
          empty="This team has no members."
          columns={[
            { key: 'name', label: 'Name', render: personLink },
            { key: 'handle', label: 'Handle', render: (m) => m.handle || '—' },
            { key: 'role', label: 'Role', render: (m) => (m.role ? <Pill tone="info">{m.role}</Pill> : '—') },
          ]}
        />
      </section>
      <section>
        <h2>Services</h2>
        <PagedTable
          path="/services/query"
          method="POST"
          body={{ scope: { team: id } }}
          caption="Services of the team"
          empty="The team owns no services."
          columns={[
            { key: 'name', label: 'Service', render: (s) => <Link href={`/services/${enc(s.id)}`}>{s.name || s.id}</Link> },
            { key: 'env', label: 'Environment', render: (s) => (s.tags && (s.tags.environment || s.tags.env)) || '—' },
            { key: 'tier', label: 'Tier', render: (s) => (s.tags && s.tags.tier) || '—' },
          ]}
        />
      </section>
      <section>
        <h2>Open incidents</h2>
        <PagedTable
          path="/incidents/query"
          method="POST"
          limit={10}
          body={{ statuses: ['open', 'acknowledged'], scope: { team: id } }}
          caption="Open incidents of the team"
          empty="No open incidents."
          columns={[
            { key: 'status', label: 'Status', render: (i) => <StatusPill status={i.status} /> },
            { key: 'severity', label: 'Severity', render: (i) => <SevPill severity={i.severity} /> },
            { key: 'title', label: 'Title', className: 'title', render: (i) => <Link href={`/incidents/${enc(i.id)}`}>{i.title || i.id}</Link> },
            { key: 'createdAt', label: 'Created', render: (i) => <Time value={i.createdAt} /> },
          ]}
        />
      </section>
    </Page>
  );
}

export function PeopleList() {
  return (
    <Page title="People" actions={<PeopleTabs active="people" />}>
      <PagedTable
        path="/admin/users"
        caption="People"
        empty="Nobody can be paged yet."
        columns={[
          { key: 'name', label: 'Name', className: 'title', render: personLink },
          { key: 'timeZone', label: 'Time zone', render: (p) => p.timeZone || '—' },
          { key: 'cm', label: 'Contact methods', render: (p) => (p.contactMethods || []).map((c) => c.type).join(', ') || <span class="muted">none</span> },
          { key: 'rules', label: 'Rules', render: (p) => (p.notificationRules || []).length },
        ]}
      />
    </Page>
  );
}

function Shifts({ id }) {
  const since = new Date();
  since.setMinutes(0, 0, 0);
  const until = new Date(since.getTime() + 7 * 86400e3);
  const r = useApi(
    (signal) => api('/oncalls', { query: { 'userIds[]': id, since: since.toISOString(), until: until.toISOString() }, signal }),
    [id],
  );
  if (r.error) return <ErrorBox error={r.error} retry={r.reload} />;
  if (!r.data) return <Loading />;
  if (!r.data.length) return <Empty>No on-call shifts in the next 7 days.</Empty>;
  return (
    <ul class="list-plain">
      {r.data.map((s, i) => (
        <li key={i}>
          <PolicyRef id={s.escalationPolicy && s.escalationPolicy.id} name={s.escalationPolicy && s.escalationPolicy.name} /> level {s.escalationLevel}
          {s.schedule && (
            <>
              {' '}
              via <ScheduleRef id={s.schedule.id} name={s.schedule.name} />
            </>
          )}
          {': '}
          {s.start ? `${formatTime(s.start)} – ${formatTime(s.end)}` : 'always'}
        </li>
      ))}
    </ul>
  );
}

export function PersonDetail({ params }) {
  const id = params.id;
  const r = useApi((signal) => api(`/admin/users/${enc(id)}`, { signal }), [id]);
  if (r.error && !r.data)
    return (
      <Page title="Person">
        <ErrorBox error={r.error} retry={r.reload} />
        <Link href="/people">Back to people</Link>
      </Page>
    );
  if (!r.data) return <Loading />;
  const p = r.data;
  const methods = p.contactMethods || [];
  const rules = p.notificationRules || [];
  return (
    <Page
      title={p.name || p.id}
      sub={
        <>
          <span class="mono">{p.id}</span>
          {p.email && <span>{p.email}</span>}
          {p.timeZone && <span>{p.timeZone}</span>}
        </>
      }
      actions={
        <Link class="btn" href={`/oncall?user=${enc(p.id)}`}>
          Shifts, next 14 days
        </Link>
      }
    >
      <section>
        <h2>Contact methods</h2>
        {methods.length ? (
          <DataTable
            caption="Contact methods"
            rows={methods}
            columns={[
              { key: 'id', label: 'Id', render: (c) => <code>{c.id}</code> },
              { key: 'type', label: 'Type' },
              { key: 'label', label: 'Label', render: (c) => c.label || '—' },
              { key: 'address', label: 'Address', className: 'title', render: (c) => c.address || '—' },
              { key: 'secret', label: 'Secret', render: (c) => (c.hasSecret ? <span class="muted">(redacted)</span> : '—') },
            ]}
          />
        ) : (
          <Empty>No contact methods: this person cannot be reached.</Empty>
        )}
      </section>
      <section>
        <h2>Notification rules</h2>
        {rules.length ? (
          <DataTable
            caption="Notification rules"
            rows={rules}
            rowKey={(x, i) => i}
            columns={[
              { key: 'urgency', label: 'Urgency', render: (x) => <Pill tone={x.urgency === 'high' ? 'bad' : 'muted'}>{x.urgency || 'high'}</Pill> },
              { key: 'delay', label: 'After', render: (x) => (x.startDelayMinutes ? formatDuration(x.startDelayMinutes * 60) : 'at once') },
              { key: 'contactMethod', label: 'Contact method', render: (x) => <code>{x.contactMethod}</code> },
            ]}
          />
        ) : (
          <Empty>No notification rules.</Empty>
        )}
      </section>
      <section>
        <h2>On call in the next 7 days</h2>
        <Shifts id={p.id} />
      </section>
      <details>
        <summary>All fields</summary>
        <KeyValue object={{ ...p, contactMethods: undefined, notificationRules: undefined }} />
      </details>
    </Page>
  );
}
