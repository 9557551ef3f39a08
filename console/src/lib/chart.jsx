// A uPlot chart with a time x axis. Colours come from CSS variables (both themes); the legend
// (uPlot's own, with live values) is made keyboard-usable. uPlot positions its parts through
// element.style, which the CSP allows (no style attributes in markup).
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNum } from './ops_util.js';

export { fmtNum };

const dark = () => typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;

/** Re-renders when the colour scheme changes. */
function useScheme() {
  const [d, setD] = useState(dark);
  useEffect(() => {
    if (typeof matchMedia !== 'function') return undefined;
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const fn = () => setD(mq.matches);
    mq.addEventListener('change', fn);
    return () => mq.removeEventListener('change', fn);
  }, []);
  return d;
}

function colors(el) {
  const cs = getComputedStyle(el);
  const v = (k, fb) => cs.getPropertyValue(k).trim() || fb;
  return {
    text: v('--chart-text', '#5a6370'),
    grid: v('--chart-grid', 'rgba(128,128,128,0.25)'),
    series: Array.from({ length: 8 }, (_, i) => v(`--chart-${i}`, '#4f7be8')),
  };
}

function a11yLegend(u) {
  const rows = u.root.querySelectorAll('.u-legend .u-series');
  rows.forEach((row, i) => {
    const th = row.querySelector('th');
    const idx = u.series.length === rows.length ? i : i + 1;
    if (!th || idx === 0 || !u.series[idx]) return;
    th.tabIndex = 0;
    th.setAttribute('role', 'button');
    th.setAttribute('aria-pressed', u.series[idx].show ? 'true' : 'false');
    th.title = 'Show or hide this series';
    th.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        th.click();
      }
    });
  });
}

/**
 * data: uPlot data `[xs (unix s), ys…]`. series: `[{ label, bars?, scale? ('y'|'y2'), fmt? }]`.
 * axes: `{ y: { label, fmt }, y2: { label, fmt } }`. label: a text description of the chart.
 */
export function Chart({ data, series, axes = {}, height = 260, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  const scheme = useScheme();
  const xs = data && data[0];
  const empty = !xs || xs.length === 0;

  useEffect(() => {
    const el = box.current;
    if (!el || empty) return undefined;
    const c = colors(el);
    const yFmt = (axes.y && axes.y.fmt) || fmtNum;
    const y2Fmt = (axes.y2 && axes.y2.fmt) || fmtNum;
    const hasY2 = series.some((s) => s.scale === 'y2');
    const axis = (extra) => ({
      stroke: c.text,
      grid: { stroke: c.grid, width: 1 },
      ticks: { stroke: c.grid, width: 1 },
      ...extra,
    });
    const bars = uPlot.paths.bars({ size: [0.6, 48], align: 0 });
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: true }, ...(hasY2 ? { y2: { range: (u, min, max) => [0, Math.max(1, max)] } } : {}) },
      series: [
        {},
        ...series.map((s, i) => {
          const col = c.series[i % c.series.length];
          const fmt = s.fmt || (s.scale === 'y2' ? y2Fmt : yFmt);
          return {
            label: s.label,
            scale: s.scale || 'y',
            stroke: col,
            width: s.bars ? 1 : 2,
            fill: s.bars ? col + '99' : undefined,
            paths: s.bars ? bars : undefined,
            points: { show: s.bars ? false : xs.length <= 60 ? true : undefined, size: 6 },
            spanGaps: false,
            value: (u, v) => (v === null || v === undefined ? '—' : fmt(v)),
          };
        }),
      ],
      axes: [
        axis({}),
        axis({ scale: 'y', values: (u, vals) => vals.map((v) => yFmt(v)), label: axes.y && axes.y.label, size: 56 }),
        ...(hasY2
          ? [axis({ scale: 'y2', side: 1, grid: { show: false }, values: (u, vals) => vals.map((v) => y2Fmt(v)), label: axes.y2 && axes.y2.label, size: 50 })]
          : []),
      ],
      legend: { live: true },
      cursor: { points: { size: 7 } },
      hooks: {
        setSeries: [
          (p) => {
            const ths = p.root.querySelectorAll('.u-legend .u-series th[role=button]');
            ths.forEach((th, k) => th.setAttribute('aria-pressed', p.series[k + 1] && p.series[k + 1].show ? 'true' : 'false'));
          },
        ],
      },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    a11yLegend(u);
    let last = el.clientWidth;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w !== last) {
        last = w;
        u.setSize({ width: w, height });
      }
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data, series, height, scheme, empty]); // eslint-disable-line react-hooks/exhaustive-deps

  if (empty) return <p class="empty">No data points in this range.</p>;
  return (
    <figure class="chart">
      <div ref={box} class="chart-box" />
      {label && <figcaption class="sr-only">{label}</figcaption>}
    </figure>
  );
}
