import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actorLabel, incidentWindow, relatedSearch, slaClock, timelineKind, TIMELINE_KINDS } from '../../src/lib/incident.js';

test('every engine kind has a label; unknown kinds fall back', () => {
  for (const k of ['triggered', 'deduplicated', 'acknowledged', 'resolved', 'reopened', 'note', 'escalated',
    'notified', 'notification', 'notification_failed', 'paging_paused', 'paging_resumed', 'unsilenced',
    'status_update', 'escalation_started', 'escalation_stopped', 'escalated_manually', 'unacknowledged']) {
    assert.ok(TIMELINE_KINDS[k], k);
  }
  assert.deepEqual(timelineKind('brand_new_kind'), { label: 'Brand new kind', icon: '•', tone: 'muted' });
  assert.equal(timelineKind('constructor').label, 'Constructor');
  assert.equal(timelineKind(undefined).label, 'Entry');
});

test('actorLabel', () => {
  assert.equal(actorLabel({ name: 'opsorch pager', type: 'system' }), 'opsorch pager');
  assert.equal(actorLabel({ id: 'checkout-events', type: 'integration' }), 'integration checkout-events');
  assert.equal(actorLabel(null), 'System');
  assert.equal(actorLabel({ type: 'api' }), 'api');
});

test('incidentWindow: created − 30 min to resolved (or now) + 10 min', () => {
  const inc = { createdAt: '2026-01-01T10:00:00Z', status: 'resolved', fields: { resolvedAt: '2026-01-01T11:00:00Z' } };
  assert.deepEqual(incidentWindow(inc), { start: '2026-01-01T09:30:00.000Z', end: '2026-01-01T11:10:00.000Z' });
  const open = { createdAt: '2026-01-01T10:00:00Z', status: 'open', service: 'svc a' };
  const now = Date.parse('2026-01-01T12:00:00Z');
  assert.equal(incidentWindow(open, now).end, '2026-01-01T12:10:00.000Z');
  assert.equal(relatedSearch(open, now), '?service=svc+a&start=2026-01-01T09%3A30%3A00.000Z&end=2026-01-01T12%3A10%3A00.000Z');
});

test('slaClock states', () => {
  const t0 = '2026-01-01T10:00:00Z';
  assert.equal(slaClock(t0, '2026-01-01T10:04:00Z', 300).state, 'met');
  assert.equal(slaClock(t0, '2026-01-01T10:06:00Z', 300).state, 'breached');
  const now = Date.parse('2026-01-01T10:02:00Z');
  const running = slaClock(t0, null, 300, now);
  assert.equal(running.state, 'running');
  assert.equal(running.elapsed, 120);
  assert.equal(running.left, 180);
  assert.equal(slaClock(t0, undefined, 60, now).state, 'overdue');
  assert.equal(slaClock(undefined, undefined, 60, now).state, 'none');
  assert.equal(slaClock(t0, null, 0, now).target, null);
});
