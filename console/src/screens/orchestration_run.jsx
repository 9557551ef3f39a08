// Run detail: GET /orchestration/runs/{id} (refreshed every 5 s until the run is finished), its
// plan (embedded in the run, else GET /orchestration/plans/{planId}), progress, the DAG with each
// step's status, the step timeline (with each step's attempts, last error and output when its
// state's fields carry them), and the manual-step completion dialog with the step's instructions
// (POST /orchestration/runs/{id}/steps/{stepId}/complete {note}).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { formatDuration, normalizeStatus, statusTone } from '../lib/format.js';
import { layoutSteps, runProgress, runStates, runSteps, stateMap, stepDetail, stepInstructions, typeBadge, waitsForPerson } from '../lib/dag.js';
import { ErrorBox, ExtLink, Loading, Modal, Page, Pill, StatusPill } from '../components/ui.jsx';
import { DagView } from './orchestration_dag.jsx';
import { OrchNav, planHref } from './orchestration.jsx';
import { Progress, When, realTime } from './ops_ui.jsx';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const NOTE_MAX = 2000;

function CompleteStep({ runId, step, state, actor, onClose, onDone }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = note.trim() ? { note: note.trim() } : {};
      if (actor) body.actor = actor; // the signed-in console name, when the server has one
      await api(`/orchestration/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step.id)}/complete`, { method: 'POST', body });
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal
      title={`Complete “${step.title || step.id}”`}
      onClose={onClose}
      footer={
        <>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="complete-step" class="btn primary" disabled={busy}>
            {busy ? 'Saving…' : 'Mark complete'}
          </button>
        </>
      }
    >
      <p>
        <StatusPill status={state && state.status} /> <span class="mono small">{step.id}</span>
      </p>
      {step.description && <p class="prewrap">{step.description}</p>}
      <Instructions step={step} />
      <form id="complete-step" onSubmit={submit}>
        <label class="field">
          <span class="field-label">Completion note</span>
          <textarea
            value={note}
            autoFocus
            maxLength={NOTE_MAX}
            rows={5}
            placeholder="What did you do, and what should the next operator know?"
            onInput={(e) => setNote(e.currentTarget.value)}
            aria-describedby="note-count"
          />
          <span class="field-hint" id="note-count">
            {note.length}/{NOTE_MAX} characters
          </span>
        </label>
      </form>
      <ErrorBox error={error} />
    </Modal>
  );
}

/** A manual step's instructions, when its plan step has some. */
function Instructions({ step }) {
  const text = stepInstructions(step);
  if (!text) return null;
  return (
    <p class="step-instructions prewrap">
      <span class="muted">Instructions:</span> {text}
    </p>
  );
}

export function RunDetail({ params, session }) {
  const id = params.id;
  const [dialog, setDialog] = useState(null); // { step, state }
  const [finished, setFinished] = useState(false);
  const run = useApi((signal) => api(`/orchestration/runs/${encodeURIComponent(id)}`, { signal }), [id], { refreshMs: finished ? 0 : 5000 });
  const r = run.data;
  const isFinished = !!r && FINISHED.has(normalizeStatus(r.status));
  useEffect(() => setFinished(isFinished), [isFinished]);
  const embedded = r && r.plan && Array.isArray(r.plan.steps) && r.plan.steps.length ? r.plan : null;
  const planId = r && !embedded ? r.planId : '';
  const planRes = useApi((signal) => (planId ? api(`/orchestration/plans/${encodeURIComponent(planId)}`, { signal }) : Promise.resolve(null)), [planId]);
  const plan = embedded || planRes.data || null;
  const statesList = r ? runStates(r) : null;
  const states = useMemo(() => stateMap(statesList), [r]); // eslint-disable-line react-hooks/exhaustive-deps
  const steps = useMemo(() => runSteps(plan, statesList), [plan, r]); // eslint-disable-line react-hooks/exhaustive-deps
  const order = useMemo(() => layoutSteps(steps).levels.flat(), [steps]);

  if (!r) return <Page title={`Run ${id}`}><OrchNav />{run.loading ? <Loading /> : <ErrorBox error={run.error} retry={run.reload} />}</Page>;

  const progress = runProgress(steps, statesList);
  const byId = new Map(steps.map((s) => [String(s.id), s]));
  const waiting = progress.blocked.map((sid) => byId.get(sid)).filter(Boolean);
  const open = (step, state) => setDialog({ step, state });
  const scope = r.scope && typeof r.scope === 'object' ? Object.entries(r.scope).filter(([, v]) => v) : [];
  const incidentId = r.fields && typeof r.fields.incidentId === 'string' ? r.fields.incidentId : '';

  return (
    <Page
      title={(plan && plan.title) || `Run ${r.id}`}
      sub={
        <>
          <span class="mono">{r.id}</span>
          <StatusPill status={r.status} />
          {r.planId && (
            <span>
              plan <Link href={planHref(r.planId)}>{r.planId}</Link>
            </span>
          )}
          {incidentId && (
            <span>
              incident <Link href={`/incidents/${encodeURIComponent(incidentId)}`}>{incidentId}</Link>
            </span>
          )}
          <ExtLink url={r.url}>Open run in provider</ExtLink>
          {plan && <ExtLink url={plan.url}>Open plan in provider</ExtLink>}
        </>
      }
    >
      <OrchNav />
      <ErrorBox error={run.error} retry={run.reload} />
      <ErrorBox error={planRes.error} retry={planRes.reload} />
      <div class="card run-head">
        <Progress {...progress} />
        <p class="small muted row">
          <span>
            Created <When value={r.createdAt} />
          </span>
          <span>
            Updated <When value={r.updatedAt} />
          </span>
          {scope.map(([k, v]) => (
            <Pill key={k} tone="muted">
              {k}: {String(v)}
            </Pill>
          ))}
          <span aria-live="polite">{isFinished ? 'Finished.' : run.loading ? 'Refreshing…' : 'Refreshes every 5 s.'}</span>
        </p>
        {waiting.length > 0 && (
          <div class="notice warn waiting">
            <b>Waiting for a person:</b>
            <ul class="waiting-list">
              {waiting.map((s) => (
                <li key={s.id}>
                  <button type="button" class="btn small" onClick={() => open(s, states.get(String(s.id)))}>
                    Complete “{s.title || s.id}”
                  </button>
                  <Instructions step={s} />
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>

      <h2>Steps</h2>
      <DagView steps={steps} states={states} canAct={waitsForPerson} onAct={open} />

      <h2>Step timeline</h2>
      <ol class="step-tl">
        {order.map((sid, i) => {
          const s = byId.get(sid);
          const st = states.get(sid) || {};
          const started = realTime(st.startedAt);
          const done = realTime(st.finishedAt);
          const d = stepDetail(st);
          return (
            <li key={sid} class={`step-tl-item tone-edge-${statusTone(st.status || 'pending')}`}>
              <div class="row">
                <span class="step-no">{i + 1}.</span>
                <abbr class={`dag-badge type-${typeBadge(s.type)}`} title={s.type || 'unknown type'}>
                  {typeBadge(s.type)}
                </abbr>
                <b>{s.title || sid}</b>
                <StatusPill status={st.status || 'pending'} />
                {waitsForPerson(s, st) && (
                  <button type="button" class="btn small primary" onClick={() => open(s, st)}>
                    Mark complete…
                  </button>
                )}
              </div>
              {s.description && <p class="small prewrap">{s.description}</p>}
              {waitsForPerson(s, st) && <Instructions step={s} />}
              <dl class="kv small">
                <div class="kv-row"><dt>Started</dt><dd><When value={st.startedAt} /></dd></div>
                <div class="kv-row"><dt>Finished</dt><dd><When value={st.finishedAt} />{started !== null && done !== null ? ` (${formatDuration((done - started) / 1000)})` : ''}</dd></div>
                {st.actor && <div class="kv-row"><dt>Actor</dt><dd>{typeof st.actor === 'string' ? st.actor : JSON.stringify(st.actor)}</dd></div>}
                {st.note && <div class="kv-row"><dt>Note</dt><dd class="prewrap">{st.note}</dd></div>}
                {d.attempts > 1 && <div class="kv-row"><dt>Attempts</dt><dd>{d.attempts}</dd></div>}
                {d.nextAttemptAt && <div class="kv-row"><dt>Next attempt</dt><dd><When value={d.nextAttemptAt} /></dd></div>}
                {d.error && <div class="kv-row"><dt>Error</dt><dd class="step-error prewrap">{d.error}</dd></div>}
              </dl>
              {d.output !== null && (
                <details class="step-output">
                  <summary>Output</summary>
                  <pre class="code">{d.output}</pre>
                </details>
              )}
            </li>
          );
        })}
      </ol>

      {dialog && (
        <CompleteStep
          runId={r.id}
          actor={session && session.actor}
          step={dialog.step}
          state={dialog.state}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            run.reload();
          }}
        />
      )}
    </Page>
  );
}
