// Metrics explorer: POST /metrics/describe (the picker) and POST /metrics/query (a uPlot chart
// with a time axis, one line per series, stat tiles). The URL keeps metric, range|start/end,
// step, service, agg and by, so a link reproduces the chart.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { formatTime } from '../lib/format.js';
import { autoStep, parseRange, seriesLabel, stats, toUplotData, varyingLabelKeys } from '../lib/series.js';
import { Chart, fmtNum } from '../lib/chart.jsx';
import { DataTable, Empty, ErrorBox, ExtLink, Loading, Page, Pill } from '../components/ui.jsx';
import { RangePicker, Tile, listParam, patchQuery } from './ops_ui.jsx';

const AGGS = ['', 'avg', 'sum', 'max', 'min', 'count'];
const STEPS = [['', 'auto'], ['15', '15 s'], ['30', '30 s'], ['60', '1 min'], ['300', '5 min'], ['900', '15 min'], ['3600', '1 h']];
const SHOWN = 100;

function Picker({ metrics, selected, onPick }) {
  const [filter, setFilter] = useState('');
  const f = filter.trim().toLowerCase();
  const hits = f ? metrics.filter((m) => `${m.name} ${m.description || ''} ${m.unit || ''}`.toLowerCase().includes(f)) : metrics;
  return (
    <div class="card metric-picker">
      <label class="field">
        <span class="field-label">Find a metric</span>
        <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="name or description" />
      </label>
      <p class="small muted" aria-live="polite">
        {hits.length} of {metrics.length} metrics{hits.length > SHOWN ? `; the first ${SHOWN} shown, refine the search` : ''}
      </p>
      <ul class="metric-list">
        {hits.slice(0, SHOWN).map((m) => (
          <li key={m.name}>
            <button
              type="button"
              class="metric-item"
              aria-pressed={m.name === selected ? 'true' : 'false'}
              onClick={() => onPick(m.name)}
            >
              <span class="metric-name mono">{m.name}</span>
              <span class="metric-meta">
                {m.type && <Pill tone="muted">{m.type}</Pill>}
                {m.unit && <span class="small muted">{m.unit}</span>}
              </span>
              {m.description && <span class="small muted metric-desc">{m.description}</span>}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Latest/min/max/avg per series: tiles for one or two series, a table for more. */
function SeriesStats({ series, labels, unit }) {
  const rows = series.map((s, i) => ({ i, label: labels[i], url: s.url, ...stats(s.points) }));
  const u = unit ? ` ${unit}` : '';
  if (rows.length <= 2)
    return rows.map((r) => (
      <section class="card series-card" key={r.i} aria-label={r.label}>
        <h3 class="series-title">
          <span class={`swatch chart-sw-${r.i % 8}`} aria-hidden="true" />
          <span class="mono">{r.label}</span>
        </h3>
        <div class="tiles">
          <Tile label={`Latest${u}`} value={fmtNum(r.latest)} sub={r.latestAt ? formatTime(r.latestAt) : ''} />
          <Tile label={`Min${u}`} value={fmtNum(r.min)} />
          <Tile label={`Max${u}`} value={fmtNum(r.max)} />
          <Tile label={`Avg${u}`} value={fmtNum(r.avg)} />
        </div>
        <ExtLink url={r.url}>Open series in provider</ExtLink>
      </section>
    ));
  return (
    <DataTable
      caption="Series statistics"
      rowKey="i"
      rows={rows}
      columns={[
        {
          key: 'label',
          label: 'Series',
          render: (r) => (
            <span class="series-title">
              <span class={`swatch chart-sw-${r.i % 8}`} aria-hidden="true" />
              <span class="mono">{r.label}</span>
            </span>
          ),
        },
        ...['latest', 'min', 'max', 'avg'].map((k) => ({ key: k, label: `${k[0].toUpperCase()}${k.slice(1)}${u}`, className: 'num', render: (r) => fmtNum(r[k]) })),
        { key: 'url', label: 'Provider', render: (r) => <ExtLink url={r.url}>Open</ExtLink> },
      ]}
    />
  );
}

export function Metrics({ query }) {
  const metric = query.get('metric') || '';
  const service = query.get('service') || '';
  const agg = query.get('agg') || '';
  const by = listParam(query.get('by'));
  const stepParam = query.get('step') || '';
  const range = parseRange(query);
  const key = query.toString();
  const [svc, setSvc] = useState(service);
  const [nonce, setNonce] = useState(0);
  useEffect(() => setSvc(service), [service]);
  const set = (patch) => patchQuery('/metrics', query, patch);

  const described = useApi(
    (signal) => api('/metrics/describe', { method: 'POST', body: service ? { service } : {}, signal }),
    [service],
  );
  const metrics = (described.data && Array.isArray(described.data.metrics) ? described.data.metrics : []) || [];
  const desc = metrics.find((m) => m.name === metric);

  const result = useApi(
    (signal) => {
      if (!metric) return Promise.resolve(null);
      const r = parseRange(new URLSearchParams(key));
      const expression = { metricName: metric };
      if (agg) expression.aggregation = agg;
      if (by.length) expression.groupBy = by;
      const body = { expression, start: r.start, end: r.end, step: Number(stepParam) || autoStep(r.start, r.end), scope: service ? { service } : {} };
      return api('/metrics/query', { method: 'POST', body, signal });
    },
    [key, nonce],
  );
  const series = useMemo(() => (Array.isArray(result.data) ? result.data : []), [result.data]);
  const data = useMemo(() => toUplotData(series), [series]);
  const labels = useMemo(() => {
    const keys = varyingLabelKeys(series);
    const ls = series.map((s) => seriesLabel(s, keys));
    return ls.map((l, i) => (ls.indexOf(l) !== i ? `${l} #${i + 1}` : l));
  }, [series]);
  const chartSeries = useMemo(() => labels.map((label) => ({ label })), [labels.join('\n')]); // eslint-disable-line react-hooks/exhaustive-deps
  const unit = (desc && desc.unit) || (series[0] && series[0].metadata && series[0].metadata.unit) || '';
  const step = Number(stepParam) || autoStep(range.start, range.end);
  const labelKeys = (desc && Array.isArray(desc.labels) && desc.labels) || [];

  return (
    <Page
      title="Metrics"
      sub={metric ? <span class="mono">{metric}</span> : 'Pick a metric'}
      actions={series[0] && <ExtLink url={series[0].url}>Open in metrics provider</ExtLink>}
    >
      <form
        class="card ops-form"
        onSubmit={(e) => {
          e.preventDefault();
          set({ service: svc.trim() });
          setNonce((n) => n + 1);
        }}
      >
        <div class="filters">
          <label class="field">
            <span class="field-label">Service</span>
            <input value={svc} onInput={(e) => setSvc(e.currentTarget.value)} placeholder="any" />
          </label>
          <label class="field">
            <span class="field-label">Aggregation</span>
            <select value={agg} onChange={(e) => set({ agg: e.currentTarget.value })}>
              {AGGS.map((a) => (
                <option key={a} value={a}>
                  {a || 'provider default'}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span class="field-label">Step</span>
            <select value={stepParam} onChange={(e) => set({ step: e.currentTarget.value })}>
              {STEPS.map(([v, l]) => (
                <option key={v} value={v}>
                  {v ? l : `auto (${step} s)`}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="btn primary">
            Run
          </button>
        </div>
        {labelKeys.length > 0 && (
          <fieldset class="checks">
            <legend>Group by</legend>
            {labelKeys.map((l) => (
              <label class="check" key={l}>
                <input
                  type="checkbox"
                  checked={by.includes(l)}
                  onChange={(e) => set({ by: e.currentTarget.checked ? [...by, l] : by.filter((x) => x !== l) })}
                />
                {l}
              </label>
            ))}
          </fieldset>
        )}
        <RangePicker value={range} onChange={(r) => set({ range: r.range || '', start: r.start || '', end: r.end || '' })} />
        {range.error && <p class="notice warn">Time range in the link ignored: {range.error}.</p>}
      </form>

      <div class="metrics-layout">
        <div>
          <ErrorBox error={described.error} retry={described.reload} />
          {described.loading && !described.data && <Loading label="Loading metrics…" />}
          {described.data && !metrics.length && <Empty>The metrics provider describes no metrics{service ? ` for ${service}` : ''}.</Empty>}
          {metrics.length > 0 && <Picker metrics={metrics} selected={metric} onPick={(name) => set({ metric: name, by: [] })} />}
        </div>
        <div class="metrics-main">
          {desc && (
            <p class="small">
              {desc.description} {desc.type && <Pill tone="muted">{desc.type}</Pill>} <ExtLink url={desc.url}>Metric in provider</ExtLink>
            </p>
          )}
          {!metric && <Empty>Choose a metric from the list to chart it.</Empty>}
          <ErrorBox error={result.error} retry={result.reload} />
          {metric && result.loading && <Loading label="Querying…" />}
          {metric && result.data !== undefined && !result.loading && !series.length && !result.error && (
            <Empty>No series for this metric in this range.</Empty>
          )}
          {series.length > 0 && (
            <>
              <div class="card">
                <Chart
                  data={data}
                  series={chartSeries}
                  axes={{ y: { label: unit } }}
                  label={`${metric}: ${series.length} series from ${formatTime(range.start)} to ${formatTime(range.end)}, step ${step} s`}
                />
              </div>
              <SeriesStats series={series} labels={labels} unit={unit} />
            </>
          )}
        </div>
      </div>
    </Page>
  );
}
