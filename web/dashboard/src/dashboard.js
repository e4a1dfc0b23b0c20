// The glam_usage extension's dashboard: every panel is one or a few calls
// to the usage API, drawn as it answers; the page computes no statistic of
// its own. What each chart drew is kept in window.glamDashboard.drawn (and
// the panel's data-state says when it is done), so that a test can compare
// it with the API's answers.
import './style.css';
import { getJSON, setToken, token, Unauthorized } from './api.js';
import { bucketChart, colors, destroyUnder, sparkline, timeChart } from './charts.js';

const drawn = {};
window.glamDashboard = { drawn };

// ---- helpers ---------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v;
    else if (k === 'style') Object.assign(el.style, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return el;
}

const epoch = (rfc3339) => Date.parse(rfc3339) / 1000;
const day = (rfc3339) => rfc3339.slice(0, 10);
const num = (n) => n.toLocaleString('en-US');
const pct = (f) => `${(f * 100).toFixed(f > 0 && f < 0.1 ? 1 : 0)} %`;
const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function minutes(seconds) {
  return round(seconds / 60, 2);
}

// durationText is a bucket bound in seconds, short enough for an axis.
function durationText(s) {
  return s < 3600 ? `${s / 60}m` : `${s / 3600}h`;
}

// bucketLabels names histogram buckets from their bounds (le: at most;
// null: the rest). whole: the values are integers, so a bucket is a range
// of them.
function bucketLabels(buckets, text, whole) {
  return buckets.map((b, i) => {
    const prev = i > 0 ? buckets[i - 1].le : null;
    if (b.le === null) return `>${text(prev)}`;
    if (i === 0) return whole ? text(b.le) : `≤${text(b.le)}`;
    if (whole) return b.le === prev + 1 ? text(b.le) : `${text(prev + 1)}–${text(b.le)}`;
    // 1–5m rather than 1m–5m: one unit where both ends share it.
    const [a, z] = [text(prev), text(b.le)];
    return a.slice(-1) === z.slice(-1) ? `${a.slice(0, -1)}–${z}` : `${a}–${z}`;
  });
}

// ---- state: the range and product, in the page's own URL -------------------

function utcDay(d) {
  return d.toISOString().slice(0, 10);
}

function readState() {
  const q = new URLSearchParams(location.search);
  const today = new Date();
  const to = q.get('to') || utcDay(today);
  const from = q.get('from') || utcDay(new Date(Date.parse(`${to}T00:00:00Z`) - 27 * 86400e3));
  return { from, to, product: q.get('product') || '', probe: q.get('probe') || '' };
}

let state = readState();

function writeState() {
  const q = new URLSearchParams();
  for (const k of ['from', 'to', 'product', 'probe']) if (state[k]) q.set(k, state[k]);
  history.replaceState(null, '', `${location.pathname}?${q}`);
}

const range = () => ({ from: state.from, to: state.to });

// ---- panels ----------------------------------------------------------------

// panel runs draw for the section id: its data-state goes loading, then
// ready, empty or error (with the message in the panel). A 401 opens the
// sign-in dialog and leaves the panel waiting for it.
async function panel(id, draw) {
  const section = document.getElementById(id);
  const body = section.querySelector('.body');
  section.dataset.state = 'loading';
  try {
    const empty = await draw(body, section);
    section.dataset.state = empty ? 'empty' : 'ready';
  } catch (err) {
    if (err instanceof Unauthorized) {
      section.dataset.state = 'unauthorized';
      signIn();
      return;
    }
    destroyUnder(body);
    body.replaceChildren(h('p', { class: 'error' }, err.message));
    section.dataset.state = 'error';
  }
}

function replace(body, ...children) {
  destroyUnder(body);
  body.replaceChildren(...children);
}

function emptyNote(text = 'Nothing in this range.') {
  return h('p', { class: 'muted empty' }, text);
}

let topProbes = [];

async function drawTopProbes(body) {
  const top = await getJSON('usage/probes/top', { ...range(), product: state.product, limit: 10 });
  topProbes = top.probes;
  drawn.topProbes = { from: top.from, to: top.to, rows: top.probes.map(({ product, probe, views, sessions }) => ({ product, probe, views, sessions })) };
  drawn.sparklines = {};
  if (!top.probes.length) {
    replace(body, emptyNote());
    return true;
  }
  const max = Math.max(...top.probes.map((p) => p.views));
  const rows = top.probes.map((p, i) => {
    const spark = h('td', { class: 'spark' });
    const row = h('tr', {
      class: `${p.product}/${p.probe}` === state.probe ? 'selected' : '',
      title: 'Show this probe over time',
      onclick: () => {
        state.probe = `${p.product}/${p.probe}`;
        writeState();
        for (const r of body.querySelectorAll('tr')) r.classList.toggle('selected', r === row);
        refreshProbeSelect();
        panel('probe-series', drawSeries);
        document.getElementById('probe-series').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
      },
    },
    h('td', { class: 'num' }, String(i + 1)),
    h('td', {}, h('span', { class: 'product' }, p.product), ' ', h('strong', {}, p.probe)),
    h('td', { class: 'num bar-cell' }, h('span', { class: 'bar', style: { width: `${(p.views / max) * 100}%` } }), h('span', {}, num(p.views))),
    h('td', { class: 'num' }, num(p.sessions)),
    spark);
    return { row, spark, p };
  });
  replace(body, h('table', { class: 'top' },
    h('thead', {}, h('tr', {}, h('th', { class: 'num' }, '#'), h('th', {}, 'Probe'), h('th', { class: 'bar-head' }, 'Views'), h('th', { class: 'num' }, 'Sessions'), h('th', {}, 'Views per day'))),
    h('tbody', {}, rows.map((r) => r.row))));
  // One daily series per probe, as the series endpoint answers it.
  await Promise.all(rows.map(async ({ spark, p }) => {
    const s = await getJSON(`usage/probes/${encodeURIComponent(p.product)}/${encodeURIComponent(p.probe)}/series`, { ...range(), interval: 'day' });
    const x = s.points.map((pt) => epoch(pt.start));
    const values = s.points.map((pt) => pt.views);
    drawn.sparklines[`${p.product}/${p.probe}`] = { x, views: values };
    sparkline(spark, { x, values });
  }));
  return false;
}

function refreshProbeSelect() {
  const select = document.querySelector('#probe-series select[name=probe]');
  const names = topProbes.map((p) => `${p.product}/${p.probe}`);
  if (state.probe && !names.includes(state.probe)) names.unshift(state.probe);
  if (!state.probe && names.length) state.probe = names[0];
  select.replaceChildren(...names.map((n) => h('option', { value: n, selected: n === state.probe }, n)));
}

async function drawSeries(body, section) {
  if (!state.probe) {
    drawn.probeSeries = null;
    replace(body, emptyNote('No probe was viewed in this range.'));
    return true;
  }
  const [product, ...rest] = state.probe.split('/');
  const probe = rest.join('/');
  const interval = section.querySelector('input[name=interval]:checked').value;
  const [s, rel] = await Promise.all([
    getJSON(`usage/probes/${encodeURIComponent(product)}/${encodeURIComponent(probe)}/series`, { ...range(), interval }),
    getJSON('usage/releases', { ...range(), product }),
  ]);
  const x = s.points.map((pt) => epoch(pt.start));
  const views = s.points.map((pt) => pt.views);
  const sessions = s.points.map((pt) => pt.sessions);
  const markers = rel.releases.map((r) => ({ x: epoch(`${r.date}T00:00:00Z`), name: r.name, date: r.date }));
  drawn.probeSeries = { product, probe, interval, from: s.from, to: s.to, x, views, sessions, releases: markers };
  const chart = h('div', { class: 'chart', 'data-chart': 'probe-series' });
  const total = views.reduce((a, b) => a + b, 0);
  replace(body, h('p', { class: 'muted' }, `${product}/${probe}: ${num(total)} views in the range, per ${interval} (UTC)`,
    markers.length ? `; release dates marked in red: ${markers.map((m) => `${m.name} (${m.date})`).join(', ')}` : ''), chart);
  timeChart(chart, {
    x,
    step: { hour: 3600, day: 86400, week: 7 * 86400 }[interval],
    yLabel: `per ${interval}`,
    markers,
    series: [
      { label: 'views', values: views, color: colors.views },
      { label: 'sessions', values: sessions, color: colors.sessions, dash: [6, 3] },
    ],
  });
  return false;
}

async function drawSessions(body) {
  const [daily, summary] = await Promise.all([
    getJSON('usage/sessions/daily', range()),
    getJSON('usage/sessions/summary', range()),
  ]);
  sessionsDaily = daily;
  const x = daily.days.map((d) => epoch(d.start));
  drawn.sessionsPerDay = { from: daily.from, to: daily.to, x, sessions: daily.days.map((d) => d.sessions) };
  // A day without sessions has no duration: a gap, not a zero.
  const perSession = (f) => daily.days.map((d) => (d.sessions ? f(d) : null));
  drawn.durationPerDay = { x, median: perSession((d) => minutes(d.duration_seconds.median)), p90: perSession((d) => minutes(d.duration_seconds.p90)) };
  drawn.probesPerDay = { x, median: perSession((d) => d.probes_per_session.median), p90: perSession((d) => d.probes_per_session.p90) };
  drawn.sessionSummary = {
    sessions: summary.sessions,
    medianDurationMinutes: minutes(summary.duration_seconds.median),
    medianProbes: summary.probes_per_session.median,
  };
  const charts = ['sessions-per-day', 'duration-per-day', 'probes-per-day'].map((name) => h('div', { class: 'chart', 'data-chart': name }));
  replace(body,
    h('p', { class: 'headline' },
      h('span', {}, h('strong', {}, num(summary.sessions)), ' sessions'),
      h('span', {}, h('strong', {}, num(summary.events)), ' events'),
      h('span', {}, 'median ', h('strong', {}, `${minutes(summary.duration_seconds.median)} min`), ' long'),
      h('span', {}, 'median ', h('strong', {}, String(round(summary.probes_per_session.median))), ' probes per session')),
    h('div', { class: 'triple' },
      h('figure', {}, h('figcaption', {}, 'Sessions'), charts[0]),
      h('figure', {}, h('figcaption', {}, 'Duration, minutes (median, p90)'), charts[1]),
      h('figure', {}, h('figcaption', {}, 'Probes per session (median, p90)'), charts[2])));
  timeChart(charts[0], { x, bars: true, height: 220, yLabel: 'sessions', series: [{ label: 'sessions', values: drawn.sessionsPerDay.sessions, color: colors.bars }] });
  timeChart(charts[1], {
    x, height: 220, yLabel: 'minutes', integers: false,
    series: [{ label: 'median', values: drawn.durationPerDay.median, color: colors.median }, { label: 'p90', values: drawn.durationPerDay.p90, color: colors.p90, dash: [6, 3] }],
  });
  timeChart(charts[2], {
    x, height: 220, yLabel: 'probes', integers: false,
    series: [{ label: 'median', values: drawn.probesPerDay.median, color: colors.median }, { label: 'p90', values: drawn.probesPerDay.p90, color: colors.p90, dash: [6, 3] }],
  });
  return summary.sessions === 0;
}

// The distributions come with the daily answer: drawn once it is in.
let sessionsDaily = null;

async function drawDistributions(body) {
  const daily = sessionsDaily || await getJSON('usage/sessions/daily', range());
  const durations = bucketLabels(daily.duration_histogram, durationText, false);
  const probes = bucketLabels(daily.probes_histogram, String, true);
  drawn.durationHistogram = { labels: durations, sessions: daily.duration_histogram.map((b) => b.count) };
  drawn.probesHistogram = { labels: probes, sessions: daily.probes_histogram.map((b) => b.count) };
  const charts = ['duration-histogram', 'probes-histogram'].map((name) => h('div', { class: 'chart', 'data-chart': name }));
  replace(body, h('div', { class: 'pair' },
    h('figure', {}, h('figcaption', {}, 'Sessions by duration (first to last event)'), charts[0]),
    h('figure', {}, h('figcaption', {}, 'Sessions by distinct probes viewed'), charts[1])));
  bucketChart(charts[0], { labels: durations, values: drawn.durationHistogram.sessions, xLabel: 'duration', yLabel: 'sessions' });
  bucketChart(charts[1], { labels: probes, values: drawn.probesHistogram.sessions, xLabel: 'probes', yLabel: 'sessions' });
  return drawn.durationHistogram.sessions.every((n) => n === 0);
}

async function drawFunnel(body, section) {
  const form = section.querySelector('form');
  const steps = form.steps.value.split(',').map((s) => s.trim()).filter(Boolean).join(',');
  const f = await getJSON('usage/funnel', { ...range(), steps, within: form.within.value });
  drawn.funnel = { within: f.within, steps: f.steps.map(({ event, sessions, conversion, overall }) => ({ event, sessions, conversion, overall })) };
  const max = Math.max(1, ...f.steps.map((s) => s.sessions));
  replace(body, h('table', { class: 'funnel' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Step'), h('th', {}, 'Sessions'), h('th', { class: 'num' }, 'from previous'), h('th', { class: 'num' }, 'overall'))),
    h('tbody', {}, f.steps.map((s, i) => h('tr', {},
      h('td', {}, h('span', { class: 'muted' }, `${i + 1}. `), s.event),
      h('td', { class: 'bar-cell wide-bar' }, h('span', { class: 'bar', style: { width: `${(s.sessions / max) * 100}%` } }), h('span', {}, num(s.sessions))),
      h('td', { class: 'num' }, i === 0 ? '–' : pct(s.conversion)),
      h('td', { class: 'num' }, pct(s.overall)))))),
  h('p', { class: 'muted' }, `Sessions reaching each step in order, each within ${form.within.value} of the session's first step.`));
  return f.steps[0].sessions === 0;
}

async function drawHotlist(body, section) {
  const days = section.querySelector('select[name=days]').value;
  const hot = await getJSON('usage/hotlist', { days, product: state.product, limit: 15 });
  drawn.hotlist = { days: Number(days), rows: hot.probes.map(({ rank, product, probe, channel, sessions, views, last_viewed_day: last }) => ({ rank, product, probe, channel, sessions, views, last_viewed_day: last })) };
  if (!hot.probes.length) {
    replace(body, emptyNote(`No probe was viewed in the last ${days} days.`));
    return true;
  }
  const max = Math.max(...hot.probes.map((p) => p.sessions));
  replace(body, h('table', { class: 'hot' },
    h('thead', {}, h('tr', {}, h('th', { class: 'num' }, '#'), h('th', {}, 'Probe'), h('th', {}, 'Channel'), h('th', {}, 'Sessions'), h('th', { class: 'num' }, 'Views'), h('th', {}, 'Last viewed'))),
    h('tbody', {}, hot.probes.map((p) => h('tr', {},
      h('td', { class: 'num' }, String(p.rank)),
      h('td', {}, h('span', { class: 'product' }, p.product), ' ', h('strong', {}, p.probe)),
      h('td', {}, p.channel),
      h('td', { class: 'bar-cell' }, h('span', { class: 'bar', style: { width: `${(p.sessions / max) * 100}%` } }), h('span', {}, num(p.sessions))),
      h('td', { class: 'num' }, num(p.views)),
      h('td', {}, day(p.last_viewed_day)))))));
  return false;
}

let buildsTimer = 0;

async function drawBuilds(body) {
  clearTimeout(buildsTimer);
  const list = await getJSON('probe-builds', { limit: 20 });
  drawn.probeBuilds = { rows: list.probe_builds.map((b) => ({ id: b.id, product: b.build.product, channel: b.build.channel, probe: b.build.probe, status: b.status, stage: b.stage, progress: b.progress })) };
  if (!list.probe_builds.length) {
    replace(body, emptyNote('No probe build yet: the GLAM app asks for one when a probe was not built by the ETL.'));
    return true;
  }
  replace(body, h('table', { class: 'builds' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Probe'), h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', {}, 'Asked'), h('th', {}, 'Note'))),
    h('tbody', {}, list.probe_builds.map((b) => h('tr', {},
      h('td', { class: 'nowrap' }, h('span', { class: 'product' }, `${b.build.product} ${b.build.channel}`), ' ', h('strong', {}, b.build.probe)),
      h('td', {}, h('span', { class: `status ${b.status}` }, b.status)),
      h('td', { class: 'progress-cell' },
        h('span', { class: 'progress' }, h('span', { style: { width: `${b.progress * 100}%` } })),
        h('span', { class: 'muted' }, `${Math.round(b.progress * 100)} % ${b.stage}`)),
      h('td', { class: 'nowrap' }, `${b.created_at.slice(0, 16).replace('T', ' ')} UTC`),
      h('td', { class: 'note' }, b.error || (b.rows_written != null ? `${num(b.rows_written)} rows` : '')))))));
  // Live builds move: follow them while any is queued or running.
  if (list.probe_builds.some((b) => b.status === 'queued' || b.status === 'running')) {
    buildsTimer = setTimeout(() => panel('probe-builds', drawBuilds), 5000);
  }
  return false;
}

async function drawStatus() {
  const el = document.getElementById('status');
  try {
    const st = await getJSON('usage/status');
    el.textContent = `${st.active_sessions} active sessions · ${num(st.events_today)} events today · last event ${st.last_event_time ? st.last_event_time.replace('T', ' ').slice(0, 19) + ' UTC' : 'never'}`;
  } catch (err) {
    if (err instanceof Unauthorized) signIn();
    else el.textContent = err.message;
  }
}

// ---- loading everything ----------------------------------------------------

async function loadAll() {
  document.documentElement.dataset.state = 'loading';
  sessionsDaily = null;
  document.getElementById('forget-token').hidden = !token();
  await Promise.all([
    drawStatus(),
    panel('top-probes', drawTopProbes).then(() => {
      refreshProbeSelect();
      return panel('probe-series', drawSeries);
    }),
    panel('sessions', drawSessions).then(() => panel('session-distributions', drawDistributions)),
    panel('funnel', drawFunnel),
    panel('hotlist', drawHotlist),
    panel('probe-builds', drawBuilds),
  ]);
  const states = [...document.querySelectorAll('.panel')].map((s) => s.dataset.state);
  document.documentElement.dataset.state = states.includes('unauthorized') ? 'unauthorized' : 'ready';
}

function signIn() {
  const dialog = document.getElementById('sign-in');
  if (dialog.open) return;
  dialog.querySelector('#sign-in-error').textContent = token() ? 'The token was refused: check it and try again.' : '';
  dialog.showModal();
}

function setUp() {
  const controls = document.getElementById('controls');
  controls.from.value = state.from;
  controls.to.value = state.to;
  controls.product.value = state.product;
  controls.addEventListener('submit', (e) => {
    e.preventDefault();
    state = { ...state, from: controls.from.value, to: controls.to.value, product: controls.product.value, probe: '' };
    writeState();
    loadAll();
  });
  const series = document.querySelector('#probe-series form');
  series.addEventListener('change', (e) => {
    if (e.target.name === 'probe') {
      state.probe = e.target.value;
      writeState();
    }
    panel('probe-series', drawSeries);
  });
  series.addEventListener('submit', (e) => e.preventDefault());
  const funnel = document.querySelector('#funnel form');
  funnel.addEventListener('submit', (e) => {
    e.preventDefault();
    panel('funnel', drawFunnel);
  });
  const hot = document.querySelector('#hotlist form');
  hot.addEventListener('change', () => panel('hotlist', drawHotlist));
  hot.addEventListener('submit', (e) => e.preventDefault());

  const dialog = document.getElementById('sign-in');
  dialog.querySelector('form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(e.target.token.value.trim());
    e.target.token.value = '';
    dialog.close();
    loadAll();
  });
  document.getElementById('forget-token').addEventListener('click', () => {
    setToken('');
    location.reload();
  });
  loadAll();
}

setUp();
