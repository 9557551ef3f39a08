// Pure formatting and status vocabulary (unit-tested; no DOM).

/** ISO string, Date or epoch ms → ms (NaN when not a time). */
export function toMs(value) {
  if (value === null || value === undefined || value === '') return NaN;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return Date.parse(value);
}

const pad = (n) => String(n).padStart(2, '0');

/** 'YYYY-MM-DD HH:MM:SS' in local time; '' when not a time. */
export function formatTime(value) {
  const ms = toMs(value);
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** '3 min ago', 'in 2 h', 'just now'; '' when not a time. */
export function formatRelative(value, now = Date.now()) {
  const ms = toMs(value);
  if (!Number.isFinite(ms)) return '';
  const diff = Math.round((now - ms) / 1000);
  const abs = Math.abs(diff);
  if (abs < 10) return 'just now';
  let text;
  if (abs < 60) text = `${abs} s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
  else if (abs < 48 * 3600) text = `${Math.floor(abs / 3600)} h`;
  else text = `${Math.floor(abs / 86400)} d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** Seconds → '45 s', '4 min 5 s', '1 h 4 min', '2 d 3 h'; '' for non-numbers. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds === '' || !Number.isFinite(Number(seconds))) return '';
  let s = Math.round(Number(seconds));
  const sign = s < 0 ? '-' : '';
  s = Math.abs(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  let out;
  if (d) out = h ? `${d} d ${h} h` : `${d} d`;
  else if (h) out = m ? `${h} h ${m} min` : `${h} h`;
  else if (m) out = m < 10 && sec ? `${m} min ${sec} s` : `${m} min`;
  else out = `${sec} s`;
  return sign + out;
}

const STATUS = {
  triggered: 'triggered', trigger: 'triggered',
  open: 'open', new: 'open',
  acknowledged: 'acknowledged', acknowledge: 'acknowledged', ack: 'acknowledged', acked: 'acknowledged',
  investigating: 'acknowledged', mitigating: 'acknowledged', monitoring: 'acknowledged',
  resolved: 'resolved', resolve: 'resolved', closed: 'resolved',
  firing: 'firing', alerting: 'firing', active: 'firing',
  pending: 'pending', queued: 'pending', created: 'pending', waiting: 'pending', scheduled: 'pending',
  ready: 'ready',
  running: 'running', in_progress: 'running', inprogress: 'running', started: 'running',
  blocked: 'blocked',
  succeeded: 'succeeded', success: 'succeeded', successful: 'succeeded', completed: 'succeeded',
  complete: 'succeeded', done: 'succeeded', passed: 'succeeded',
  failed: 'failed', failure: 'failed', error: 'failed', errored: 'failed',
  skipped: 'skipped',
  cancelled: 'cancelled', canceled: 'cancelled', aborted: 'cancelled',
};

/** Any incident/alert/run/step status word → the console's small vocabulary. */
export function normalizeStatus(s) {
  if (typeof s !== 'string') return 'unknown';
  const k = s.trim().toLowerCase().replace(/[-\s]+/g, '_');
  return STATUS[k] || STATUS[k.replace(/_/g, '')] || 'unknown';
}

const TONE = {
  triggered: 'bad', open: 'bad', firing: 'bad', failed: 'bad',
  acknowledged: 'warn', blocked: 'warn',
  resolved: 'good', succeeded: 'good',
  running: 'info', ready: 'info',
};

/** 'bad' | 'warn' | 'good' | 'info' | 'muted' for a status word. */
export function statusTone(s) {
  return TONE[normalizeStatus(s)] || 'muted';
}

const SEV = {
  sev1: 'bad', critical: 'bad', p1: 'bad', fatal: 'bad', emergency: 'bad',
  sev2: 'warn', error: 'warn', high: 'warn', major: 'warn', p2: 'warn',
  sev3: 'info', warning: 'info', warn: 'info', medium: 'info', minor: 'info', p3: 'info',
};

/** Tone of a severity word (sev1/critical … info). */
export function severityTone(s) {
  return (typeof s === 'string' && SEV[s.trim().toLowerCase()]) || 'muted';
}
