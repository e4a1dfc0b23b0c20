// The whole pipeline in one bin/otelcol-glam, as a deployment runs it
// (testdata/config.yaml): the glam receiver's usage events (logs) go to
// glam_postgres's raw event table; its measurements (metrics) go through
// glam_views into glam_postgres's view rows; the glam_usage extension serves
// the usage API over the same database.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { runCollector, tempDir, ingestPrefix } from './collector.mjs';
import { freePort } from './net.mjs';

// pipelineConfig is the collector's configuration on database dsn.
//   receiverPort, apiPort  where the receiver and the usage API listen
//   allowedOrigins         the receiver's cors.allowed_origins
//   receiver               more receiver settings
function pipelineConfig({ dsn, receiverPort, apiPort, allowedOrigins = [], receiver = {} }) {
  return {
    extensions: {
      glam_usage: { endpoint: `127.0.0.1:${apiPort}`, dsn },
    },
    receivers: {
      glam: {
        endpoint: `127.0.0.1:${receiverPort}`,
        // Headless Chromium is a bot to the receiver (see collector.mjs).
        count_bots: true,
        ...(allowedOrigins.length ? { cors: { allowed_origins: allowedOrigins, allowed_headers: ['content-type', 'content-encoding'] } } : {}),
        ...receiver,
      },
    },
    processors: {
      // GLAM's default views, flushed every second instead of every 10.
      glam_views: { flush_interval: '1s' },
    },
    exporters: {
      glam_postgres: { dsn, create_schema: true },
    },
    service: {
      extensions: ['glam_usage'],
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
      pipelines: {
        logs: { receivers: ['glam'], exporters: ['glam_postgres'] },
        metrics: { receivers: ['glam'], processors: ['glam_views'], exporters: ['glam_postgres'] },
      },
    },
  };
}

// startPipeline runs the collector on database db until the test ends (or
// stop()). api is the usage API's origin, origin the receiver's.
export async function startPipeline(t, { db, allowedOrigins = [], receiver = {} }) {
  const dir = await tempDir('pipeline');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const receiverPort = await freePort();
  const apiPort = await freePort();
  const run = await runCollector(dir, pipelineConfig({ dsn: db.dsn, receiverPort, apiPort, allowedOrigins, receiver }), [receiverPort, apiPort]);
  t.after(() => run.stop());
  const api = `http://127.0.0.1:${apiPort}`;
  return {
    origin: `http://127.0.0.1:${receiverPort}`,
    ingest: `http://127.0.0.1:${receiverPort}${ingestPrefix}`,
    api,
    output: run.output,
    stop: run.stop,
    usage: usageClient(api, run.output),
  };
}

// usageClient asks the usage API; every answer must be 200 JSON.
export function usageClient(api, output = () => '') {
  return {
    async get(path) {
      const res = await fetch(api + path);
      const text = await res.text();
      assert.equal(res.status, 200, `GET ${path}: ${res.status} ${text}\ncollector log:\n${output()}`);
      return JSON.parse(text);
    },
    // stored waits until the raw event table holds n events of today (the
    // logs pipeline has written them) and returns the status answer.
    async stored(n, timeoutMs = 20000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const res = await fetch(`${api}/api/v1/usage/status`).catch((err) => ({ status: 0, text: () => String(err) }));
        const text = await res.text();
        if (res.status === 200) {
          const status = JSON.parse(text);
          if (status.events_today >= n) return status;
        }
        last = `${res.status} ${text}`;
        if (Date.now() > deadline) throw new Error(`expected ${n} stored events within ${timeoutMs} ms; last status: ${last}\ncollector log:\n${output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

// drain waits until the raw events hold n events, closes the browser
// contexts (a connection Chromium keeps open would hold the server's
// graceful shutdown for seconds), stops the ingesting collector
// gracefully — glam_views flushes every open window, glam_postgres writes
// what it holds — and starts another collector on the same database,
// which nothing sends to, to read the usage API from: its answers are
// final, nothing is still on its way.
export async function drain(t, pipeline, db, n, ...contexts) {
  await pipeline.usage.stored(n);
  for (const context of contexts) await context.close();
  await pipeline.stop();
  const reader = await startPipeline(t, { db });
  return reader.usage;
}

// utcDay is the UTC date of t as YYYY-MM-DD.
export function utcDay(t = new Date()) {
  return t.toISOString().slice(0, 10);
}

// awayFromMidnight waits, when a UTC midnight is less than marginMs away,
// until it has passed: the answers a test checks are per UTC day, and a
// test's events must fall on one.
export async function awayFromMidnight(marginMs = 120000) {
  const now = Date.now();
  const next = Math.ceil(now / 86400000) * 86400000;
  if (next - now < marginMs) await new Promise((r) => setTimeout(r, next - now + 1000));
}
