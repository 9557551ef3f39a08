// SLA analytics: GET /analytics/sla?start=&end=&service=&team= for the table (one row per
// service), the same report once per bucket for the trend (the report has no buckets), and the
// CSV of the same route (Accept: text/csv) downloaded through a Blob URL.
import { useMemo, useRef, useState } from 'preact/hooks';
import { api, apiText } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { formatDuration, formatTime } from '../lib/format.js';
import { bounded, quickRange, splitRange, timeMs } from '../lib/series.js';
import { Chart } from '../lib/chart.jsx';
import { DataTable, Empty, ErrorBox, Loading, Page } from '../components/ui.jsx';
import { Tile, patchQuery } from './ops_ui.jsx';

const DAYS = { 7: 7, 30: 10, 90: 13 }; // days → trend buckets (1 d, 3 d, ~1 week)
const dur = (v) => (v === null || v === undefined ? '—' : formatDuration(v) || '0 s');
const pct = (v) => (v === null || v === undefined ? '—' : `${Number(v).toFixed(v >= 99.9 && v < 100 ? 3 : 1)} %`);
const minutes = (v) => (v === null || v === undefined ? null : v / 60);
const breaches = (o) => (o ? (o.ackBreaches || 0) + (o.resolveBreaches || 0) : null);

function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function Sla({ query }) {
  const days = DAYS[query.get('days')] ? Number(query.get('days')) : 30;
  const service = query.get('service') || '';
  const team = query.get('team') || '';
  const [anchor, setAnchor] = useState(() => Date.now());
  const range = useMemo(() => quickRange(`${days}d`, anchor), [days, anchor]);
  const set = (patch) => patchQuery('/sla', query, patch);
  const teams = useRef(new Set());

  const report = useApi(
    (signal) => api('/analytics/sla', { query: { start: range.start, end: range.end, team }, signal }),
    [range.start, team],
  );
  const trend = useApi(
    async (signal) => {
      const buckets = splitRange(range.start, range.end, DAYS[days]);
      const reports = await bounded(
        buckets.map((b) => () => api('/analytics/sla', { query: { start: b.start, end: b.end, service, team }, signal })),
        4,
      );
      return { buckets, reports };
    },
    [range.start, service, team],
  );
  const [csvError, setCsvError] = useState(null);
  const [csvBusy, setCsvBusy] = useState(false);
  const csv = async () => {
    setCsvBusy(true);
    setCsvError(null);
    try {
      const text = await apiText('/analytics/sla', { query: { start: range.start, end: range.end, service, team } });
      download(text, `sla-${range.start.slice(0, 10)}-${range.end.slice(0, 10)}${service ? '-' + service : ''}.csv`);
    } catch (e) {
      setCsvError(e);
    }
    setCsvBusy(false);
  };

  const rep = report.data;
  const services = (rep && Array.isArray(rep.services) ? rep.services : []) || [];
  for (const s of services) if (s.team) teams.current.add(s.team);
  const shown = service ? services.filter((s) => s.service === service) : services;
  const summary = service ? (shown[0] && shown[0].overall) || null : rep && rep.overall;

  const chart = useMemo(() => {
    const t = trend.data;
    if (!t) return null;
    const xs = t.buckets.map((b) => timeMs(b.start) / 1000);
    const o = (r) => (r && r.overall) || null;
    const sel = (r) => (service ? ((r && r.services) || []).find((s) => s.service === service) : null);
    const pick = (r) => (service ? (sel(r) || {}).overall : o(r));
    return [
      xs,
      t.reports.map((r) => minutes(pick(r) && pick(r).mttaSeconds && pick(r).mttaSeconds.p50)),
      t.reports.map((r) => minutes(pick(r) && pick(r).mttrSeconds && pick(r).mttrSeconds.p50)),
      t.reports.map((r) => breaches(pick(r))),
    ];
  }, [trend.data, service]);
  const chartSeries = useMemo(
    () => [{ label: 'MTTA p50 (min)' }, { label: 'MTTR p50 (min)' }, { label: 'Breaches', bars: true, scale: 'y2', fmt: (v) => String(Math.round(v)) }],
    [],
  );

  const columns = [
    { key: 'service', label: 'Service', render: (s) => <><b>{s.name || s.service}</b> <span class="mono small muted">{s.service}</span></> },
    { key: 'team', label: 'Team', render: (s) => s.team || '—' },
    { key: 'targets', label: 'Targets (ack / resolve)', render: (s) => (s.targets ? `${s.targets.ackMinutes ?? '—'} / ${s.targets.resolveMinutes ?? '—'} min` : '—') },
    { key: 'incidents', label: 'Incidents', render: (s) => (s.overall ? s.overall.incidents : '—') },
    { key: 'mtta50', label: 'MTTA p50', render: (s) => dur(s.overall && s.overall.mttaSeconds && s.overall.mttaSeconds.p50) },
    { key: 'mtta90', label: 'MTTA p90', render: (s) => dur(s.overall && s.overall.mttaSeconds && s.overall.mttaSeconds.p90) },
    { key: 'mttr50', label: 'MTTR p50', render: (s) => dur(s.overall && s.overall.mttrSeconds && s.overall.mttrSeconds.p50) },
    { key: 'mttr90', label: 'MTTR p90', render: (s) => dur(s.overall && s.overall.mttrSeconds && s.overall.mttrSeconds.p90) },
    {
      key: 'breaches',
      label: 'Breaches (ack / resolve)',
      render: (s) => (s.overall ? <span class={breaches(s.overall) ? 'tone-text-bad' : ''}>{`${s.overall.ackBreaches} / ${s.overall.resolveBreaches}`}</span> : '—'),
    },
    { key: 'uptime', label: 'Uptime', render: (s) => pct(s.uptimePercent) },
  ];

  return (
    <Page
      title="SLA analytics"
      sub={`${formatTime(range.start)} – ${formatTime(range.end)}`}
      actions={
        <button type="button" class="btn" onClick={csv} disabled={csvBusy}>
          {csvBusy ? 'Preparing…' : 'Download CSV'}
        </button>
      }
    >
      <ErrorBox error={csvError} />
      <div class="filters">
        <fieldset class="range">
          <legend>Window</legend>
          <div class="seg">
            {Object.keys(DAYS).map((d) => (
              <button type="button" class="btn small" key={d} aria-pressed={Number(d) === days ? 'true' : 'false'} onClick={() => set({ days: d === '30' ? '' : d })}>
                {d} days
              </button>
            ))}
          </div>
        </fieldset>
        <label class="field">
          <span class="field-label">Team</span>
          <select value={team} onChange={(e) => set({ team: e.currentTarget.value })}>
            <option value="">all</option>
            {team && !teams.current.has(team) && <option value={team}>{team}</option>}
            {[...teams.current].sort().map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="field-label">Service</span>
          <select value={service} onChange={(e) => set({ service: e.currentTarget.value })}>
            <option value="">all</option>
            {service && !services.some((s) => s.service === service) && <option value={service}>{service}</option>}
            {services.map((s) => (
              <option key={s.service} value={s.service}>
                {s.name || s.service}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn" onClick={() => setAnchor(Date.now())}>
          Refresh
        </button>
      </div>

      <ErrorBox error={report.error} retry={report.reload} />
      {report.loading && !rep && <Loading label="Computing the report…" />}
      {summary && (
        <div class="tiles">
          <Tile label="Incidents" value={summary.incidents} sub={`${summary.acknowledged} acknowledged, ${summary.resolved} resolved`} />
          <Tile label="MTTA p50 / p90" value={dur(summary.mttaSeconds && summary.mttaSeconds.p50)} sub={`p90 ${dur(summary.mttaSeconds && summary.mttaSeconds.p90)}`} />
          <Tile label="MTTR p50 / p90" value={dur(summary.mttrSeconds && summary.mttrSeconds.p50)} sub={`p90 ${dur(summary.mttrSeconds && summary.mttrSeconds.p90)}`} />
          <Tile label="Breaches" value={breaches(summary)} tone={breaches(summary) ? 'bad' : undefined} sub={`${summary.ackBreaches} ack, ${summary.resolveBreaches} resolve`} />
          <Tile label="Ack compliance" value={pct(summary.ackCompliancePercent)} />
          <Tile label="Resolve compliance" value={pct(summary.resolveCompliancePercent)} />
        </div>
      )}

      <h2>Trend</h2>
      {!report.error && <ErrorBox error={trend.error} retry={trend.reload} />}
      {trend.loading && !trend.data && <Loading label="Computing the trend…" />}
      {chart && (
        <div class="card">
          <Chart
            data={chart}
            series={chartSeries}
            axes={{ y: { label: 'minutes' }, y2: { label: 'breaches', fmt: (v) => (Number.isInteger(v) ? String(v) : '') } }}
            label={`MTTA and MTTR medians in minutes and breach counts per ${days === 7 ? 'day' : days === 30 ? '3 days' : 'week'} ${service ? `for ${service}` : ''}`}
          />
          <p class="small muted">
            One point per {days === 7 ? 'day' : days === 30 ? '3 days' : 'week'}, each from the report of that bucket; a gap means no incident was acknowledged or resolved in it.
          </p>
        </div>
      )}

      <h2>Per service</h2>
      {rep && !shown.length && <Empty>No services{team ? ` in team ${team}` : ''}.</Empty>}
      {shown.length > 0 && <DataTable caption="SLA per service" columns={columns} rows={shown} rowKey="service" />}
      {rep && <p class="small muted">Evaluated {formatTime(rep.evaluatedAt)}. Figures are for incidents created in the window.</p>}
    </Page>
  );
}
