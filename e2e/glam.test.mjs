// GLAM as it is (issue 15): a GLAM-like single-page app (pages/glam-app.js:
// GLAM's page.js routes, its state in the query string, its data-glean-id
// elements) with GLAM's own client set-up, in several browser profiles,
// against the whole pipeline as testdata/config.yaml runs it — glam
// receiver → glam_postgres (raw events: the event log); glam_eventlog (the
// committed log read back in order) → glam_views → glam_postgres (view
// rows, merged with the consumer's offset) — on a fresh PostgreSQL
// database, and the exact answers of the usage API (glam_usage) for what
// the browsers did.
//
// Each test drives its people, waits until the raw event table holds every
// event and the views' offset has reached the last of them, stops the
// collector gracefully, restarts the views' consumer (read from the offset,
// sessions restored, stopped again: exactly once, it changes nothing) and
// reads the API from a collector on the same database, which nothing sends
// to: its answers are final (lib/pipeline.mjs, drain).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { browserSuite } from './lib/browser.mjs';
import { ingestPrefix, tempDir } from './lib/collector.mjs';
import { startPipeline, drain, utcDay, awayFromMidnight } from './lib/pipeline.mjs';
import { countBy } from './lib/otlp.mjs';
import { newDatabase } from './lib/postgres.mjs';
import { startSite } from './lib/site.mjs';
import { makeCert } from './lib/tls.mjs';
import { newPage, useBrowser, hideByLeaving, hideByClosing, waitFor } from './lib/suite.mjs';

// describe is one stored event as the tests compare it: its name, the probe
// (product/probe), GLAM's view, channel and process, and a click's action.
function describeEvent(e) {
  const a = e.attributes || {};
  return [e.name, e.probe && `${e.product}/${e.probe}`, a['glam.view'], e.channel, e.process, a['glam.action']].filter(Boolean).join(' ');
}

// micros is an RFC 3339 time in microseconds since the epoch (Date.parse
// stops at milliseconds).
function micros(time) {
  const [, whole, fraction = ''] = time.match(/^([^.Z]+)(?:\.(\d+))?Z$/);
  return Date.parse(`${whole}Z`) * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

// inOrder is a session's events, described, in the API's order (event time,
// then event id), beside the expectation. Events less than a millisecond
// apart have no order a client can promise: a Glean page load and the click
// that caused it may share a millisecond (then the random event id orders
// them), and the OTel SDK dates each span from performance.now() plus its
// own reading of Date.now(), whole milliseconds, so a documentLoad span and
// its documentFetch, which both start at the navigation's fetchStart, come
// out up to a millisecond apart either way. Such runs are sorted, in the
// answer and at the same places in the expectation.
function inOrder(events, expected) {
  const got = [];
  const want = [];
  for (let i = 0; i < events.length;) {
    let j = i;
    while (j < events.length && micros(events[j].time) - micros(events[i].time) <= 1000) j++;
    got.push(...events.slice(i, j).map(describeEvent).sort());
    want.push(...expected.slice(i, j).sort());
    i = j;
  }
  want.push(...expected.slice(events.length));
  return [got, want];
}

const round = (d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Math.round(v * 1e6) / 1e6]));

// summaryShape is the session summary without its durations, which are the
// browser's own timing; they are checked for bounds instead.
function summaryShape(s, elapsedSeconds) {
  const { duration_seconds: d, ...rest } = s;
  for (const v of Object.values(d)) assert.ok(v > 0 && v < elapsedSeconds, `session durations are real: ${JSON.stringify(d)}`);
  return { ...rest, events_per_session: round(s.events_per_session), probes_per_session: round(s.probes_per_session) };
}

// today is the UTC day the test's events fall on, as the API's parameters
// and answers write it.
function today() {
  const day = utcDay();
  const midnight = `${day}T00:00:00Z`;
  const next = new Date(Date.parse(midnight) + 86400000).toISOString();
  const ymd = (d) => d.slice(0, 10).replaceAll('-', '');
  return {
    range: `from=${day}&to=${day}`,
    midnight,
    tomorrow: next.replace('.000Z', 'Z'),
    // GLAM's own endpoint: YYYYMMDD, toDate exclusive.
    glamDates: `fromDate=${ymd(day)}&toDate=${ymd(next)}`,
  };
}

// asker asks the usage API and logs each answer as a test diagnostic (the
// TAP output then shows what the API said for what the browsers did).
function asker(t, usage) {
  return async (path) => {
    const answer = await usage.get(path);
    t.diagnostic(`${path} → ${JSON.stringify(answer)}`);
    return answer;
  };
}

// viewRows is a view's answer as {tag value: count}.
function viewRows(answer, tag) {
  return Object.fromEntries(answer.rows.map((r) => [r.tags[tag] ?? '(none)', r.count]));
}

describe('GLAM as it is: the whole pipeline, the usage API\'s answers', browserSuite(), () => {
  const browser = useBrowser();
  let certDir;
  let cert;
  let certError;
  before(async () => {
    certDir = await tempDir('tls');
    try {
      cert = makeCert(certDir);
    } catch (err) {
      certError = err;
    }
  });
  after(async () => {
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  // glamSite is GLAM's own origin serving the app for every route, its
  // proxy forwarding prefix to the collector (set once it is up: the
  // receiver's allow-list needs the site's origin first).
  async function glamSite(t, { app, tls = null, routes }) {
    const proxy = { target: '', routes };
    const site = await startSite({ tls, proxy, app });
    t.after(() => site.close());
    return { site, to: (pipeline) => { proxy.target = pipeline.origin; } };
  }

  async function setUp(t, site) {
    await awayFromMidnight();
    const db = await newDatabase(t);
    if (!db) return null;
    const pipeline = await startPipeline(t, { db, allowedOrigins: [site.site.origin] });
    site.to(pipeline);
    return { db, pipeline };
  }

  it('Glean.js 5.0.7 initialised as GLAM does, three people: probe views, sessions and actions, exactly', async (t) => {
    if (certError) throw certError;
    const glam = await glamSite(t, { app: 'glam.html', tls: cert, routes: [['/submit/', `${ingestPrefix}/submit/`]] });
    const setup = await setUp(t, glam);
    if (!setup) return;
    const { db, pipeline } = setup;
    const { origin } = glam.site;
    const started = Date.now();
    // Glean's default: one events ping per event, beaconed at once; each
    // step waits until the proxy has the pings it causes, answered 200.
    // Glean.js would send a ping again after a reload if the page went
    // before it had taken it off its queue (the receiver counts it once):
    // pings are told apart by their document id (the path).
    const documents = () => [...new Map(glam.site.forwarded.filter((r) => r.status === 200).map((r) => [r.targetPath, r])).values()];
    const delivered = (n) => waitFor(() => documents().length >= n);
    const pings = () => documents().map((r) => JSON.parse(r.body.toString()));

    // A: a full load of a probe with GLAM's default state (no query
    // string), the SQL modal and its copy button, the channel menu (a state
    // change: no event), a search result (in-app), the table view (in-app,
    // and a click on the view control), the back button, a reload.
    const a = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await a.page.goto(`${origin}/firefox/probe/gc_ms/explore`);
    await delivered(1);
    await a.page.click('[data-glean-id="view-sql-query"]');
    await a.page.click('[data-glean-id="copy-sql-query__glam-sql"]');
    await delivered(3);
    await a.page.click('#channel-menu button[data-value="beta"]');
    await a.page.fill('#search-input', 'cycle');
    await a.page.click('.search-result[data-probe="firefox/cycle_collector"]');
    await delivered(4);
    await a.page.click('#toolbar [data-option="table"] button');
    await delivered(6);
    await a.page.goBack();
    await delivered(7);
    assert.equal(a.page.url(), `${origin}/firefox/probe/cycle_collector/explore?channel=beta`, 'GLAM\'s state is in the query string');
    await a.page.reload();
    await delivered(8);

    // B: the home page, a probe from it (a page.js link), the time horizon
    // control, Export to JSON, home again (in-app).
    const b = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await b.page.goto(`${origin}/`);
    await delivered(9);
    await b.page.click('a.probe-sm[href="/fog/probe/gc_ms/explore?"]');
    await delivered(10);
    await b.page.click('[data-control="time-horizon-control"] [data-option="WEEK"] button');
    await b.page.click('[data-glean-id="export-json"]');
    await delivered(12);
    await b.page.click('#home-link');
    await delivered(13);

    // C: a shared link with a whole state (and a parameter of another
    // site's), then the time horizon back to GLAM's default.
    const c = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await c.page.goto(`${origin}/firefox/probe/gc_ms/explore?channel=release&process=parent&os=Windows&timeHorizon=WEEK&utm_source=newsletter`);
    await delivered(14);
    await c.page.click('[data-control="time-horizon-control"] [data-option="MONTH"] button');
    await delivered(15);

    const sent = pings();
    const sessionOf = (i) => sent[i].client_info.session_id;
    const [A, B, C] = [sessionOf(0), sessionOf(8), sessionOf(13)];
    assert.deepEqual(sent.map((p) => p.client_info.session_id), [...Array(8).fill(A), ...Array(5).fill(B), ...Array(2).fill(C)],
      'one session per browser profile, kept across the reload (localStorage)');
    // Two beacons sent together may arrive in either order: per session.
    const who = { [A]: 'A', [B]: 'B', [C]: 'C' };
    assert.deepEqual(sent.map((p) => p.events.length), Array(15).fill(1), 'one event a ping (Glean\'s default maxEvents)');
    assert.deepEqual(countBy(sent, (p) => `${who[p.client_info.session_id]} ${p.events[0].category}.${p.events[0].name}`), {
      'A glean.page_load': 5, 'A glean.element_click': 3,
      'B glean.page_load': 3, 'B glean.element_click': 2,
      'C glean.page_load': 1, 'C glean.element_click': 1,
    }, 'Glean\'s own events only: a page load per full load and per in-app navigation, a click per data-glean-id element');
    for (const r of glam.site.forwarded) {
      assert.deepEqual([r.method, r.contentType, r.origin], ['POST', 'text/plain;charset=UTF-8', origin], 'every ping is a beacon from GLAM\'s origin');
    }

    const usage = await drain(t, pipeline, db, 15, a.context, b.context, c.context);
    const elapsed = (Date.now() - started) / 1000;
    const { range, midnight, tomorrow, glamDates } = today();
    const ask = asker(t, usage);

    const status = await ask('/api/v1/usage/status');
    assert.equal(status.events_today, 15, 'every event stored once');

    const top = await ask(`/api/v1/usage/probes/top?${range}`);
    assert.deepEqual(top.probes, [
      { product: 'firefox', probe: 'cycle_collector', views: 4, sessions: 1 },
      { product: 'firefox', probe: 'gc_ms', views: 2, sessions: 2 },
      { product: 'fog', probe: 'gc_ms', views: 1, sessions: 1 },
    ]);

    const series = await ask(`/api/v1/usage/probes/firefox/gc_ms/series?${range}&interval=day`);
    assert.deepEqual(series.points, [{ start: midnight, end: tomorrow, views: 2, sessions: 2 }]);

    const summary = await ask(`/api/v1/usage/sessions/summary?${range}`);
    assert.deepEqual(summaryShape(summary, elapsed), {
      from: midnight, to: tomorrow, sessions: 3, events: 15,
      // A 8, B 5, C 2 events; A looked at 2 probes, B and C at 1.
      events_per_session: { mean: 5, median: 5, p90: 7.4 },
      probes_per_session: { mean: 1.333333, median: 1, p90: 1.8 },
    });

    const sessions = {};
    for (const [name, id] of Object.entries({ A, B, C })) {
      sessions[name] = await ask(`/api/v1/usage/sessions/${id}`);
    }
    assert.deepEqual(...inOrder(sessions.A.events, [
      'probe.view firefox/gc_ms explore nightly content',
      'glean.element_click firefox/gc_ms explore nightly content view-sql-query',
      'glean.element_click firefox/gc_ms explore nightly content copy-sql-query__glam-sql',
      'probe.view firefox/cycle_collector explore beta content',
      'probe.view firefox/cycle_collector table beta content',
      'glean.element_click firefox/cycle_collector table beta content toggle-probe-view-control-table-true',
      'probe.view firefox/cycle_collector explore beta content',
      'probe.view firefox/cycle_collector explore beta content',
    ]));
    assert.deepEqual(...inOrder(sessions.B.events, [
      'page.view',
      'probe.view fog/gc_ms explore nightly',
      'glean.element_click fog/gc_ms explore nightly toggle-time-horizon-control-week-true',
      'glean.element_click fog/gc_ms explore nightly export-json',
      'page.view',
    ]));
    assert.deepEqual(...inOrder(sessions.C.events, [
      'probe.view firefox/gc_ms explore release parent',
      'glean.element_click firefox/gc_ms explore release parent toggle-time-horizon-control-month-true',
    ]));
    const shared = sessions.C.events[0];
    assert.deepEqual([shared.os, shared.attributes['glam.client_event'], shared.attributes.url], [
      'Windows', 'glean.page_load', `${origin}/firefox/probe/gc_ms/explore?channel=release&os=Windows&process=parent`,
    ], 'the URL is kept as GLAM\'s route and mapped state: no timeHorizon, no utm_source');
    for (const e of Object.values(sessions).flatMap((s) => s.events)) {
      if (e.name.endsWith('.view')) assert.equal(e.attributes['glam.client_event'], 'glean.page_load');
    }

    const hot = await ask('/api/v1/usage/hotlist?days=1');
    assert.deepEqual(hot.probes, [
      // Two sessions: first. Its views were on nightly (A) and release (C):
      // a tie, the channel's name decides.
      { rank: 1, product: 'firefox', probe: 'gc_ms', channel: 'nightly', sessions: 2, views: 2, last_viewed_day: midnight },
      { rank: 2, product: 'firefox', probe: 'cycle_collector', channel: 'beta', sessions: 1, views: 4, last_viewed_day: midnight },
      { rank: 3, product: 'fog', probe: 'gc_ms', channel: 'nightly', sessions: 1, views: 1, last_viewed_day: midnight },
    ]);

    const glamCount = await ask(`/api/v1/usage/?${glamDates}&fields=probe_name&agg=count`);
    assert.deepEqual(glamCount, [{ probe_name: 'cycle_collector', total: 4 }, { probe_name: 'gc_ms', total: 3 }],
      'GLAM\'s own endpoint: probe views (its PROBE_SEARCH) by probe name, over products');
    const glamBySession = await ask(`/api/v1/usage/?${glamDates}&fields=probe_name,tracking_id&agg=count`);
    assert.deepEqual(glamBySession.map((r) => `${r.probe_name} ${who[r.tracking_id]} ${r.total}`).sort(),
      ['cycle_collector A 4', 'gc_ms A 1', 'gc_ms B 1', 'gc_ms C 1']);

    const channels = await ask(`/api/v1/usage/views/glam.probe_views.daily?${range}&group_by=glam.channel`);
    assert.deepEqual(viewRows(channels, 'glam.channel'), { beta: 4, nightly: 2, release: 1 }, 'the channel in the URL (or GLAM\'s default) reached the views');
    const actions = await ask(`/api/v1/usage/views/glam.actions.daily?${range}&group_by=glam.action`);
    assert.deepEqual(viewRows(actions, 'glam.action'), {
      'view-sql-query': 1, 'copy-sql-query__glam-sql': 1, 'toggle-probe-view-control-table-true': 1,
      'toggle-time-horizon-control-week-true': 1, 'export-json': 1, 'toggle-time-horizon-control-month-true': 1,
    });
    const pages = await ask(`/api/v1/usage/views/glam.page_views.daily?${range}`);
    assert.deepEqual(pages.rows.map((r) => r.count), [2], 'the home page twice (B): page views, not probe views');
  });

  it('OpenTelemetry JS web SDK with the document-load instrumentation, two people: full loads and in-app navigations, exactly', async (t) => {
    const glam = await glamSite(t, { app: 'glam-otel.html', routes: [[`${ingestPrefix}/`, `${ingestPrefix}/`]] });
    const setup = await setUp(t, glam);
    if (!setup) return;
    const { db, pipeline } = setup;
    const { origin } = glam.site;
    const started = Date.now();
    // The documentLoad span ends a moment after the load event, with the
    // URL of that moment: wait for it before navigating in the app.
    const loaded = (page) => waitFor(() => page.evaluate(() => window.glam.ended.includes('documentLoad')));

    // D: a full load of a probe with a process, a search result (in-app),
    // the table view (in-app), home (in-app), then away from GLAM.
    const d = await newPage(t, browser());
    await d.page.goto(`${origin}/firefox/probe/gc_ms/explore?process=parent`);
    await loaded(d.page);
    await d.page.fill('#search-input', 'cycle');
    await d.page.click('.search-result[data-probe="firefox/cycle_collector"]');
    await d.page.click('#toolbar [data-option="table"] button');
    await d.page.click('#home-link');
    const D = await d.page.evaluate(() => window.glam.sessionId);
    await hideByLeaving(d.page);

    // E: the home page, a probe from it, another channel (a state change:
    // no span), a reload, then the tab closed.
    const e = await newPage(t, browser());
    await e.page.goto(`${origin}/`);
    await loaded(e.page);
    await e.page.click('a.probe-sm[href="/fog/probe/gc_ms/explore?"]');
    await e.page.click('#channel-menu button[data-value="beta"]');
    assert.equal(e.page.url(), `${origin}/fog/probe/gc_ms/explore?app_id=beta`);
    await e.page.reload();
    await loaded(e.page);
    const E = await e.page.evaluate(() => window.glam.sessionId);
    const userAgent = await e.page.evaluate(() => navigator.userAgent);
    await hideByClosing(e.page);

    // Per full load: documentLoad (a page or probe view), documentFetch and
    // one resourceFetch (the app's script, its only resource). D: 1 full
    // load, 3 in-app navigations = 6; E: 2 full loads, 1 navigation = 7.
    const usage = await drain(t, pipeline, db, 13, d.context, e.context);
    const elapsed = (Date.now() - started) / 1000;
    const { range, midnight, tomorrow, glamDates } = today();
    const ask = asker(t, usage);

    assert.equal((await ask('/api/v1/usage/status')).events_today, 13, 'every span stored once');
    assert.deepEqual((await ask(`/api/v1/usage/probes/top?${range}`)).probes, [
      { product: 'firefox', probe: 'cycle_collector', views: 2, sessions: 1 },
      { product: 'fog', probe: 'gc_ms', views: 2, sessions: 1 },
      { product: 'firefox', probe: 'gc_ms', views: 1, sessions: 1 },
    ]);
    assert.deepEqual((await ask(`/api/v1/usage/probes/fog/gc_ms/series?${range}&interval=day`)).points,
      [{ start: midnight, end: tomorrow, views: 2, sessions: 1 }]);
    assert.deepEqual(summaryShape(await ask(`/api/v1/usage/sessions/summary?${range}`), elapsed), {
      from: midnight, to: tomorrow, sessions: 2, events: 13,
      events_per_session: { mean: 6.5, median: 6.5, p90: 6.9 },
      probes_per_session: { mean: 1.5, median: 1.5, p90: 1.9 },
    });

    const sessionD = await ask(`/api/v1/usage/sessions/${D}`);
    assert.deepEqual(...inOrder(sessionD.events, [
      'probe.view firefox/gc_ms explore nightly parent',
      'documentFetch firefox/gc_ms explore nightly parent',
      'resourceFetch',
      'probe.view firefox/cycle_collector explore nightly parent',
      'probe.view firefox/cycle_collector table nightly parent',
      'page.view',
    ]));
    const sessionE = await ask(`/api/v1/usage/sessions/${E}`);
    assert.deepEqual(...inOrder(sessionE.events, [
      'page.view',
      'documentFetch',
      'resourceFetch',
      'probe.view fog/gc_ms explore nightly',
      'probe.view fog/gc_ms explore beta',
      'documentFetch fog/gc_ms explore beta',
      'resourceFetch',
    ]));
    const clientEvents = [...sessionD.events, ...sessionE.events].filter((ev) => ev.name.endsWith('.view')).map((ev) => ev.attributes['glam.client_event'] ?? '(own name)');
    assert.deepEqual(clientEvents.sort(), ['(own name)', 'documentLoad', 'documentLoad', 'documentLoad', 'page.view', 'page.view', 'page.view']);
    const script = sessionE.events.find((ev) => ev.name === 'resourceFetch');
    assert.equal(script.attributes['url.full'], `${origin}/dist/glam-otel.js`);
    for (const ev of [...sessionD.events, ...sessionE.events]) {
      assert.equal(ev.attributes['user_agent.original'], undefined, 'the documentLoad span\'s user agent is not kept');
      assert.ok(!Object.values(ev.attributes).includes(userAgent));
    }

    assert.deepEqual((await ask('/api/v1/usage/hotlist?days=1')).probes, [
      { rank: 1, product: 'firefox', probe: 'cycle_collector', channel: 'nightly', sessions: 1, views: 2, last_viewed_day: midnight },
      // nightly (the link) and beta (the reload after the channel menu): a tie.
      { rank: 2, product: 'fog', probe: 'gc_ms', channel: 'beta', sessions: 1, views: 2, last_viewed_day: midnight },
      { rank: 3, product: 'firefox', probe: 'gc_ms', channel: 'nightly', sessions: 1, views: 1, last_viewed_day: midnight },
    ]);
    assert.deepEqual(await ask(`/api/v1/usage/?${glamDates}&fields=probe_name&agg=count`),
      [{ probe_name: 'gc_ms', total: 3 }, { probe_name: 'cycle_collector', total: 2 }]);
    assert.deepEqual(viewRows(await ask(`/api/v1/usage/views/glam.probe_views.daily?${range}&group_by=glam.channel`), 'glam.channel'),
      { nightly: 4, beta: 1 });
  });
});
