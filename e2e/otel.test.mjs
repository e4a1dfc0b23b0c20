// The OpenTelemetry JS web SDK (sdk-trace-web with the OTLP/HTTP trace
// exporter, sdk-logs with the OTLP/HTTP log exporter) in headless Chromium
// against a running otelcol-glam.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './lib/browser.mjs';
import { startCollector, ingestPrefix } from './lib/collector.mjs';
import { countBy } from './lib/otlp.mjs';
import { startSite } from './lib/site.mjs';
import { newPage, useBrowser, viewProbe, search, hideByLeaving, hideByClosing, switchTab, posts } from './lib/suite.mjs';
import { settle, tally, assertEventContract, assertNothingIdentifying } from './lib/usage.mjs';

async function setUp(t, collectorOptions) {
  const collector = await startCollector(collectorOptions);
  t.after(() => collector.cleanup());
  return collector;
}

async function site(t, options) {
  const s = await startSite(options);
  t.after(() => s.close());
  return s;
}

// The scenario of the brief, as spans and a log record: a page view, three
// probe views (two of gc_ms, one of cycle_collector) and a search.
function fiveEvents(sessionId) {
  return {
    events: 5,
    byName: { 'page.view': 1, 'probe.view': 3, 'probe.search': 1 },
    byProbe: { gc_ms: 2, cycle_collector: 1 },
    bySession: { [sessionId]: 5 },
    bySource: { otlp_traces: 4, otlp_logs: 1 },
    metrics: {},
  };
}

describe('OpenTelemetry JS web SDK', browserSuite(), () => {
  const browser = useBrowser();

  // openApp opens the page at origin and reads the session it started.
  async function openApp(t, origin, query = '', options = {}) {
    const opened = await newPage(t, browser(), options);
    await opened.page.goto(`${origin}/otel.html${query}`);
    return { ...opened, sessionId: await opened.page.evaluate(() => window.glam.sessionId) };
  }

  // behindGLAM: the collector behind GLAM's own domain, which forwards the
  // ingest paths, and the page open there: it posts to its own origin, so
  // no CORS is involved.
  async function behindGLAM(t, { query = '', loseResponses = 0, receiver = {} } = {}) {
    const collector = await setUp(t, { receiver });
    const glam = await site(t, { proxy: { target: collector.origin, routes: [[`${ingestPrefix}/`, `${ingestPrefix}/`]], loseResponses } });
    return { collector, glam, ...(await openApp(t, glam.origin, query)) };
  }

  // crossOrigin: the page on a site of its own, posting straight to the
  // collector, which lists that site's origin for CORS.
  async function crossOrigin(t) {
    const app = await site(t);
    const collector = await setUp(t, { allowedOrigins: [app.origin] });
    return { app, collector, ...(await openApp(t, app.origin, `?ingest=${encodeURIComponent(collector.ingest)}`)) };
  }

  it('same origin through GLAM\'s proxy: a session\'s events arrive, exactly, when the page is hidden', async (t) => {
    const { collector, glam, page, context, sessionId } = await behindGLAM(t);
    const userAgent = await page.evaluate(() => navigator.userAgent);

    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'cycle_collector');
    await search(page, 'gc');
    assert.deepEqual(glam.forwarded, [], 'nothing is sent while the page is visible (the batch delay is long)');

    await hideByLeaving(page);
    const out = await settle(collector, 5, context);

    assert.deepEqual(tally(out), fiveEvents(sessionId));
    assertEventContract(out.events);
    assertNothingIdentifying(out, { userAgent });

    // The pagehide flush sent one request per signal, and both were accepted.
    assert.deepEqual(countBy(glam.forwarded, (r) => `${r.method} ${r.targetPath} ${r.status} ${r.contentType}`), {
      [`POST ${ingestPrefix}/v1/traces 200 application/json`]: 1,
      [`POST ${ingestPrefix}/v1/logs 200 application/json`]: 1,
    });

    // GLAM's attributes are on the events, which is what glam_eventlog
    // derives its measurements' tags from once they are stored.
    const gcView = out.events.find((e) => e.attrs['glam.probe.name'] === 'gc_ms');
    assert.equal(gcView.attrs['glam.probe.process'], 'parent');
    assert.equal(gcView.attrs['glam.product'], 'firefox');
    assert.equal(gcView.attrs['glam.channel'], 'nightly');
    const searchEvent = out.events.find((e) => e.name === 'probe.search');
    assert.equal(searchEvent.attrs['glam.search.query'], 'gc', 'attributes outside GLAM\'s own are kept');
  });

  it('the OTLP/protobuf exporters (application/x-protobuf) are counted the same way', async (t) => {
    const { collector, glam, page, context, sessionId } = await behindGLAM(t, { query: '?format=proto' });
    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'checkerboard_severity');
    await search(page, 'checkerboard');

    await hideByLeaving(page);
    const out = await settle(collector, 4, context);

    assert.deepEqual(tally(out), {
      events: 4,
      byName: { 'page.view': 1, 'probe.view': 2, 'probe.search': 1 },
      byProbe: { gc_ms: 1, checkerboard_severity: 1 },
      bySession: { [sessionId]: 4 },
      bySource: { otlp_traces: 3, otlp_logs: 1 },
      metrics: {},
    });
    assertEventContract(out.events);
    assert.deepEqual(glam.forwarded.map((r) => `${r.targetPath} ${r.status} ${r.contentType}`).sort(), [
      `${ingestPrefix}/v1/logs 200 application/x-protobuf`,
      `${ingestPrefix}/v1/traces 200 application/x-protobuf`,
    ]);
  });

  it('cross origin with CORS: a session spanning a reload arrives, exactly, when the tab is closed', async (t) => {
    const { collector, page, network, context, sessionId } = await crossOrigin(t);

    await viewProbe(page, 'checkerboard_severity');
    await search(page, 'checkerboard');
    // A reload hides the page (flush) and starts it again in the same session.
    await page.reload();
    assert.equal(await page.evaluate(() => window.glam.sessionId), sessionId, 'a reload keeps the session');
    // The flush on reload was a cross-origin fetch the browser let through
    // (the collector answered the preflight): the first page's 3 events.
    assert.deepEqual(countBy(await collector.waitForEvents(3), (e) => e.name), { 'page.view': 1, 'probe.view': 1, 'probe.search': 1 });
    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'checkerboard_severity');
    assert.deepEqual(posts(network, collector.ingest), [], 'the reloaded page sends nothing before it is hidden');

    await hideByClosing(page);
    const out = await settle(collector, 6, context);

    assert.deepEqual(tally(out), {
      events: 6,
      byName: { 'page.view': 2, 'probe.view': 3, 'probe.search': 1 },
      byProbe: { checkerboard_severity: 2, gc_ms: 1 },
      bySession: { [sessionId]: 6 },
      bySource: { otlp_traces: 5, otlp_logs: 1 },
      metrics: {},
    });
    assertEventContract(out.events);
  });

  it('a tab switch (hidden, not unloaded) flushes; back on the tab, the next switch sends only what is new', async (t) => {
    const { collector, page, context, sessionId } = await crossOrigin(t);

    await viewProbe(page, 'gc_ms');
    await search(page, 'gc');
    await switchTab(page, 'hidden');
    assert.deepEqual(countBy(await collector.waitForEvents(3), (e) => e.name), { 'page.view': 1, 'probe.view': 1, 'probe.search': 1 });

    await switchTab(page, 'visible');
    await viewProbe(page, 'cycle_collector');
    await viewProbe(page, 'gc_ms');
    await switchTab(page, 'hidden');
    const out = await settle(collector, 5, context);

    assert.deepEqual(tally(out), fiveEvents(sessionId));
    assertEventContract(out.events);
  });

  it('a response lost after the collector took the batch: the SDK sends it again, each event counts once', async (t) => {
    const { collector, glam, page, context, sessionId } = await behindGLAM(t, { loseResponses: 1 });
    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'cycle_collector');

    // The SDK retries the 503 after its Retry-After; the flush succeeds.
    assert.deepEqual(await page.evaluate(() => window.glam.flush()), [true, true]);
    assert.deepEqual(glam.forwarded.map((r) => `${r.targetPath} ${r.upstreamStatus} ${r.status}`), [
      `${ingestPrefix}/v1/traces 200 503`,
      `${ingestPrefix}/v1/traces 200 200`,
    ], 'the collector took the batch twice');
    const out = await settle(collector, 3, context);

    assert.deepEqual(tally(out), {
      events: 3,
      byName: { 'page.view': 1, 'probe.view': 2 },
      byProbe: { gc_ms: 1, cycle_collector: 1 },
      bySession: { [sessionId]: 3 },
      bySource: { otlp_traces: 3 },
      metrics: {},
    });
  });

  it('Do Not Track: with respect_do_not_track, a browser sending DNT: 1 is answered 200 and nothing of it is counted', async (t) => {
    const { collector, glam, page, context } = await behindGLAM(t, { receiver: { respect_do_not_track: true } });
    await viewProbe(page, 'gc_ms');
    // Another person, whose browser sends DNT: 1 with every request.
    const tracked = await openApp(t, glam.origin, '', { headers: { DNT: '1' } });
    await viewProbe(tracked.page, 'gc_ms');
    await search(tracked.page, 'gc');
    assert.deepEqual(await tracked.page.evaluate(() => window.glam.flush()), [true, true], 'the SDK sees success and does not retry');
    assert.deepEqual(glam.forwarded.map((r) => `${r.targetPath} ${r.status}`).sort(), [
      `${ingestPrefix}/v1/logs 200`, `${ingestPrefix}/v1/traces 200`,
    ]);

    // The page without DNT is the barrier.
    const sessionId = await page.evaluate(() => window.glam.sessionId);
    assert.deepEqual(await page.evaluate(() => window.glam.flush()), [true, true]);
    const out = await settle(collector, 2, context, tracked.context);
    assert.deepEqual(tally(out), {
      events: 2,
      byName: { 'page.view': 1, 'probe.view': 1 },
      byProbe: { gc_ms: 1 },
      bySession: { [sessionId]: 2 },
      bySource: { otlp_traces: 2 },
      metrics: {},
    });
  });

  it('cross origin from an origin not allowed: the browser refuses, the collector gets nothing', async (t) => {
    const app = await site(t);
    const stranger = await site(t);
    const collector = await setUp(t, { allowedOrigins: [app.origin] });

    // timeout bounds the SDK's retries of the refused export.
    const refused = await openApp(t, stranger.origin, `?timeout=2000&ingest=${encodeURIComponent(collector.ingest)}`);
    await viewProbe(refused.page, 'gc_ms');
    await viewProbe(refused.page, 'cycle_collector');
    assert.deepEqual(await refused.page.evaluate(() => window.glam.flush()), [false, true], 'the span flush fails, there were no logs');
    const exports = await refused.page.evaluate(() => window.glam.exports);
    assert.deepEqual(exports.map(({ signal, items, code }) => ({ signal, items, code })), [
      { signal: 'traces', items: 3, code: 1 },
    ], 'the SDK reports the export failed');
    const failed = posts(refused.network, collector.ingest);
    assert.ok(failed.length >= 1 && failed.every((r) => r === `net::ERR_FAILED ${ingestPrefix}/v1/traces`),
      `every POST failed in the browser (CORS): ${failed}`);
    await refused.context.close();

    // The allowed origin's events are the barrier: once they are in, any
    // event of the stranger's session would be too.
    const allowed = await openApp(t, app.origin, `?ingest=${encodeURIComponent(collector.ingest)}`);
    await viewProbe(allowed.page, 'gc_ms');
    assert.deepEqual(await allowed.page.evaluate(() => window.glam.flush()), [true, true]);
    const out = await settle(collector, 2, allowed.context);

    assert.notEqual(allowed.sessionId, refused.sessionId);
    assert.deepEqual(tally(out), {
      events: 2,
      byName: { 'page.view': 1, 'probe.view': 1 },
      byProbe: { gc_ms: 1 },
      bySession: { [allowed.sessionId]: 2 },
      bySource: { otlp_traces: 2 },
      metrics: {},
    });
  });
});
