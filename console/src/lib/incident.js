// Pure incident helpers: timeline kinds, the time window around an incident, SLA clocks.
import { toMs } from './format.js';

// Every kind the engine writes (src/engine: rules.cc, pager.cc, suppression.cc,
// local_providers.cc, paging_routes.cc, status_routes.cc); unknown kinds render generically.
const K = (label, icon, tone) => ({ label, icon, tone });
export const TIMELINE_KINDS = {
  created: K('Created', '+', 'info'),
  triggered: K('Triggered', '!', 'bad'),
  deduplicated: K('Repeated', '⟳', 'muted'),
  reopened: K('Reopened', '↺', 'bad'),
  acknowledged: K('Acknowledged', '✓', 'warn'),
  unacknowledged: K('Unacknowledged', '↺', 'bad'),
  resolved: K('Resolved', '✔', 'good'),
  status_change: K('Status changed', '⇄', 'info'),
  severity_change: K('Severity changed', '⇅', 'warn'),
  note: K('Note', '✎', 'info'),
  status_update: K('Status update', '📣', 'info'),
  escalation_started: K('Escalation started', '▶', 'info'),
  escalated: K('Paged', '↑', 'warn'),
  escalated_manually: K('Escalated by hand', '⇑', 'warn'),
  reassigned: K('Reassigned', '⇄', 'warn'),
  escalation_skipped: K('Level skipped', '↷', 'warn'),
  escalation_exhausted: K('Escalation exhausted', '■', 'bad'),
  escalation_missing: K('No escalation policy', '?', 'bad'),
  escalation_stopped: K('Escalation stopped', '■', 'muted'),
  notified: K('Notified', '✉', 'good'),
  notification: K('Notification', '✉', 'info'),
  notification_failed: K('Notification failed', '✉', 'bad'),
  notification_unknown: K('Notification outcome unknown', '✉', 'warn'),
  paging_paused: K('Paging paused', '⏸', 'muted'),
  paging_resumed: K('Paging resumed', '▶', 'warn'),
  unsilenced: K('Unsilenced', '🔔', 'warn'),
};

/** { label, icon, tone } of a timeline kind; a readable fallback for kinds not listed. */
export function timelineKind(kind) {
  if (Object.prototype.hasOwnProperty.call(TIMELINE_KINDS, kind)) return TIMELINE_KINDS[kind];
  const label = String(kind || 'entry').replace(/[_-]+/g, ' ');
  return K(label.charAt(0).toUpperCase() + label.slice(1), '•', 'muted');
}

/** Who wrote an entry: a person's name, an integration, the pager… */
export function actorLabel(actor) {
  if (!actor || typeof actor !== 'object') return 'System';
  if (actor.name) return actor.name;
  if (actor.email) return actor.email;
  if (actor.type === 'integration') return actor.id ? `integration ${actor.id}` : 'integration';
  if (actor.id) return actor.id;
  return actor.type || 'System';
}

/** When the incident was resolved (ms), or NaN while it is not. */
export function resolvedAt(inc) {
  if (!inc) return NaN;
  const f = inc.fields || {};
  const at = toMs(f.resolvedAt);
  if (Number.isFinite(at)) return at;
  return /^(resolved|closed)$/i.test(inc.status || '') ? toMs(inc.updatedAt) : NaN;
}

/** The window to look at logs and metrics in: created − 30 min … (resolved or now) + 10 min. */
export function incidentWindow(inc, now = Date.now()) {
  const created = toMs(inc && inc.createdAt);
  const endBase = Number.isFinite(resolvedAt(inc)) ? resolvedAt(inc) : now;
  const start = (Number.isFinite(created) ? created : now - 3600e3) - 30 * 60e3;
  return { start: new Date(start).toISOString(), end: new Date(endBase + 10 * 60e3).toISOString() };
}

/** The query string for /logs and /metrics around an incident. */
export function relatedSearch(inc, now = Date.now()) {
  const { start, end } = incidentWindow(inc, now);
  const p = new URLSearchParams();
  if (inc && inc.service) p.set('service', inc.service);
  p.set('start', start);
  p.set('end', end);
  return '?' + p.toString();
}

/**
 * An SLA clock from `start` to `done` (or now) against `targetSeconds`:
 * { state: 'met'|'breached'|'running'|'overdue'|'none', elapsed, target, left }.
 */
export function slaClock(start, done, targetSeconds, now = Date.now()) {
  const s = toMs(start);
  const d = toMs(done);
  const target = Number(targetSeconds) > 0 ? Number(targetSeconds) : null;
  if (!Number.isFinite(s)) return { state: 'none', elapsed: null, target, left: null };
  const finished = Number.isFinite(d);
  const elapsed = Math.max(0, ((finished ? d : now) - s) / 1000);
  let state;
  if (target === null) state = finished ? 'met' : 'running';
  else if (finished) state = elapsed <= target ? 'met' : 'breached';
  else state = elapsed <= target ? 'running' : 'overdue';
  return { state, elapsed, target, left: target === null ? null : target - elapsed };
}
