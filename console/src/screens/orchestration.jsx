// Orchestration: overview, plan browser, plan detail (DAG + Start run), run list.
import { useEffect, useState } from 'preact/hooks';
import { api, apiPage } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link, navigate, useLocation } from '../lib/router.js';
import { normalizeStatus } from '../lib/format.js';
import { runProgress, runStates, runSteps, stepInstructions } from '../lib/dag.js';
import { DataTable, Empty, ErrorBox, ExtLink, Loading, Page, Pager, Pill, StatusPill, Time } from '../components/ui.jsx';
import { DagView } from './orchestration_dag.jsx';
import { Tile, href, patchQuery } from './ops_ui.jsx';

const RUN_STATUSES = ['', 'created', 'running', 'blocked', 'completed', 'failed', 'cancelled'];
export const planHref = (id) => `/orchestration/plans/${encodeURIComponent(id)}`;
export const runHref = (id) => `/orchestration/runs/${encodeURIComponent(id)}`;

/** Overview / Plans / Runs links shown on every orchestration screen. */
export function OrchNav() {
  const { path } = useLocation();
  const items = [
    ['/orchestration', 'Overview'],
    ['/orchestration/plans', 'Plans'],
    ['/orchestration/runs', 'Runs'],
  ];
  return (
    <nav class="subnav" aria-label="Orchestration">
      {items.map(([p, l]) => (
        <Link key={p} href={p} aria-current={path === p || (p !== '/orchestration' && path.startsWith(p + '/')) ? 'page' : undefined}>
          {l}
        </Link>
      ))}
    </nav>
  );
}

/**
 * A run's progress and the manual steps waiting: from `plan`'s steps, else its embedded plan's,
 * else its step states (a run in a query answer may embed its plan without steps).
 */
export function runInfo(run, plan) {
  const states = runStates(run);
  const steps = runSteps(plan && Array.isArray(plan.steps) && plan.steps.length ? plan : run.plan, states);
  const p = runProgress(steps, states);
  const title = (id) => (steps.find((s) => s && String(s.id) === id) || {}).title || id;
  return { ...p, waiting: p.blocked.map(title) };
}

function PlanCard({ p }) {
  const tags = p.tags && typeof p.tags === 'object' ? Object.entries(p.tags) : [];
  return (
    <article class="card plan-card">
      <h3>
        <Link href={planHref(p.id)}>{p.title || p.id}</Link>
      </h3>
      {p.description && <p class="small">{p.description}</p>}
      <p class="small muted">
        {(p.steps || []).length} steps{p.version ? ` · version ${p.version}` : ''}
      </p>
      {tags.length > 0 && (
        <p class="tags">
          {tags.map(([k, v]) => (
            <Pill key={k} tone="muted">
              {k}: {String(v)}
            </Pill>
          ))}
        </p>
      )}
      <ExtLink url={p.url}>Open in provider</ExtLink>
    </article>
  );
}

export function OrchestrationHome() {
  const runs = useApi((signal) => apiPage('/orchestration/runs/query', { method: 'POST', body: { scope: {}, limit: 1000 }, signal }), [], { refreshMs: 15000 });
  const plans = useApi((signal) => api('/orchestration/plans/query', { method: 'POST', body: { scope: {}, limit: 6 }, signal }), []);
  const list = (runs.data && runs.data.items) || [];
  const count = (n) => list.filter((r) => normalizeStatus(r.status) === n).length;
  const waiting = list.filter((r) => runInfo(r).blocked.length > 0);
  const blocked = count('blocked');
  const more = runs.data && runs.data.next ? '+' : '';
  const recent = [...list].sort((a, b) => String(b.updatedAt || '').localeCompare(String(a.updatedAt || ''))).slice(0, 5);
  const planList = Array.isArray(plans.data) ? plans.data : [];
  return (
    <Page title="Orchestration">
      <OrchNav />
      <section aria-labelledby="runs-h">
        <h2 id="runs-h">Runs</h2>
        <ErrorBox error={runs.error} retry={runs.reload} />
        {runs.loading && !runs.data && <Loading />}
        {runs.data && (
          <>
            <div class="tiles">
              {[
                ['running', 'Running', 'info', 'running'],
                ['blocked', 'Blocked', 'warn', 'blocked'],
                ['succeeded', 'Completed', 'good', 'completed'],
                ['failed', 'Failed', 'bad', 'failed'],
              ].map(([n, label, tone, word]) => (
                <Link key={n} class="tile-link" href={href('/orchestration/runs', { status: word })}>
                  <Tile label={label} value={count(n) + more} tone={count(n) ? tone : undefined} />
                </Link>
              ))}
            </div>
            {blocked > 0 && (
              <p class="notice warn">
                <Link href={href('/orchestration/runs', { status: 'blocked' })}>
                  {blocked} {blocked === 1 ? 'run is' : 'runs are'} blocked waiting for manual action
                </Link>
              </p>
            )}
            {waiting.length > 0 && (
              <p class="notice">
                <Link href={href('/orchestration/runs', { waiting: '1' })}>
                  {waiting.length} {waiting.length === 1 ? 'run has' : 'runs have'} a manual step ready for a person
                </Link>
              </p>
            )}
            {!list.length && <Empty>No runs yet. Start one from a plan.</Empty>}
            {recent.length > 0 && (
              <>
                <h3>Recently updated</h3>
                <ul class="list-plain">
                  {recent.map((r) => (
                    <li key={r.id} class="row">
                      <Link href={runHref(r.id)}>{(r.plan && r.plan.title) || r.planId || r.id}</Link>
                      <span class="mono small muted">{r.id}</span>
                      <StatusPill status={r.status} />
                      <Time value={r.updatedAt} />
                    </li>
                  ))}
                </ul>
              </>
            )}
          </>
        )}
      </section>
      <section aria-labelledby="plans-h">
        <h2 id="plans-h">Plans</h2>
        <ErrorBox error={plans.error} retry={plans.reload} />
        {plans.loading && !plans.data && <Loading />}
        {plans.data && !planList.length && <Empty>The orchestration provider has no plans.</Empty>}
        <div class="grid">
          {planList.map((p) => (
            <PlanCard p={p} key={p.id} />
          ))}
        </div>
        <Link href="/orchestration/plans">Browse all plans</Link>
      </section>
    </Page>
  );
}

export function Plans({ query }) {
  const q = query.get('q') || '';
  const limit = Math.min(1000, Number(query.get('limit')) || 50);
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);
  const { data, error, loading, reload } = useApi(
    (signal) => api('/orchestration/plans/query', { method: 'POST', body: { scope: {}, limit, ...(q ? { query: q } : {}) }, signal }),
    [q, limit],
  );
  const list = Array.isArray(data) ? data : [];
  return (
    <Page title="Plans">
      <OrchNav />
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          patchQuery('/orchestration/plans', query, { q: text.trim(), limit: '' });
        }}
      >
        <label class="field grow">
          <span class="field-label">Search plans</span>
          <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn">
          Search
        </button>
      </form>
      <ErrorBox error={error} retry={reload} />
      {loading && !data && <Loading />}
      {data && !list.length && <Empty>No plans{q ? ` match “${q}”` : ''}.</Empty>}
      <div class="grid">
        {list.map((p) => (
          <PlanCard p={p} key={p.id} />
        ))}
      </div>
      {list.length >= limit && (
        <button type="button" class="btn" onClick={() => patchQuery('/orchestration/plans', query, { limit: String(limit + 50) })}>
          Load more
        </button>
      )}
    </Page>
  );
}

export function PlanDetail({ params }) {
  const id = params.id;
  const { data: p, error, loading, reload } = useApi((signal) => api(`/orchestration/plans/${encodeURIComponent(id)}`, { signal }), [id]);
  const [busy, setBusy] = useState(false);
  const [startError, setStartError] = useState(null);
  if (!p) return <Page title={`Plan ${id}`}><OrchNav />{loading ? <Loading /> : <ErrorBox error={error} retry={reload} />}</Page>;
  const start = async () => {
    setBusy(true);
    setStartError(null);
    try {
      const run = await api('/orchestration/runs', { method: 'POST', body: { planId: p.id || id } });
      if (run && run.id) navigate(runHref(run.id));
      else setBusy(false);
    } catch (e) {
      setStartError(e);
      setBusy(false);
    }
  };
  const tags = p.tags && typeof p.tags === 'object' ? Object.entries(p.tags) : [];
  return (
    <Page
      title={p.title || p.id}
      sub={
        <>
          <span class="mono">{p.id}</span>
          {p.version && <span>version {p.version}</span>}
          <ExtLink url={p.url}>Open in provider</ExtLink>
        </>
      }
      actions={
        <>
          <Link href={href('/orchestration/runs', { planId: p.id || id })}>View runs</Link>
          <button type="button" class="btn primary" onClick={start} disabled={busy}>
            {busy ? 'Starting…' : 'Start run'}
          </button>
        </>
      }
    >
      <OrchNav />
      <ErrorBox error={startError} />
      {p.description && <p>{p.description}</p>}
      {tags.length > 0 && (
        <p class="tags">
          {tags.map(([k, v]) => (
            <Pill key={k} tone="muted">
              {k}: {String(v)}
            </Pill>
          ))}
        </p>
      )}
      <h2>Steps</h2>
      <DagView steps={p.steps || []} states={null} />
      <details class="card">
        <summary>Step descriptions</summary>
        <ol>
          {(p.steps || []).map((s, i) => {
            const instructions = stepInstructions(s);
            return (
              <li key={i}>
                <b>{s.title || s.id}</b> <span class="small muted">({s.type || 'unknown type'})</span>
                {s.description && <p class="prewrap small">{s.description}</p>}
                {instructions && (
                  <p class="prewrap small">
                    <span class="muted">Instructions:</span> {instructions}
                  </p>
                )}
              </li>
            );
          })}
        </ol>
      </details>
    </Page>
  );
}

export function Runs({ query }) {
  const status = query.get('status') || '';
  const planId = query.get('planId') || '';
  const waitingOnly = query.get('waiting') === '1';
  const fkey = `${status}|${planId}`;
  const [pg, setPg] = useState({ fkey, cursors: [null] });
  const pages = pg.fkey === fkey ? pg.cursors : [null];
  const after = pages[pages.length - 1];
  const runs = useApi(
    (signal) => {
      const body = { scope: {}, limit: 100 };
      if (status) body.statuses = [status];
      if (planId) body.planIds = [planId];
      return apiPage('/orchestration/runs/query', { method: 'POST', body, after, signal });
    },
    [fkey, after],
    { refreshMs: 10000 },
  );
  const plans = useApi((signal) => api('/orchestration/plans/query', { method: 'POST', body: { scope: {}, limit: 200 }, signal }), []);
  const planList = Array.isArray(plans.data) ? plans.data : [];
  const planTitle = (r) => (r.plan && r.plan.title) || (planList.find((p) => p.id === r.planId) || {}).title || r.planId;
  let rows = ((runs.data && runs.data.items) || []).map((r) => ({ ...r, info: runInfo(r, planList.find((p) => p.id === r.planId)) }));
  if (waitingOnly) rows = rows.filter((r) => r.info.blocked.length > 0);
  const set = (patch) => patchQuery('/orchestration/runs', query, patch);
  const columns = [
    { key: 'id', label: 'Run', render: (r) => <Link href={runHref(r.id)}>{r.id}</Link> },
    { key: 'plan', label: 'Plan', className: 'title', render: (r) => planTitle(r) },
    { key: 'status', label: 'Status', render: (r) => <StatusPill status={r.status} /> },
    { key: 'progress', label: 'Progress', render: (r) => `${r.info.done}/${r.info.total}` },
    { key: 'waiting', label: 'Waiting for a person', render: (r) => (r.info.waiting.length ? r.info.waiting.join(', ') : '—') },
    { key: 'createdAt', label: 'Created', render: (r) => <Time value={r.createdAt} /> },
    { key: 'updatedAt', label: 'Updated', render: (r) => <Time value={r.updatedAt} /> },
  ];
  return (
    <Page title="Runs">
      <OrchNav />
      <div class="filters">
        <label class="field">
          <span class="field-label">Status</span>
          <select value={status} onChange={(e) => set({ status: e.currentTarget.value })}>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="field-label">Plan</span>
          <select value={planId} onChange={(e) => set({ planId: e.currentTarget.value })}>
            <option value="">any</option>
            {planId && !planList.some((p) => p.id === planId) && <option value={planId}>{planId}</option>}
            {planList.map((p) => (
              <option key={p.id} value={p.id}>
                {p.title || p.id}
              </option>
            ))}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={waitingOnly} onChange={(e) => set({ waiting: e.currentTarget.checked ? '1' : '' })} />
          Only runs waiting for a person
        </label>
      </div>
      <ErrorBox error={runs.error} retry={runs.reload} />
      {runs.loading && !runs.data && <Loading />}
      {runs.data && !rows.length && <Empty>No runs{status || planId || waitingOnly ? ' match these filters' : ''}.</Empty>}
      {rows.length > 0 && <DataTable caption="Runs" columns={columns} rows={rows} onRowClick={(r) => navigate(runHref(r.id))} />}
      <Pager
        page={pages.length}
        hasPrev={pages.length > 1}
        hasNext={!!(runs.data && runs.data.next)}
        busy={runs.loading}
        onPrev={() => setPg({ fkey, cursors: pages.slice(0, -1) })}
        onNext={() => setPg({ fkey, cursors: [...pages, runs.data.next] })}
      />
    </Page>
  );
}
