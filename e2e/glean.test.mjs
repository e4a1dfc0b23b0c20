// Glean.js (v5) in headless Chromium with its server endpoint set to
// otelcol-glam. Two facts of Glean.js shape these tests (checked in its
// source, core/config.js and core/utils.js validateURL):
//   - serverEndpoint must be an https origin with no path, and pings go to
//     {serverEndpoint}/submit/{app}/{ping}/1/{uuid}. So either whatever
//     answers on that origin maps /submit/ to the receiver's
//     {prefix}/submit/ (GLAM's domain, through its proxy), or the endpoint
//     is the collector's own https origin with glean.submit_at_root on.
//   - the default web uploader sends each ping with navigator.sendBeacon, as
//     text/plain; only with a custom header (a debug view tag) does it use
//     fetch, with gzip and a CORS preflight.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { browserSuite } from './lib/browser.mjs';
import { startCollector, ingestPrefix, tempDir } from './lib/collector.mjs';
import { countBy } from './lib/otlp.mjs';
import { startSite } from './lib/site.mjs';
import { makeCert } from './lib/tls.mjs';
import { newPage, useBrowser, viewProbe, search, posts, waitFor } from './lib/suite.mjs';
import { settle, tally, assertEventContract, assertNothingIdentifying } from './lib/usage.mjs';

const submitRoute = ['/submit/', `${ingestPrefix}/submit/`];
const submitPath = new RegExp(`^${ingestPrefix}/submit/glam/events/1/[0-9a-f-]{36}$`);

// Both full scenarios: a page load, three probe views (two of gc_ms), a
// search and a click on an element GLAM tags with data-glean-id.
function sixEvents(sessionId) {
  return {
    events: 6,
    byName: { 'page.view': 1, 'probe.view': 3, 'probe.search': 1, 'glean.element_click': 1 },
    byProbe: { gc_ms: 2, cycle_collector: 1 },
    bySession: { [sessionId]: 6 },
    bySource: { glean: 6 },
    metrics: {},
  };
}

// A page load and one probe view: two pings with Glean's default.
function pageLoadAndView(sessionId, probe) {
  return {
    events: 2,
    byName: { 'page.view': 1, 'probe.view': 1 },
    byProbe: { [probe]: 1 },
    bySession: { [sessionId]: 2 },
    bySource: { glean: 2 },
    metrics: {},
  };
}

describe('Glean.js', browserSuite(), () => {
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
  // tls is the test certificate; without one, each test fails saying why.
  const tls = () => {
    if (certError) throw certError;
    return cert;
  };

  // ingestSite is an https origin that forwards Glean's /submit/ paths to the
  // collector, set once the collector is up.
  async function ingestSite(t, { loseResponses = 0 } = {}) {
    const proxy = { target: '', routes: [submitRoute], loseResponses };
    const s = await startSite({ tls: tls(), proxy });
    t.after(() => s.close());
    return { site: s, to: (collector) => { proxy.target = collector.origin; } };
  }

  async function collectorFor(t, options) {
    const collector = await startCollector(options);
    t.after(() => collector.cleanup());
    return collector;
  }

  async function pings(page, n) {
    await waitFor(async () => (await page.evaluate(() => window.glean.pings.length)) >= n);
    return page.evaluate(() => window.glean.pings);
  }

  it('same origin: every event ping is beaconed to GLAM\'s domain and counted exactly', async (t) => {
    const { site: glam, to } = await ingestSite(t);
    // A beacon is text/plain: the receiver takes it only from an origin on
    // its allow-list, even when GLAM's proxy forwards it from GLAM's origin.
    const collector = await collectorFor(t, { allowedOrigins: [glam.origin] });
    to(collector);
    const { page, context } = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await page.goto(`${glam.origin}/glean.html`);
    const userAgent = await page.evaluate(() => navigator.userAgent);

    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'cycle_collector');
    await search(page, 'gc');
    await page.click('button[data-glean-id]');

    // Glean's default: one events ping per event.
    const sent = await pings(page, 6);
    const sessionId = sent[0].client_info.session_id;
    assert.deepEqual(countBy(sent, (p) => p.client_info.session_id), { [sessionId]: 6 });
    const out = await settle(collector, 6, context);

    assert.deepEqual(tally(out), sixEvents(sessionId));
    assertEventContract(out.events);
    assertNothingIdentifying(out, { userAgent });

    // Glean's automatic page load off GLAM's probe routes is a page view;
    // its URL is kept as origin and path. The click's action is its
    // data-glean-id.
    const load = out.events.find((e) => e.name === 'page.view');
    assert.deepEqual([load.attrs['glam.client_event'], load.attrs.url], ['glean.page_load', `${glam.origin}/glean.html`]);
    const click = out.events.find((e) => e.name === 'glean.element_click');
    assert.equal(click.attrs['glam.action'], 'view-sql-query');

    assert.equal(glam.forwarded.length, 6);
    for (const r of glam.forwarded) {
      assert.match(r.targetPath, submitPath);
      assert.deepEqual([r.method, r.status, r.contentType, r.origin], ['POST', 200, 'text/plain;charset=UTF-8', glam.origin]);
    }
  });

  it('cross origin with fetch, straight to the collector: gzip pings of several events with snake_case extras pass CORS and are counted exactly', async (t) => {
    const app = await startSite({ tls: tls() });
    t.after(() => app.close());
    // serverEndpoint is the collector's own https origin: Glean's /submit/
    // paths are served at its root. The allowed headers are the harness's
    // default (content-type, content-encoding): Glean's X-Telemetry-Agent
    // and X-Debug-ID, which the preflight asks for, are always allowed.
    const collector = await collectorFor(t, {
      allowedOrigins: [app.origin],
      tls: tls(),
      receiver: { glean: { submit_at_root: true } },
    });
    const { page, context, network } = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await page.goto(`${app.origin}/glean.html?maxEvents=3&debugTag=glam-e2e&extras=snake&endpoint=${encodeURIComponent(collector.origin)}`);

    await viewProbe(page, 'gc_ms');
    await viewProbe(page, 'cycle_collector');
    await search(page, 'cc');
    await viewProbe(page, 'gc_ms');
    await page.click('button[data-glean-id]');

    const sent = await pings(page, 2);
    assert.deepEqual(sent.map((p) => p.events.length), [3, 3]);
    const views = sent.flatMap((p) => p.events).filter((e) => e.category === 'probe' && e.name === 'view');
    assert.deepEqual(Object.keys(views[0].extra).sort(), ['channel', 'glean_timestamp', 'os', 'probe_name', 'probe_process', 'product'], 'the page sent snake_case extras');
    const sessionId = sent[0].client_info.session_id;
    // The browser's record of a request is complete only after its
    // response: wait for both before settle closes the browser context.
    const submit = `${collector.origin}/submit/`;
    await waitFor(() => posts(network, submit).length === 2);
    const out = await settle(collector, 6, context);

    // byProbe counts glam.probe.name: the receiver renamed probe_name.
    assert.deepEqual(tally(out), sixEvents(sessionId));
    assertEventContract(out.events);
    const viewed = out.events.filter((e) => e.name === 'probe.view');
    assert.equal(viewed.length, 3);
    for (const e of viewed) {
      const { 'glam.product': product, 'glam.probe.process': process, 'glam.channel': channel, 'glam.os': os } = e.attrs;
      assert.deepEqual({ product, process, channel, os }, { product: 'firefox', process: e.attrs['glam.probe.name'] === 'gc_ms' ? 'parent' : 'content', channel: 'nightly', os: '*' });
      for (const extra of ['product', 'probe_name', 'probe_process', 'channel', 'os']) {
        assert.equal(e.attrs[extra], undefined, `the ${extra} extra was renamed, not copied`);
      }
    }
    const searched = out.events.find((e) => e.name === 'probe.search');
    assert.deepEqual([searched.attrs['glam.product'], searched.attrs.query], ['firefox', 'cc']);

    // A POST the browser sent and saw answered 200 cross-origin with custom
    // headers got through its preflight first.
    assert.deepEqual(posts(network, submit).map((p) => p.replace(/[0-9a-f-]{36}$/, '{uuid}')), [
      '200 /submit/glam/events/1/{uuid}', '200 /submit/glam/events/1/{uuid}',
    ]);
    for (const r of network.filter((n) => n.method === 'POST' && n.url.startsWith(submit))) {
      assert.deepEqual([r.headers['content-type'], r.headers['content-encoding'], r.headers['x-debug-id'], r.headers.origin],
        ['application/json; charset=utf-8', 'gzip', 'glam-e2e', app.origin]);
      assert.match(r.headers['x-telemetry-agent'], /^Glean\/5\.0\.7 \(JS on /);
    }
  });

  it('page hidden: Glean.js sends nothing then; its pending events leave with the next page load, counted once', async (t) => {
    const { site: glam, to } = await ingestSite(t);
    const collector = await collectorFor(t, { allowedOrigins: [glam.origin] });
    to(collector);
    const { page, context } = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    // Three events per ping: the page load and a probe view do not fill one.
    await page.goto(`${glam.origin}/glean.html?maxEvents=3`);
    await viewProbe(page, 'gc_ms');
    await page.goto('about:blank');
    assert.deepEqual(glam.forwarded, [], 'Glean.js submits nothing on pagehide');

    // Back to GLAM (same browser storage, same session): the new page load
    // joins the two stored events and fills the ping.
    await page.goto(`${glam.origin}/glean.html?maxEvents=3`);
    const sent = await pings(page, 1);
    assert.deepEqual(sent.map((p) => [p.ping_info.reason, p.events.length]), [['max_capacity', 3]]);
    const sessionId = sent[0].client_info.session_id;
    const out = await settle(collector, 3, context);

    assert.deepEqual(tally(out), {
      events: 3,
      byName: { 'page.view': 2, 'probe.view': 1 },
      byProbe: { gc_ms: 1 },
      bySession: { [sessionId]: 3 },
      bySource: { glean: 3 },
      metrics: {},
    });
    assert.equal(glam.forwarded.length, 1);
  });

  it('a response lost after the collector took a ping: Glean sends the same document again, its events count once', async (t) => {
    const { site: glam, to } = await ingestSite(t, { loseResponses: 1 });
    const collector = await collectorFor(t, { allowedOrigins: [glam.origin] });
    to(collector);
    const { page, context } = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    // With fetch (a debug tag), Glean sees the 503 and keeps the ping; it
    // uploads it again with the next ping it submits.
    await page.goto(`${glam.origin}/glean.html?debugTag=glam-e2e`);
    await waitFor(() => glam.forwarded.some((r) => r.status === 503));
    await viewProbe(page, 'gc_ms');

    const sent = await pings(page, 2);
    await waitFor(() => glam.forwarded.filter((r) => r.status === 200).length === 2);
    const [lost, ...rest] = glam.forwarded;
    assert.deepEqual([lost.upstreamStatus, lost.status], [200, 503], 'the collector took the first ping, the browser got 503');
    assert.equal(rest.filter((r) => r.targetPath === lost.targetPath).length, 1, 'the same document was sent again');
    const out = await settle(collector, 2, context);

    assert.deepEqual(tally(out), pageLoadAndView(sent[0].client_info.session_id, 'gc_ms'));
  });

  it('from an origin not allowed: pings get 403 and nothing is counted', async (t) => {
    const { site: ingest, to } = await ingestSite(t);
    const app = await startSite({ tls: tls() });
    t.after(() => app.close());
    const stranger = await startSite({ tls: tls() });
    t.after(() => stranger.close());
    const collector = await collectorFor(t, { allowedOrigins: [app.origin] });
    to(collector);
    const pageURL = (origin) => `${origin}/glean.html?endpoint=${encodeURIComponent(ingest.origin)}`;

    const refused = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await refused.page.goto(pageURL(stranger.origin));
    await viewProbe(refused.page, 'gc_ms');
    await pings(refused.page, 2);
    await waitFor(() => ingest.forwarded.filter((r) => r.status).length === 2);
    assert.deepEqual(ingest.forwarded.map((r) => `${r.method} ${r.status} ${r.origin}`), [
      `POST 403 ${stranger.origin}`, `POST 403 ${stranger.origin}`,
    ]);
    await refused.context.close();

    // The barrier: once the allowed page's two events are in, the
    // stranger's would be too.
    const allowed = await newPage(t, browser(), { ignoreHTTPSErrors: true });
    await allowed.page.goto(pageURL(app.origin));
    await viewProbe(allowed.page, 'cycle_collector');
    const sent = await pings(allowed.page, 2);
    const out = await settle(collector, 2, allowed.context);
    assert.deepEqual(tally(out), pageLoadAndView(sent[0].client_info.session_id, 'cycle_collector'));
  });
});
