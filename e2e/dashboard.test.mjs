// The glam_usage extension's dashboard (/dashboard) in headless Chromium,
// against the whole pipeline on a fresh PostgreSQL database, behind a
// bearer token: a known data set is sent to the glam receiver as OTLP log
// records (eight sessions over the five days before today), the views are
// derived from the event log as in production, and then
//   - the page loads from the collector alone (no other origin, offline),
//     asks for the token, keeps it for the tab and sends it with every API
//     request; a reload with the token logs nothing to the console;
//   - what each chart and table drew (window.glamDashboard.drawn) equals
//     the API's own answer, asked directly, and the counts this test works
//     out from the data set it sent;
//   - a screenshot of each panel is written to e2e/screenshots/.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserSuite } from './lib/browser.mjs';
import { startPipeline, caughtUp, awayFromMidnight, utcDay } from './lib/pipeline.mjs';
import { newDatabase, query } from './lib/postgres.mjs';
import { newPage, useBrowser, waitFor } from './lib/suite.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const screenshotDir = path.join(here, 'screenshots');

const token = 'e2e-dashboard-token';
const DAY = 86400;

// ---- the data set ------------------------------------------------------------
// Each session: the day (days before today), its start (UTC) and its events
// as [minutes after the start, event, product/probe, channel]. No gap in a
// session is longer than the views' 30-minute session gap.
const sessions = [
  { id: 's1', day: 5, start: '09:00', events: [[0, 'page.view'], [1, 'probe.search'], [2, 'probe.view', 'fog/gc_ms', 'nightly'], [5, 'probe.view', 'fog/gc_ms', 'nightly'], [12, 'probe.view', 'firefox/cpu', 'release']] },
  { id: 's2', day: 5, start: '14:00', events: [[0, 'page.view'], [3, 'probe.view', 'fog/gc_ms', 'nightly']] },
  { id: 's3', day: 4, start: '08:30', events: [[0, 'page.view'], [2, 'probe.search'], [4, 'probe.view', 'firefox/cpu', 'release'], [20, 'probe.search'], [25, 'probe.view', 'fenix/startup', 'beta'], [40, 'probe.view', 'fog/gc_ms', 'beta']] },
  { id: 's4', day: 3, start: '11:00', events: [[0, 'page.view']] },
  { id: 's5', day: 3, start: '16:00', events: [[0, 'page.view'], [1, 'probe.search'], [2, 'probe.view', 'fog/gc_ms', 'nightly'], [9, 'probe.view', 'firefox/cpu', 'release'], [30, 'probe.view', 'fog/gc_ms', 'nightly']] },
  { id: 's6', day: 2, start: '10:00', events: [[0, 'probe.view', 'fog/gc_ms', 'nightly'], [4, 'probe.view', 'fog/gc_ms', 'nightly']] },
  { id: 's7', day: 1, start: '09:00', events: [[0, 'page.view'], [2, 'probe.search'], [3, 'probe.view', 'fenix/startup', 'beta']] },
  { id: 's8', day: 1, start: '13:00', events: [[0, 'page.view'], [5, 'probe.search'], [6, 'probe.view', 'fog/gc_ms', 'nightly'], [10, 'probe.view', 'firefox/cpu', 'release']] },
];

// The range the dashboard shows: the six days before today.
function dataSet(today) {
  const midnight = Date.parse(`${today}T00:00:00Z`) / 1000;
  const dayStart = (d) => midnight - d * DAY;
  const events = [];
  for (const s of sessions) {
    const [hh, mm] = s.start.split(':').map(Number);
    const start = dayStart(s.day) + hh * 3600 + mm * 60;
    s.events.forEach(([min, name, probe, channel], i) => {
      const [product, probeName] = probe ? probe.split('/') : [];
      events.push({ id: `${s.id}-e${i}`, session: s.id, time: start + min * 60, name, product, probe: probeName, channel });
    });
  }
  return { events, from: utcDay(new Date(dayStart(6) * 1000)), to: utcDay(new Date(dayStart(1) * 1000)), first: dayStart(6), days: 6 };
}

function otlpLogs(events) {
  const attr = (key, v) => ({ key, value: { stringValue: v } });
  return {
    resourceLogs: [{
      resource: { attributes: [attr('service.name', 'glam')] },
      scopeLogs: [{
        scope: { name: 'glam-app' },
        logRecords: events.map((e) => ({
          timeUnixNano: `${e.time}000000000`,
          eventName: e.name,
          attributes: [
            attr('log.record.uid', e.id),
            attr('session.id', e.session),
            ...(e.product ? [attr('glam.product', e.product), attr('glam.probe.name', e.probe), attr('glam.channel', e.channel)] : []),
          ],
        })),
      }],
    }],
  };
}

// ---- what the data set says, worked out here -------------------------------

// percentile interpolates between the closest ranks, as PostgreSQL's
// percentile_cont does.
function percentile(values, p) {
  if (!values.length) return 0;
  const v = [...values].sort((a, b) => a - b);
  const pos = p * (v.length - 1);
  const lo = Math.floor(pos);
  return lo + 1 < v.length ? v[lo] + (pos - lo) * (v[lo + 1] - v[lo]) : v[lo];
}

const round2 = (n) => Math.round(n * 100) / 100;

function expectations(set) {
  const { events, first, days } = set;
  const xDays = Array.from({ length: days }, (_, i) => first + i * DAY);
  const dayOf = (t) => first + Math.floor((t - first) / DAY) * DAY;
  const views = events.filter((e) => e.name === 'probe.view');
  const byProbe = new Map();
  for (const e of views) {
    const k = `${e.product}/${e.probe}`;
    if (!byProbe.has(k)) byProbe.set(k, { product: e.product, probe: e.probe, views: 0, sessions: new Set(), channels: {}, days: new Map(), daySessions: new Map() });
    const p = byProbe.get(k);
    p.views++;
    p.sessions.add(e.session);
    p.channels[e.channel] = (p.channels[e.channel] || 0) + 1;
    const d = dayOf(e.time);
    p.days.set(d, (p.days.get(d) || 0) + 1);
    if (!p.daySessions.has(d)) p.daySessions.set(d, new Set());
    p.daySessions.get(d).add(e.session);
  }
  const probes = [...byProbe.values()].sort((a, b) => b.views - a.views);
  const perSession = sessions.map((s) => {
    const evs = events.filter((e) => e.session === s.id);
    const times = evs.map((e) => e.time);
    return {
      day: dayOf(Math.min(...times)),
      events: evs.length,
      duration: Math.max(...times) - Math.min(...times),
      probes: new Set(evs.filter((e) => e.name === 'probe.view').map((e) => `${e.product}/${e.probe}`)).size,
    };
  });
  const onDay = (d) => perSession.filter((s) => s.day === d);
  // Bucket bounds of the API's histograms (its documented contract).
  const histogram = (values, bounds) => {
    const counts = new Array(bounds.length + 1).fill(0);
    for (const v of values) counts[bounds.filter((b) => b < v).length]++;
    return counts;
  };
  // Funnel: a session counts for a step when, starting from one of its
  // first-step events, the steps follow in order within 30 minutes of it.
  const steps = ['page.view', 'probe.search', 'probe.view'];
  const reached = steps.map(() => 0);
  for (const s of sessions) {
    const evs = events.filter((e) => e.session === s.id).sort((a, b) => a.time - b.time);
    let best = 0;
    for (const start of evs.filter((e) => e.name === steps[0])) {
      let n = 1;
      let t = start.time;
      for (const step of steps.slice(1)) {
        const next = evs.find((e) => e.name === step && e.time >= t && e.time - start.time <= 30 * 60 && e !== start);
        if (!next) break;
        n++;
        t = next.time;
      }
      best = Math.max(best, n);
    }
    for (let i = 0; i < best; i++) reached[i]++;
  }
  return {
    xDays,
    top: probes.map((p) => ({ product: p.product, probe: p.probe, views: p.views, sessions: p.sessions.size })),
    sparklines: Object.fromEntries(probes.map((p) => [`${p.product}/${p.probe}`, { x: xDays, views: xDays.map((d) => p.days.get(d) || 0) }])),
    series: (key) => {
      const p = byProbe.get(key);
      return { x: xDays, views: xDays.map((d) => p.days.get(d) || 0), sessions: xDays.map((d) => p.daySessions.get(d)?.size || 0) };
    },
    hourlyViews: (key) => {
      const counts = new Array(days * 24).fill(0);
      for (const e of views) if (`${e.product}/${e.probe}` === key) counts[Math.floor((e.time - first) / 3600)]++;
      return counts;
    },
    sessionsPerDay: xDays.map((d) => onDay(d).length),
    // A day without sessions is a gap in these charts.
    durationMedian: xDays.map((d) => (onDay(d).length ? round2(percentile(onDay(d).map((s) => s.duration), 0.5) / 60) : null)),
    durationP90: xDays.map((d) => (onDay(d).length ? round2(percentile(onDay(d).map((s) => s.duration), 0.9) / 60) : null)),
    probesMedian: xDays.map((d) => (onDay(d).length ? percentile(onDay(d).map((s) => s.probes), 0.5) : null)),
    probesP90: xDays.map((d) => (onDay(d).length ? percentile(onDay(d).map((s) => s.probes), 0.9) : null)),
    durationHistogram: histogram(perSession.map((s) => s.duration), [60, 300, 600, 1800, 3600, 7200, 14400]),
    probesHistogram: histogram(perSession.map((s) => s.probes), [0, 1, 2, 3, 5, 10, 20]),
    funnel: reached,
    hot: [...byProbe.values()].sort((a, b) => b.sessions.size - a.sessions.size || b.views - a.views).map((p) => ({
      product: p.product, probe: p.probe, sessions: p.sessions.size, views: p.views,
      channel: Object.entries(p.channels).sort((a, b) => b[1] - a[1])[0][0],
    })),
  };
}

// assertClose compares arrays of numbers (or gaps, null) to 1e-9:
// percentiles are floats.
function assertClose(got, want, what) {
  assert.equal(got.length, want.length, `${what}: ${JSON.stringify(got)} against ${JSON.stringify(want)}`);
  got.forEach((g, i) => assert.ok(g === want[i] || (g !== null && want[i] !== null && Math.abs(g - want[i]) < 1e-9), `${what}[${i}]: ${JSON.stringify(got)} against ${JSON.stringify(want)}`));
}

const epoch = (t) => Date.parse(t) / 1000;
const round = (n) => Math.round(n * 100) / 100;

describe('the usage dashboard: what it draws is what the API answers', browserSuite(), () => {
  const browser = useBrowser();

  it('draws a known data set behind a bearer token, offline, without console errors', async (t) => {
    const b = browser();
    const db = await newDatabase(t);
    if (!db) return;
    await awayFromMidnight();
    const today = utcDay();
    const set = dataSet(today);
    const want = expectations(set);
    const release = (d) => utcDay(new Date((set.first + d * DAY) * 1000));
    const releaseDates = [
      { date: release(2), name: 'Fog 130', product: 'fog' },
      { date: release(4), name: 'GLAM release' },
      { date: release(3), name: 'Firefox 130', product: 'firefox' },
      { date: release(-30), name: 'Long ago' },
    ];
    const pipeline = await startPipeline(t, {
      db,
      extensions: { bearertokenauth: { token } },
      usage: { auth: { authenticator: 'bearertokenauth' }, release_dates: releaseDates },
    });

    const res = await fetch(`${pipeline.ingest}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(otlpLogs(set.events)) });
    assert.equal(res.status, 200, await res.text());
    await waitFor(async () => Number((await query(db.dsn, 'SELECT count(*) FROM glam_usage_events'))[0][0]) === set.events.length, 20000, 'every event stored');
    await caughtUp(db, pipeline.output);

    // Three probe builds: queued (no worker runs here), running with its
    // progress as a worker reports it, failed.
    const api = async (p, init = {}) => {
      const r = await fetch(pipeline.api + p, { ...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...init.headers } });
      const text = await r.text();
      assert.ok(r.status < 300, `${p}: ${r.status} ${text}`);
      return JSON.parse(text);
    };
    const builds = [];
    for (const probe of ['gc_ms', 'cpu', 'startup']) {
      builds.push((await api('/api/v1/probe-builds', { method: 'POST', body: JSON.stringify({ product: probe === 'startup' ? 'fenix' : 'firefox', channel: 'nightly', probe }) })).id);
    }
    await query(db.dsn, `UPDATE glam_probe_build_jobs SET status = 'running', stage = 'aggregating in BigQuery', progress = 0.6, attempts = 1, started_at = now() WHERE id = '${builds[1]}'`);
    await query(db.dsn, `UPDATE glam_probe_build_jobs SET status = 'failed', stage = 'failed', error = 'attempt 3 of 3: probe "startup" has no data for fenix', attempts = 3, finished_at = now() WHERE id = '${builds[2]}'`);

    // First visit: no token yet. The page loads, asks for one, and draws
    // once it has it.
    const { page, network, console: logs } = await newPage(t, b);
    await page.setViewportSize({ width: 1400, height: 1000 });
    const url = `${pipeline.api}/dashboard?from=${set.from}&to=${set.to}`;
    await page.goto(url);
    await page.waitForSelector('#sign-in[open]');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.state), 'unauthorized');
    await page.fill('#sign-in input[name=token]', token);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('html[data-state=ready]', { timeout: 20000 });
    const beforeSignIn = logs.filter((l) => !/status of 401/.test(l));
    assert.deepEqual(beforeSignIn, [], 'only the refused API calls before the token are logged');

    // A reload keeps the token (sessionStorage) and logs nothing.
    logs.length = 0;
    network.length = 0;
    await page.reload();
    await page.waitForSelector('html[data-state=ready]', { timeout: 20000 });
    await page.waitForTimeout(300);
    assert.deepEqual(logs, [], 'the page logs nothing: no error, no CSP violation');
    assert.ok(network.length > 10, `the page made its requests: ${network.length}`);
    for (const r of network) {
      assert.ok(r.url.startsWith(`${pipeline.api}/`), `only the collector is asked, nothing from elsewhere: ${r.url}`);
      assert.ok(r.status === 200 || r.status === 304, `${r.url} answered ${r.status} ${r.failure}`);
      if (r.url.includes('/api/v1/')) assert.equal(r.headers.authorization, `Bearer ${token}`, `${r.url} carries the token`);
    }
    const states = await page.$$eval('.panel', (els) => Object.fromEntries(els.map((e) => [e.id, e.dataset.state])));
    assert.deepEqual(states, { 'top-probes': 'ready', 'probe-series': 'ready', sessions: 'ready', 'session-distributions': 'ready', funnel: 'ready', hotlist: 'ready', 'probe-builds': 'ready' });

    const drawn = await page.evaluate(() => window.glamDashboard.drawn);
    const range = `from=${set.from}&to=${set.to}`;
    t.diagnostic(`drawn: ${JSON.stringify(drawn)}`);

    // Top probes and their sparklines.
    const top = await api(`/api/v1/usage/probes/top?${range}&limit=10`);
    assert.deepEqual(drawn.topProbes.rows, top.probes);
    assert.deepEqual(drawn.topProbes.rows, want.top);
    for (const p of top.probes) {
      const key = `${p.product}/${p.probe}`;
      const s = await api(`/api/v1/usage/probes/${p.product}/${p.probe}/series?${range}&interval=day`);
      assert.deepEqual(drawn.sparklines[key], { x: s.points.map((pt) => epoch(pt.start)), views: s.points.map((pt) => pt.views) }, key);
      assert.deepEqual(drawn.sparklines[key], want.sparklines[key], key);
    }

    // The top probe over time, by day, with its product's releases and
    // those of every product in the range marked.
    const key = `${want.top[0].product}/${want.top[0].probe}`;
    const daily = await api(`/api/v1/usage/probes/${want.top[0].product}/${want.top[0].probe}/series?${range}&interval=day`);
    const releases = await api(`/api/v1/usage/releases?${range}&product=${want.top[0].product}`);
    assert.deepEqual({ ...drawn.probeSeries, releases: drawn.probeSeries.releases.map((r) => r.name) }, {
      product: want.top[0].product, probe: want.top[0].probe, interval: 'day', from: daily.from, to: daily.to,
      x: daily.points.map((p) => epoch(p.start)), views: daily.points.map((p) => p.views), sessions: daily.points.map((p) => p.sessions),
      releases: releases.releases.map((r) => r.name),
    });
    assert.deepEqual({ x: drawn.probeSeries.x, views: drawn.probeSeries.views, sessions: drawn.probeSeries.sessions }, want.series(key));
    assert.deepEqual(drawn.probeSeries.releases, [
      { x: set.first + 2 * DAY, name: 'Fog 130', date: release(2) },
      { x: set.first + 4 * DAY, name: 'GLAM release', date: release(4) },
    ], 'the fog probe is marked with fog releases and those of every product, in the range');

    // Sessions per day and their distributions.
    const sd = await api(`/api/v1/usage/sessions/daily?${range}`);
    assert.deepEqual(drawn.sessionsPerDay, { from: sd.from, to: sd.to, x: sd.days.map((d) => epoch(d.start)), sessions: sd.days.map((d) => d.sessions) });
    assert.deepEqual(drawn.sessionsPerDay.x, want.xDays);
    assert.deepEqual(drawn.sessionsPerDay.sessions, want.sessionsPerDay);
    const ifSessions = (f) => sd.days.map((d) => (d.sessions ? f(d) : null));
    assert.deepEqual(drawn.durationPerDay.median, ifSessions((d) => round(d.duration_seconds.median / 60)));
    assert.deepEqual(drawn.durationPerDay.p90, ifSessions((d) => round(d.duration_seconds.p90 / 60)));
    assertClose(drawn.durationPerDay.median, want.durationMedian, 'median duration');
    assertClose(drawn.durationPerDay.p90, want.durationP90, 'p90 duration');
    assert.deepEqual(drawn.probesPerDay.median, ifSessions((d) => d.probes_per_session.median));
    assert.deepEqual(drawn.probesPerDay.p90, ifSessions((d) => d.probes_per_session.p90));
    assertClose(drawn.probesPerDay.median, want.probesMedian, 'median probes');
    assertClose(drawn.probesPerDay.p90, want.probesP90, 'p90 probes');
    assert.deepEqual(drawn.durationHistogram.sessions, sd.duration_histogram.map((b) => b.count));
    assert.deepEqual(drawn.durationHistogram.sessions, want.durationHistogram);
    assert.deepEqual(drawn.durationHistogram.labels, ['≤1m', '1–5m', '5–10m', '10–30m', '30m–1h', '1–2h', '2–4h', '>4h']);
    assert.deepEqual(drawn.probesHistogram.sessions, sd.probes_histogram.map((b) => b.count));
    assert.deepEqual(drawn.probesHistogram.sessions, want.probesHistogram);
    assert.deepEqual(drawn.probesHistogram.labels, ['0', '1', '2', '3', '4–5', '6–10', '11–20', '>20']);
    const summary = await api(`/api/v1/usage/sessions/summary?${range}`);
    assert.equal(drawn.sessionSummary.sessions, sessions.length);
    assert.equal(summary.sessions, sessions.length);

    // The funnel.
    const funnel = await api(`/api/v1/usage/funnel?${range}&steps=page.view,probe.search,probe.view&within=30m`);
    assert.deepEqual(drawn.funnel.steps, funnel.steps);
    assert.deepEqual(drawn.funnel.steps.map((s) => s.sessions), want.funnel);
    assertClose(drawn.funnel.steps.map((s) => s.conversion), want.funnel.map((n, i) => (i === 0 ? 1 : n / want.funnel[i - 1])), 'conversion');

    // The hot list (the last 90 days: the data set).
    const hot = await api('/api/v1/usage/hotlist?days=90&limit=15');
    assert.deepEqual(drawn.hotlist.rows, hot.probes);
    assert.deepEqual(drawn.hotlist.rows.map(({ product, probe, sessions: n, views, channel }) => ({ product, probe, sessions: n, views, channel })), want.hot);

    // Probe builds with their progress.
    const list = await api('/api/v1/probe-builds?limit=20');
    assert.deepEqual(drawn.probeBuilds.rows, list.probe_builds.map((j) => ({ id: j.id, product: j.build.product, channel: j.build.channel, probe: j.build.probe, status: j.status, stage: j.stage, progress: j.progress })));
    assert.deepEqual(drawn.probeBuilds.rows.map((r) => `${r.probe} ${r.status} ${r.progress}`), ['startup failed 0', 'cpu running 0.6', 'gc_ms queued 0']);

    // Screenshots of each panel, then the hourly series.
    await mkdir(screenshotDir, { recursive: true });
    await page.screenshot({ path: path.join(screenshotDir, 'dashboard.png'), fullPage: true });
    for (const id of Object.keys(states)) {
      await page.locator(`#${id}`).screenshot({ path: path.join(screenshotDir, `dashboard-${id}.png`) });
    }

    await page.check('#probe-series input[value=hour]');
    await page.waitForFunction(() => window.glamDashboard.drawn.probeSeries?.interval === 'hour' && document.getElementById('probe-series').dataset.state === 'ready');
    const hourly = await api(`/api/v1/usage/probes/${want.top[0].product}/${want.top[0].probe}/series?${range}&interval=hour`);
    const drawnHourly = await page.evaluate(() => window.glamDashboard.drawn.probeSeries);
    assert.deepEqual(drawnHourly.views, hourly.points.map((p) => p.views));
    assert.deepEqual(drawnHourly.views, want.hourlyViews(key));
    assert.equal(drawnHourly.x[0], set.first);
    await page.locator('#probe-series').screenshot({ path: path.join(screenshotDir, 'dashboard-probe-series-hour.png') });
    assert.deepEqual(logs, [], 'switching the interval logs nothing');
    t.diagnostic(`screenshots in ${screenshotDir}`);
  });

  it('answers 401 to the page\'s API calls with a wrong token, and asks again', async (t) => {
    const b = browser();
    const db = await newDatabase(t);
    if (!db) return;
    const pipeline = await startPipeline(t, { db, extensions: { bearertokenauth: { token } }, usage: { auth: { authenticator: 'bearertokenauth' } } });
    const { page } = await newPage(t, b);
    await page.goto(`${pipeline.api}/dashboard/`);
    await page.waitForSelector('#sign-in[open]');
    await page.fill('#sign-in input[name=token]', 'not-the-token');
    await page.click('#sign-in button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#sign-in').open && document.querySelector('#sign-in-error').textContent !== '');
    assert.match(await page.textContent('#sign-in-error'), /refused/);
    assert.equal(await page.evaluate(() => window.glamDashboard.drawn.topProbes), undefined, 'nothing was drawn');
  });
});
