// End-to-end throughput, browser to pipeline: how fast usage events recorded
// in a real page reach the collector's file exporter. Not a test (nothing is
// asserted about time); run it with `npm run bench`.
//
//   BENCH_EVENTS  events per run (default 5000)
//   BENCH_RUNS    runs per client, the median is reported (default 3)
//
// OTel: the page records BENCH_EVENTS probe.view spans, flushing every 500
// (one fetch each, cross-origin). Glean: the page
// records 3900 events in pings of 100, each sent (by sendBeacon, or by fetch
// once the browser's beacon quota is full) to GLAM's https origin, which
// forwards to the collector. The clock
// runs from the first recorded event to the last event on disk.
import { rm } from 'node:fs/promises';
import { buildPages } from './build.mjs';
import { launchBrowser, openPage } from './lib/browser.mjs';
import { startCollector, ingestPrefix, tempDir } from './lib/collector.mjs';
import { startSite } from './lib/site.mjs';
import { makeCert } from './lib/tls.mjs';

const N = Number(process.env.BENCH_EVENTS) || 5000;
const RUNS = Number(process.env.BENCH_RUNS) || 3;
// Glean.js uploads at most 40 pings a minute (core/upload/rate_limiter.js)
// and keeps the rest for later: 39 pings of 100 events stay under it.
const GLEAN_EVENTS = 3900;
const probes = Array.from({ length: 50 }, (_, i) => `probe_${i}`);

async function otelRun(browser) {
  const app = await startSite();
  const collector = await startCollector({ allowedOrigins: [app.origin] });
  const { page, context } = await openPage(browser);
  try {
    await page.goto(`${app.origin}/otel.html?ingest=${encodeURIComponent(collector.ingest)}`);
    const started = Date.now();
    // In flushes of 500: the SDK's queue holds 2048 spans and drops the rest.
    await page.evaluate(async ([n, names]) => {
      for (let i = 0; i < n; i++) {
        window.glam.event('probe.view', { 'glam.probe.name': names[i % names.length] });
        if (i % 500 === 499) await window.glam.flush();
      }
      await window.glam.flush();
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
    // The page-load event rides in the first ping.
    await page.evaluate(([n, names]) => {
      for (let i = 0; i < n; i++) window.glean.viewProbe(names[i % names.length], 'parent');
    }, [GLEAN_EVENTS - 1, probes]);
    await collector.waitForEvents(GLEAN_EVENTS, 120000);
    return Date.now() - started;
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
  const g = median(glean);
  console.log(`otel  spans by fetch (500/request)     ${N + 1} events  median ${o} ms  ${Math.round(((N + 1) / o) * 1000)} events/s  runs ${otel.join(',')} ms`);
  console.log(`glean pings of 100 events (39 pings)   ${GLEAN_EVENTS} events  median ${g} ms  ${Math.round((GLEAN_EVENTS / g) * 1000)} events/s  runs ${glean.join(',')} ms`);
} finally {
  await browser.close();
  await rm(certDir, { recursive: true, force: true });
}
