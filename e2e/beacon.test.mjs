// navigator.sendBeacon with a string body: text/plain;charset=UTF-8, no
// preflight, no response the page can read. The receiver accepts it as
// OTLP/JSON only from an origin on its allow-list (SPEC §3), so the
// allow-list, not the browser, is what stands between another site and the
// pipeline.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { browserSuite } from './lib/browser.mjs';
import { startCollector, ingestPrefix } from './lib/collector.mjs';
import { startSite } from './lib/site.mjs';
import { newPage, useBrowser, search, posts, waitFor } from './lib/suite.mjs';
import { settle, tally, assertEventContract } from './lib/usage.mjs';

describe('navigator.sendBeacon (text/plain OTLP/JSON)', browserSuite(), () => {
  const browser = useBrowser();

  it('from an allowed origin: counted; from another origin: 403 and not counted', async (t) => {
    const app = await startSite();
    t.after(() => app.close());
    const stranger = await startSite();
    t.after(() => stranger.close());
    const collector = await startCollector({ allowedOrigins: [app.origin] });
    t.after(() => collector.cleanup());
    const pageURL = (origin) => `${origin}/otel.html?transport=beacon&timeout=2000&ingest=${encodeURIComponent(collector.ingest)}`;

    // A page on another site beacons two searches at the collector: the
    // browser sends them (no preflight guards a text/plain POST) and the
    // receiver answers 403.
    const refused = await newPage(t, browser());
    await refused.page.goto(pageURL(stranger.origin));
    await search(refused.page, 'stolen');
    await search(refused.page, 'again');
    // The page.view span's fetch fails CORS; the beacon was queued, which is
    // all a page can know of it.
    assert.deepEqual(await refused.page.evaluate(() => window.glam.flush()), [false, true]);
    await waitFor(() => posts(refused.network, `${collector.ingest}/v1/logs`).length === 1);
    assert.deepEqual(posts(refused.network, `${collector.ingest}/v1/logs`), [`403 ${ingestPrefix}/v1/logs`]);
    await refused.context.close();

    const allowed = await newPage(t, browser());
    await allowed.page.goto(pageURL(app.origin));
    const sessionId = await allowed.page.evaluate(() => window.glam.sessionId);
    await search(allowed.page, 'gc');
    await search(allowed.page, 'cycle');
    assert.deepEqual(await allowed.page.evaluate(() => window.glam.flush()), [true, true]);
    await waitFor(() => posts(allowed.network, `${collector.ingest}/v1/logs`).length === 1);
    assert.deepEqual(posts(allowed.network, `${collector.ingest}/v1/logs`), [`200 ${ingestPrefix}/v1/logs`]);
    const beacons = allowed.network.filter((r) => r.url.endsWith('/v1/logs'));
    assert.deepEqual(beacons.map((r) => r.type), ['ping'], 'the browser sent the logs as a beacon');

    // The allowed page's page.view span went by fetch; its two searches by
    // beacon. Nothing of the stranger's arrived.
    const out = await settle(collector, 3, allowed.context);
    assert.deepEqual(tally(out), {
      events: 3,
      byName: { 'page.view': 1, 'probe.search': 2 },
      byProbe: {},
      bySession: { [sessionId]: 3 },
      bySource: { otlp_traces: 1, otlp_logs: 2 },
      metrics: {},
    });
    assertEventContract(out.events);
    assert.deepEqual(out.events.filter((e) => e.name === 'probe.search').map((e) => e.attrs['glam.search.query']).sort(), ['cycle', 'gc']);
  });
});
