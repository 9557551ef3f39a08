// On call now, a person's shifts, schedules with their layers drawn on a time axis, overrides.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link, useQueryState } from '../lib/router.js';
import { formatDuration, formatTime, toMs } from '../lib/format.js';
import { loadUsers } from '../lib/catalog.js';
import { Confirm, DataTable, Empty, ErrorBox, Field, Loading, Page } from '../components/ui.jsx';
import { PolicyRef, ScheduleRef, UserRef } from '../components/refs.jsx';
import { PagedTable } from './people.jsx';

const enc = encodeURIComponent;
const DAY = 86400e3;

export function groupByPolicy(rows) {
  const groups = new Map();
  for (const r of rows || []) {
    const p = r.escalationPolicy || { id: '', name: '' };
    if (!groups.has(p.id)) groups.set(p.id, { policy: p, levels: new Map() });
    const g = groups.get(p.id);
    if (!g.levels.has(r.escalationLevel)) g.levels.set(r.escalationLevel, []);
    g.levels.get(r.escalationLevel).push(r);
  }
  return [...groups.values()].map((g) => ({ policy: g.policy, levels: [...g.levels.entries()].sort((a, b) => a[0] - b[0]) }));
}

function OnCallNow() {
  const r = useApi((signal) => api('/oncalls', { signal }), [], { refreshMs: 60000 });
  if (r.error) return <ErrorBox error={r.error} retry={r.reload} />;
  if (!r.data) return <Loading />;
  const groups = groupByPolicy(r.data);
  if (!groups.length) return <Empty>Nobody is on call: no escalation policy names anyone right now.</Empty>;
  return (
    <div class="grid">
      {groups.map((g) => (
        <section class="card" key={g.policy.id}>
          <h3>
            <PolicyRef id={g.policy.id} name={g.policy.name} />
          </h3>
          <ul class="list-plain">
            {g.levels.map(([level, rows]) => (
              <li key={level}>
                <b>Level {level}</b>:{' '}
                {rows.map((o, i) => (
                  <span key={i}>
                    {i > 0 && '; '}
                    <UserRef id={o.user && o.user.id} name={o.user && o.user.name} />
                    {o.schedule && (
                      <span class="muted">
                        {' '}
                        via <ScheduleRef id={o.schedule.id} name={o.schedule.name} />
                      </span>
                    )}
                    {o.end && <span class="muted"> until {formatTime(o.end)}</span>}
                  </span>
                ))}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

/** A person picker from the catalog (free text when the catalog is too large). */
export function PersonPicker({ value, onChange, label = 'Person', required }) {
  const users = useApi(() => loadUsers(), []);
  const d = users.data;
  if (!d || d.truncated)
    return (
      <Field label={label}>
        <input type="text" value={value} required={required} placeholder="person id" onChange={(e) => onChange(e.currentTarget.value.trim())} />
      </Field>
    );
  return (
    <Field label={label}>
      <select value={value} required={required} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">Choose…</option>
        {d.items.map((u) => (
          <option key={u.id} value={u.id}>
            {u.name || u.id}
          </option>
        ))}
      </select>
    </Field>
  );
}

function MyShifts({ session }) {
  const users = useApi(() => loadUsers(), []);
  const actor = session && session.actor;
  const mine = actor && users.data && (users.data.items.find((u) => u.id === actor || u.email === actor) || {}).id;
  const [picked, setPicked] = useQueryState('user', '');
  const user = picked || mine || '';
  const since = new Date();
  since.setMinutes(0, 0, 0);
  const until = new Date(since.getTime() + 14 * DAY);
  const r = useApi(
    (signal) => (user ? api('/oncalls', { query: { 'userIds[]': user, since: since.toISOString(), until: until.toISOString() }, signal }) : Promise.resolve(null)),
    [user],
  );
  return (
    <section>
      <div class="filters">
        <PersonPicker value={user} onChange={setPicked} />
      </div>
      {!user ? (
        <Empty>Choose a person to see their shifts.</Empty>
      ) : r.error ? (
        <ErrorBox error={r.error} retry={r.reload} />
      ) : !r.data ? (
        <Loading />
      ) : !r.data.length ? (
        <Empty>No shifts in the next 14 days.</Empty>
      ) : (
        <DataTable
          caption="Shifts in the next 14 days"
          rows={r.data}
          rowKey={(s, i) => i}
          columns={[
            { key: 'policy', label: 'Escalation policy', render: (s) => <PolicyRef id={s.escalationPolicy && s.escalationPolicy.id} name={s.escalationPolicy && s.escalationPolicy.name} /> },
            { key: 'level', label: 'Level', render: (s) => s.escalationLevel },
            { key: 'schedule', label: 'Schedule', render: (s) => (s.schedule ? <ScheduleRef id={s.schedule.id} name={s.schedule.name} /> : <span class="muted">named directly</span>) },
            { key: 'start', label: 'From', render: (s) => (s.start ? formatTime(s.start) : 'always') },
            { key: 'end', label: 'To', render: (s) => (s.end ? formatTime(s.end) : '—') },
            { key: 'len', label: 'Length', render: (s) => (s.start && s.end ? formatDuration((toMs(s.end) - toMs(s.start)) / 1000) : '—') },
          ]}
        />
      )}
    </section>
  );
}

export function OnCall({ session }) {
  return (
    <Page title="On call">
      <h2>On call now</h2>
      <OnCallNow />
      <h2>Shifts</h2>
      <MyShifts session={session} />
    </Page>
  );
}

export function ScheduleList() {
  return (
    <Page title="Schedules">
      <PagedTable
        path="/admin/schedules"
        caption="Schedules"
        empty="No schedules yet."
        columns={[
          {
            key: 'name',
            label: 'Schedule',
            className: 'title',
            render: (s) => (
              <>
                <Link href={`/schedules/${enc(s.id)}`}>{s.name || s.id}</Link>
                {s.description && <div class="muted small">{s.description}</div>}
              </>
            ),
          },
          { key: 'timeZone', label: 'Time zone' },
          { key: 'layers', label: 'Layers', render: (s) => (s.layers || []).length },
          { key: 'overrides', label: 'Overrides', render: (s) => (s.overrides || []).length },
        ]}
      />
    </Page>
  );
}

// ---- schedule drawing ----

function Track({ entries, since, until, colorOf, label }) {
  const span = until - since;
  const now = Date.now();
  const x = (t) => ((Math.min(Math.max(t, since), until) - since) / span) * 1000;
  return (
    <div class="sched-row">
      <div class="sched-label" title={label}>
        {label}
      </div>
      <div class="sched-track">
        <svg class="sched-svg" viewBox="0 0 1000 20" preserveAspectRatio="none" role="img" aria-label={`${label}: ${entries.length} shifts`}>
          {entries.map((e, i) => {
            const a = x(toMs(e.start));
            const b = x(toMs(e.end));
            return (
              <rect key={i} class={`bar-${colorOf(e.user)}`} x={a} y="2" width={Math.max(b - a, 1)} height="16" rx="2">
                <title>{`${e.userName || e.user}: ${formatTime(e.start)} – ${formatTime(e.end)}`}</title>
              </rect>
            );
          })}
          {now > since && now < until && <line class="now-line" x1={x(now)} x2={x(now)} y1="0" y2="20" vector-effect="non-scaling-stroke" />}
        </svg>
      </div>
    </div>
  );
}

function Axis({ since, until }) {
  const span = until - since;
  const step = span <= DAY ? 6 * 3600e3 : DAY;
  const ticks = [];
  for (let t = since; t < until; t += step) ticks.push(t);
  return (
    <div class="sched-row sched-axis" aria-hidden="true">
      <div />
      <div class="sched-ticks">
        {ticks.map((t) => {
          const d = new Date(t);
          return <span key={t}>{step < DAY ? `${String(d.getHours()).padStart(2, '0')}:00` : d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' })}</span>;
        })}
      </div>
    </div>
  );
}

function localDay(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || '');
  const d = m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : new Date();
  d.setHours(0, 0, 0, 0);
  return d;
}
const dayText = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const localInput = (ms) => {
  const d = new Date(ms);
  return `${dayText(d)}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

function OverrideForm({ id, onDone }) {
  const start0 = Math.ceil(Date.now() / 3600e3) * 3600e3;
  const [user, setUser] = useState('');
  const [start, setStart] = useState(localInput(start0));
  const [end, setEnd] = useState(localInput(start0 + 8 * 3600e3));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api(`/admin/schedules/${enc(id)}/overrides`, {
        method: 'POST',
        body: { user, start: new Date(start).toISOString(), end: new Date(end).toISOString() },
      });
      setUser('');
      onDone();
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  return (
    <form class="card" onSubmit={submit}>
      <h3>Add an override</h3>
      <div class="filters">
        <PersonPicker value={user} onChange={setUser} required label="Who" />
        <Field label="From (your time)">
          <input type="datetime-local" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
        </Field>
        <Field label="To (your time)">
          <input type="datetime-local" required value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="btn primary" disabled={busy || !user}>
          {busy ? 'Adding…' : 'Add override'}
        </button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}

export function ScheduleDetail({ params }) {
  const id = params.id;
  const [from, setFrom] = useQueryState('from', '');
  const [daysText, setDays] = useQueryState('days', '7');
  const days = [1, 3, 7, 14].includes(Number(daysText)) ? Number(daysText) : 7;
  const since = localDay(from).getTime();
  const until = since + days * DAY;
  const r = useApi(
    (signal) => api(`/admin/schedules/${enc(id)}`, { query: { since: new Date(since).toISOString(), until: new Date(until).toISOString() }, signal }),
    [id, since, until],
  );
  const users = useApi(() => loadUsers().catch(() => null), []);
  const [del, setDel] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);

  if (r.error && !r.data)
    return (
      <Page title="Schedule">
        <ErrorBox error={r.error} retry={r.reload} />
        <Link href="/schedules">Back to schedules</Link>
      </Page>
    );
  if (!r.data) return <Loading />;
  const s = r.data;
  const nameOf = (u) => (users.data && users.data.byId.get(u) && users.data.byId.get(u).name) || u;
  const final = s.finalSchedule || [];
  const overrides = s.overrides || [];
  const rendered = s.renderedLayers || [];
  const people = [...new Set([...final, ...overrides, ...rendered.flatMap((l) => l.entries || [])].map((e) => e.user))].sort();
  const colorOf = (u) => people.indexOf(u) % 8;
  const named = (list) => list.map((e) => ({ ...e, userName: nameOf(e.user) }));
  const layerName = (lid) => ((s.layers || []).find((l) => l.id === lid) || {}).name || lid;
  const shift = (n) => setFrom(dayText(new Date(since + n * days * DAY)));

  const doDelete = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/admin/schedules/${enc(id)}/overrides/${enc(del.id)}`, { method: 'DELETE' });
      setDel(null);
      r.reload();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };

  return (
    <Page title={s.name || s.id} sub={<><span class="mono">{s.id}</span><span>time zone {s.timeZone}</span><span class="muted">times below are in your browser's time zone</span></>}>
      {s.description && <p>{s.description}</p>}
      <div class="filters">
        <Field label="From">
          <input type="date" value={dayText(new Date(since))} onChange={(e) => setFrom(e.currentTarget.value)} />
        </Field>
        <Field label="Days">
          <select value={String(days)} onChange={(e) => setDays(e.currentTarget.value)}>
            {[1, 3, 7, 14].map((d) => (
              <option key={d} value={String(d)}>
                {d}
              </option>
            ))}
          </select>
        </Field>
        <button type="button" class="btn" onClick={() => shift(-1)}>
          ← Earlier
        </button>
        <button type="button" class="btn" onClick={() => setFrom('')}>
          Today
        </button>
        <button type="button" class="btn" onClick={() => shift(1)}>
          Later →
        </button>
      </div>
      {r.error && <ErrorBox error={r.error} retry={r.reload} />}
      <section class="card sched" aria-label="Schedule chart">
        <Axis since={since} until={until} />
        {rendered.map((l) => (
          <Track key={l.id} label={layerName(l.id)} entries={named(l.entries || [])} since={since} until={until} colorOf={colorOf} />
        ))}
        <Track label="Overrides" entries={named(overrides)} since={since} until={until} colorOf={colorOf} />
        <Track label="Final schedule" entries={named(final)} since={since} until={until} colorOf={colorOf} />
        <div class="sched-legend">
          {people.map((u) => (
            <span key={u}>
              <span class={`swatch bar-${colorOf(u)}`} aria-hidden="true" />
              <UserRef id={u} name={nameOf(u)} />
            </span>
          ))}
        </div>
      </section>
      <h2>Final schedule</h2>
      {final.length ? (
        <DataTable
          caption="Final schedule"
          rows={final}
          rowKey={(e, i) => i}
          columns={[
            { key: 'user', label: 'On call', render: (e) => <UserRef id={e.user} name={nameOf(e.user)} /> },
            { key: 'start', label: 'From', render: (e) => formatTime(e.start) },
            { key: 'end', label: 'To', render: (e) => formatTime(e.end) },
            { key: 'len', label: 'Length', render: (e) => formatDuration((toMs(e.end) - toMs(e.start)) / 1000) },
          ]}
        />
      ) : (
        <Empty>Nobody is on call in this window.</Empty>
      )}
      <h2>Overrides</h2>
      {overrides.length ? (
        <DataTable
          caption="Overrides"
          rows={overrides}
          columns={[
            { key: 'user', label: 'Who', render: (o) => <UserRef id={o.user} name={nameOf(o.user)} /> },
            { key: 'start', label: 'From', render: (o) => formatTime(o.start) },
            { key: 'end', label: 'To', render: (o) => formatTime(o.end) },
            {
              key: 'del',
              label: '',
              render: (o) => (
                <button type="button" class="btn small danger" onClick={() => setDel(o)}>
                  Delete
                </button>
              ),
            },
          ]}
        />
      ) : (
        <Empty>No overrides in this window.</Empty>
      )}
      <OverrideForm id={id} onDone={r.reload} />
      {del && (
        <Confirm
          title="Delete this override?"
          danger
          confirmLabel="Delete"
          busy={busy}
          error={error}
          onConfirm={doDelete}
          onCancel={() => {
            setDel(null);
            setError(null);
          }}
        >
          <p>
            {nameOf(del.user)}, {formatTime(del.start)} – {formatTime(del.end)}. The layers decide who is on call again.
          </p>
        </Confirm>
      )}
    </Page>
  );
}
