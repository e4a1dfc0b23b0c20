// End-to-end throughput, browser to pipeline: how fast usage events recorded
// in a real page reach the collector's file exporter. Not a test (nothing is
// asserted about time); run it with `npm run bench`.
//
//   BENCH_EVENTS  events per run (default 5000)
//   BENCH_RUNS    runs per client, the median is reported (default 3)
//
// OTel: the page records BENCH_EVENTS probe.view spans, then flushes (the
// SDK sends batches of 512 spans by fetch, cross-origin). Glean: the page
// records BENCH_EVENTS probe.view events in pings of 100 events, each
// beaconed to an https origin that forwards to the collector. The clock
// runs from the first recorded event to the last event on disk.
import { rm } from 'node:fs/promises';
import { buildPages } from './build.mjs';
import { launchBrowser, openPage } from './lib/browser.mjs';
import { startCollector, ingestPrefix, tempDir } from './lib/collector.mjs';
import { startSite } from './lib/site.mjs';
import { makeCert } from './lib/tls.mjs';

const N = Number(process.env.BENCH_EVENTS) || 5000;
const RUNS = Number(process.env.BENCH_RUNS) || 3;
const probes = Array.from({ length: 50 }, (_, i) => `probe_${i}`);

async function otelRun(browser) {
  const app = await startSite();
  const collector = await startCollector({ allowedOrigins: [app.origin] });
  const { page, context } = await openPage(browser);
  try {
    await page.goto(`${app.origin}/otel.html?ingest=${encodeURIComponent(collector.ingest)}`);
    const started = Date.now();
    await page.evaluate(([n, names]) => {
      for (let i = 0; i < n; i++) window.glam.event('probe.view', { 'glam.probe.name': names[i % names.length] });
      return window.glam.flush();
    }, [N, probes]);
    await collector.waitForEvents(N + 1, 120000);
    return Date.now() - started;
  } finally {
    await context.close();
    await collector.cleanup();
    await app.close();
  }
}

async function gleanRun(browser, tls) {
  const proxy = { target: '', routes: [['/submit/', `${ingestPrefix}/submit/`]] };
  const glam = await startSite({ tls, proxy });
  const collector = await startCollector({ allowedOrigins: [glam.origin] });
  proxy.target = collector.origin;
  const { page, context } = await openPage(browser, { ignoreHTTPSErrors: true });
  try {
    await page.goto(`${glam.origin}/glean.html?maxEvents=100`);
    const started = Date.now();
    await page.evaluate(([n, names]) => {
      for (let i = 0; i < n; i++) window.glean.viewProbe(names[i % names.length], 'parent');
    }, [N, probes]);
    // The page-load event rides in the first ping; events past the last
    // full ping stay in the browser, as Glean intends.
    const expected = Math.floor((N + 1) / 100) * 100;
    await collector.waitForEvents(expected, 120000);
    return { ms: Date.now() - started, events: expected };
  } finally {
    await context.close();
    await collector.cleanup();
    await glam.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await buildPages();
const browser = await launchBrowser();
const certDir = await tempDir('bench-tls');
try {
  const tls = makeCert(certDir);
  const otel = [];
  const glean = [];
  for (let i = 0; i < RUNS; i++) {
    otel.push(await otelRun(browser));
    glean.push(await gleanRun(browser, tls));
  }
  const o = median(otel);
  const g = median(glean.map((r) => r.ms));
  const ge = glean[0].events;
  console.log(`otel  spans by fetch (batches of 512)   ${N + 1} events  median ${o} ms  ${Math.round(((N + 1) / o) * 1000)} events/s  runs ${otel.join(',')} ms`);
  console.log(`glean pings by sendBeacon (100/ping)    ${ge} events  median ${g} ms  ${Math.round((ge / g) * 1000)} events/s  runs ${glean.map((r) => r.ms).join(',')} ms`);
} finally {
  await browser.close();
  await rm(certDir, { recursive: true, force: true });
}
