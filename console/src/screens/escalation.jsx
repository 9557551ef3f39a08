// Escalation policies: list; detail with the ordered levels and the services that use it.
import { api } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { formatDuration } from '../lib/format.js';
import { loadServices } from '../lib/catalog.js';
import { Empty, ErrorBox, Loading, Page } from '../components/ui.jsx';
import { TargetRef } from '../components/refs.jsx';
import { PagedTable } from './people.jsx';

const enc = encodeURIComponent;
const loops = (n) => (n > 0 ? `runs ${n + 1} times` : 'runs once');

export function PolicyList() {
  return (
    <Page title="Escalation policies">
      <PagedTable
        path="/admin/escalation-policies"
        caption="Escalation policies"
        empty="No escalation policies: services without one page nobody."
        columns={[
          {
            key: 'name',
            label: 'Policy',
            className: 'title',
            render: (p) => (
              <>
                <Link href={`/escalation-policies/${enc(p.id)}`}>{p.name || p.id}</Link>
                {p.description && <div class="muted small">{p.description}</div>}
              </>
            ),
          },
          { key: 'levels', label: 'Levels', render: (p) => (p.rules || []).length },
          { key: 'loops', label: 'Repeat', render: (p) => loops(p.numLoops || 0) },
        ]}
      />
    </Page>
  );
}

function UsedBy({ id }) {
  const r = useApi(() => loadServices(), []);
  if (r.error) return <ErrorBox error={r.error} retry={r.reload} />;
  if (!r.data) return <Loading />;
  const used = r.data.items.filter((s) => s.escalationPolicy === id);
  return (
    <>
      {used.length ? (
        <ul class="list-plain">
          {used.map((s) => (
            <li key={s.id}>
              <Link href={`/services/${enc(s.id)}`}>{s.name || s.id}</Link>
            </li>
          ))}
        </ul>
      ) : (
        <Empty>No service uses this policy.</Empty>
      )}
      {r.data.truncated && <p class="muted small">Only the first {r.data.items.length} services were looked at.</p>}
    </>
  );
}

export function PolicyDetail({ params }) {
  const id = params.id;
  const r = useApi((signal) => api(`/admin/escalation-policies/${enc(id)}`, { signal }), [id]);
  if (r.error && !r.data)
    return (
      <Page title="Escalation policy">
        <ErrorBox error={r.error} retry={r.reload} />
        <Link href="/escalation-policies">Back to escalation policies</Link>
      </Page>
    );
  if (!r.data) return <Loading />;
  const p = r.data;
  const rules = p.rules || [];
  return (
    <Page title={p.name || p.id} sub={<><span class="mono">{p.id}</span><span>{loops(p.numLoops || 0)}</span></>}>
      {p.description && <p>{p.description}</p>}
      <h2>Levels</h2>
      {rules.length ? (
        <ol class="levels">
          {rules.map((rule, i) => (
            <li key={i}>
              <h3>Level {i + 1}</h3>
              <p>
                Notify{' '}
                {(rule.targets || []).length ? (
                  (rule.targets || []).map((t, j) => (
                    <span key={j}>
                      {j > 0 && ', '}
                      <TargetRef target={t} />
                    </span>
                  ))
                ) : (
                  <span class="muted">nobody</span>
                )}
              </p>
              <p class="muted small">
                {i < rules.length - 1
                  ? `If nobody acknowledges within ${formatDuration((rule.delayMinutes || 0) * 60)}, level ${i + 2} is paged.`
                  : p.numLoops > 0
                    ? `If nobody acknowledges within ${formatDuration((rule.delayMinutes || 0) * 60)}, the policy starts again at level 1.`
                    : `The last level: after ${formatDuration((rule.delayMinutes || 0) * 60)} the escalation is exhausted.`}
              </p>
            </li>
          ))}
        </ol>
      ) : (
        <Empty>This policy has no levels.</Empty>
      )}
      <h2>Used by</h2>
      <UsedBy id={p.id} />
    </Page>
  );
}
