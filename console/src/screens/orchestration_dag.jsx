// The step graph of a plan or run: one row per level (lib/dag.js), edges as an SVG overlay
// measured from the cards' positions (re-measured on resize, so it follows zoom and wrapping).
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { layoutSteps, typeBadge } from '../lib/dag.js';
import { normalizeStatus } from '../lib/format.js';
import { StatusPill } from '../components/ui.jsx';

let seq = 0;

function edgePath(a, b) {
  const x1 = a.left + a.width / 2;
  const y1 = a.top + a.height;
  const x2 = b.left + b.width / 2;
  const y2 = b.top;
  if (y2 > y1 + 4) {
    const dy = (y2 - y1) / 2;
    return { d: `M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}`, back: false };
  }
  // A dependency drawn on the same row or below its step (a cycle): loop around the right side.
  const xr = Math.max(a.left + a.width, b.left + b.width) + 24;
  const ya = a.top + a.height / 2;
  const yb = b.top + b.height / 2;
  return { d: `M${a.left + a.width},${ya} C${xr},${ya} ${xr},${yb} ${b.left + b.width},${yb}`, back: true };
}

/**
 * steps: plan steps. states: Map stepId → state (run view) or null (plan view).
 * canAct(step, state) → true makes the card a button calling onAct(step, state).
 */
export function DagView({ steps, states, canAct, onAct }) {
  const layout = useMemo(() => layoutSteps(steps), [steps]);
  const box = useRef(null);
  const cards = useRef(new Map());
  const mid = useRef(null);
  if (!mid.current) mid.current = `dag-arrow-${++seq}`;
  const [geo, setGeo] = useState({ w: 0, h: 0, paths: [] });

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    let last = '';
    const measure = () => {
      const base = el.getBoundingClientRect();
      const rect = (id) => {
        const c = cards.current.get(id);
        if (!c) return null;
        const r = c.getBoundingClientRect();
        return { left: r.left - base.left, top: r.top - base.top, width: r.width, height: r.height };
      };
      const rects = new Map();
      const get = (id) => {
        if (!rects.has(id)) rects.set(id, rect(id));
        return rects.get(id);
      };
      const paths = [];
      for (const e of layout.edges) {
        const a = get(e.from);
        const b = get(e.to);
        if (a && b) paths.push({ ...edgePath(a, b), key: `${e.from}>${e.to}` });
      }
      const next = { w: Math.ceil(el.scrollWidth), h: Math.ceil(el.scrollHeight), paths };
      const sig = `${next.w}x${next.h}:${paths.map((p) => p.d).join('|')}`;
      if (sig !== last) {
        last = sig;
        setGeo(next);
      }
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [layout, states]);

  const byId = layout.byId;
  const title = (id) => (byId.get(id) && byId.get(id).title) || id;
  const deps = new Map();
  for (const e of layout.edges) deps.set(e.to, [...(deps.get(e.to) || []), e.from]);

  if (!byId.size) return <p class="empty">This plan has no steps.</p>;
  return (
    <div class="dag-wrap">
      {(layout.cycles.length > 0 || layout.missing.length > 0 || layout.duplicates.length > 0) && (
        <p class="notice warn">
          {layout.cycles.length > 0 && `Steps in a dependency cycle: ${layout.cycles.map(title).join(', ')}. `}
          {layout.missing.length > 0 && `Unknown dependencies: ${layout.missing.map((m) => `${title(m.step)} → ${m.dependsOn}`).join(', ')}. `}
          {layout.duplicates.length > 0 && `Repeated step ids (first kept): ${layout.duplicates.join(', ')}.`}
        </p>
      )}
      <div class="dag" ref={box}>
        <svg class="dag-edges" width={geo.w} height={geo.h} aria-hidden="true" focusable="false">
          <defs>
            <marker id={mid.current} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="dag-arrow" />
            </marker>
          </defs>
          {geo.paths.map((p) => (
            <path key={p.key} d={p.d} class={p.back ? 'dag-edge back' : 'dag-edge'} marker-end={`url(#${mid.current})`} />
          ))}
        </svg>
        <ol class="dag-levels">
          {layout.levels.map((level, li) => (
            <li class="dag-level" key={li}>
              <span class="sr-only">Stage {li + 1}</span>
              <ul class="dag-row">
                {level.map((id) => {
                  const step = byId.get(id);
                  const state = states ? states.get(id) : null;
                  const status = state ? normalizeStatus(state.status) : '';
                  const act = !!(states && canAct && canAct(step, state));
                  const body = (
                    <>
                      <span class="dag-top">
                        <abbr class={`dag-badge type-${typeBadge(step.type)}`} title={step.type || 'unknown type'}>
                          {typeBadge(step.type)}
                        </abbr>
                        <span class="dag-title">{step.title || id}</span>
                      </span>
                      {step.description && <span class="dag-desc">{step.description}</span>}
                      {states && (
                        <span class="dag-status">
                          <StatusPill status={state ? state.status : 'pending'} />
                          {act && <span class="dag-act">Complete…</span>}
                        </span>
                      )}
                      {deps.get(id) && <span class="sr-only">Depends on {deps.get(id).map(title).join(', ')}.</span>}
                    </>
                  );
                  const cls = `dag-card${status ? ` st-${status}` : ''}${act ? ' actionable' : ''}`;
                  const ref = (el) => (el ? cards.current.set(id, el) : cards.current.delete(id));
                  return (
                    <li key={id}>
                      {act ? (
                        <button type="button" class={cls} ref={ref} onClick={() => onAct(step, state)}>
                          {body}
                        </button>
                      ) : (
                        <div class={cls} ref={ref}>
                          {body}
                        </div>
                      )}
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
        </ol>
      </div>
    </div>
  );
}
