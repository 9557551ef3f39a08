import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatRelative, formatTime, normalizeStatus, severityTone, statusTone } from '../../src/lib/format.js';

test('formatTime: local YYYY-MM-DD HH:MM:SS from ISO, ms or Date', () => {
  const d = new Date(2026, 0, 2, 3, 4, 5);
  assert.equal(formatTime(d.getTime()), '2026-01-02 03:04:05');
  assert.equal(formatTime(d.toISOString()), '2026-01-02 03:04:05');
  assert.equal(formatTime(d), '2026-01-02 03:04:05');
  assert.equal(formatTime(''), '');
  assert.equal(formatTime(null), '');
  assert.equal(formatTime('not a time'), '');
});

test('formatRelative', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  assert.equal(formatRelative(now - 3 * 60e3, now), '3 min ago');
  assert.equal(formatRelative(now - 5e3, now), 'just now');
  assert.equal(formatRelative(now - 30e3, now), '30 s ago');
  assert.equal(formatRelative(now - 5 * 3600e3, now), '5 h ago');
  assert.equal(formatRelative(now - 3 * 86400e3, now), '3 d ago');
  assert.equal(formatRelative(now + 2 * 3600e3, now), 'in 2 h');
  assert.equal(formatRelative('2026-05-01T11:59:00Z', now), '1 min ago');
  assert.equal(formatRelative(undefined, now), '');
});

test('formatDuration', () => {
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(245), '4 min 5 s');
  assert.equal(formatDuration(900), '15 min');
  assert.equal(formatDuration(3840), '1 h 4 min');
  assert.equal(formatDuration(7200), '2 h');
  assert.equal(formatDuration(2 * 86400 + 3 * 3600 + 5), '2 d 3 h');
  assert.equal(formatDuration(-90), '-1 min 30 s');
  assert.equal(formatDuration(null), '');
  assert.equal(formatDuration('x'), '');
});

test('normalizeStatus covers incidents, alerts, runs and steps', () => {
  const cases = {
    open: 'open', triggered: 'triggered', Investigating: 'acknowledged', mitigating: 'acknowledged',
    monitoring: 'acknowledged', acknowledged: 'acknowledged', closed: 'resolved', resolved: 'resolved',
    firing: 'firing', completed: 'succeeded', complete: 'succeeded', success: 'succeeded',
    in_progress: 'running', 'in-progress': 'running', inprogress: 'running', 'In Progress': 'running',
    running: 'running', blocked: 'blocked', pending: 'pending', ready: 'ready', failed: 'failed',
    skipped: 'skipped', canceled: 'cancelled', cancelled: 'cancelled', ' RESOLVED ': 'resolved',
    whatever: 'unknown',
  };
  for (const [input, want] of Object.entries(cases)) assert.equal(normalizeStatus(input), want, input);
  assert.equal(normalizeStatus(undefined), 'unknown');
  assert.equal(normalizeStatus(3), 'unknown');
});

test('tones', () => {
  assert.equal(statusTone('open'), 'bad');
  assert.equal(statusTone('firing'), 'bad');
  assert.equal(statusTone('investigating'), 'warn');
  assert.equal(statusTone('blocked'), 'warn');
  assert.equal(statusTone('completed'), 'good');
  assert.equal(statusTone('in_progress'), 'info');
  assert.equal(statusTone('cancelled'), 'muted');
  assert.equal(statusTone('??'), 'muted');
  assert.equal(severityTone('sev1'), 'bad');
  assert.equal(severityTone('critical'), 'bad');
  assert.equal(severityTone('SEV2'), 'warn');
  assert.equal(severityTone('warning'), 'info');
  assert.equal(severityTone('sev4'), 'muted');
  assert.equal(severityTone(undefined), 'muted');
});
