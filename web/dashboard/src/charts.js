// The charts, all uPlot: time series, bars over time, bars over labelled
// buckets, sparklines. Times are epoch seconds and axes read UTC, as the
// API's days and hours are UTC.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const colors = {
  views: '#0060df',
  sessions: '#d35400',
  median: '#0060df',
  p90: '#8f3dd6',
  bars: '#2a9d8f',
  release: '#b00020',
};

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

// Every chart keeps to its container's width, also when the window changes.
const charts = new Set();
const resized = new ResizeObserver((entries) => {
  for (const e of entries) {
    const chart = [...charts].find((c) => c.root.parentElement === e.target);
    if (chart) chart.setSize({ width: Math.max(200, Math.floor(e.contentRect.width)), height: chart.height });
  }
});

function mount(el, opts, data) {
  const u = new uPlot({ width: Math.max(200, el.clientWidth), ...opts }, data, el);
  charts.add(u);
  resized.observe(el);
  return u;
}

// destroy removes the charts under el before it is drawn again.
export function destroyUnder(el) {
  for (const c of [...charts]) {
    if (el.contains(c.root)) {
      resized.unobserve(c.root.parentElement);
      c.destroy();
      charts.delete(c);
    }
  }
}

function axis(label, extra = {}) {
  return { label, labelSize: 20, size: 50, stroke: '#444', grid: { stroke: '#e5e5e5' }, ticks: { stroke: '#ccc' }, ...extra };
}

// markers draws each {x, name} as a dashed vertical line labelled at the top
// of the plot: release dates on a probe's chart.
function markersPlugin(markers) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        const px = uPlot.pxRatio;
        ctx.save();
        ctx.strokeStyle = colors.release;
        ctx.fillStyle = colors.release;
        ctx.lineWidth = px;
        ctx.setLineDash([4 * px, 3 * px]);
        ctx.font = `${11 * px}px system-ui, sans-serif`;
        ctx.textBaseline = 'top';
        for (const m of markers) {
          const x = Math.round(u.valToPos(m.x, 'x', true));
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          // The label goes on the side with room for it.
          const w = ctx.measureText(m.name).width;
          const right = x + 4 * px + w <= bbox.left + bbox.width;
          ctx.textAlign = right ? 'left' : 'right';
          ctx.fillText(m.name, right ? x + 4 * px : x - 4 * px, bbox.top + 2 * px);
        }
        ctx.restore();
      }],
    },
  };
}

const DAY = 86400;
const dayText = (ts) => new Date(ts * 1e3).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

// timeAxis ticks whole intervals of step seconds, labelled with their
// date, or for hours with the hour (24-hour clock) and the date at midnight.
function timeAxis(step) {
  if (step < DAY) {
    return axis('', {
      incrs: [1, 2, 3, 6, 12, 24, 48, 168].map((n) => n * 3600),
      values: (u, splits) => splits.map((ts) => {
        const hour = new Date(ts * 1e3).getUTCHours();
        return hour === 0 ? dayText(ts) : `${String(hour).padStart(2, '0')}:00`;
      }),
    });
  }
  return axis('', {
    incrs: [1, 2, 7, 14, 28, 56, 91, 182, 364].map((n) => n * step),
    values: (u, splits) => splits.map(dayText),
  });
}

// timeChart draws lines (or bars, bars: true) over time: x in epoch
// seconds, one point per interval of step seconds, series [{label, values,
// color, dash}].
export function timeChart(el, { x, series, yLabel, step = DAY, height = 260, bars = false, markers = [], integers = true }) {
  const opts = {
    height,
    tzDate: utc,
    scales: {
      // Bars are centred on their interval's start: half an interval of
      // room at each end keeps the first and last whole.
      x: { time: true, range: (u, min, max) => (bars ? [min - step / 2, max + step / 2] : [min, max]) },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [timeAxis(step), axis(yLabel, integers ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6] } : {})],
    series: [{ label: 'UTC' }, ...series.map((s) => ({
      label: s.label,
      stroke: s.color,
      width: 2,
      dash: s.dash,
      fill: bars ? `${s.color}cc` : undefined,
      paths: bars ? uPlot.paths.bars({ size: [0.7, 64] }) : undefined,
      points: { show: !bars && x.length <= 60, size: 5 },
    }))],
    plugins: markers.length ? [markersPlugin(markers)] : [],
  };
  return mount(el, opts, [x, ...series.map((s) => s.values)]);
}

// bucketChart draws bars over labelled buckets (a histogram).
export function bucketChart(el, { labels, values, yLabel, xLabel, height = 220 }) {
  const idx = labels.map((_, i) => i);
  const opts = {
    height,
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    axes: [
      axis(xLabel, { splits: () => idx, values: (u, splits) => splits.map((i) => labels[i] ?? ''), size: 36, grid: { show: false } }),
      axis(yLabel, { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000, 1e5] }),
    ],
    series: [
      { label: xLabel, value: (u, i) => (i == null ? '–' : labels[i]) },
      { label: yLabel, stroke: colors.bars, fill: `${colors.bars}cc`, width: 1, paths: uPlot.paths.bars({ size: [0.75, 80] }), points: { show: false } },
    ],
  };
  return mount(el, opts, [idx, values]);
}

// sparkline is a tiny line without axes or legend.
export function sparkline(el, { x, values, width = 150, height = 34 }) {
  const opts = {
    width,
    height,
    tzDate: utc,
    cursor: { show: false },
    legend: { show: false },
    // Room above the peak and below zero, so that the line is never cut.
    scales: { x: { time: true }, y: { range: (u, min, max) => [-0.08 * (max || 1), 1.15 * (max || 1)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: colors.views, fill: `${colors.views}22`, width: 1.5, points: { show: false } }],
  };
  const u = new uPlot(opts, [x, values], el);
  charts.add(u);
  return u;
}
