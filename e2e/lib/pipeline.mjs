// The whole pipeline in one bin/otelcol-glam, as a deployment runs it
// (testdata/config.yaml): the glam receiver's usage events (logs) go to
// glam_postgres's raw event table, the event log; glam_eventlog reads the
// committed log back in order and its measurements (metrics) go through
// glam_views into glam_postgres, which merges each view batch together with
// the consumer's offset in the log; the glam_usage extension serves the
// usage API over the same database.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { runCollector, tempDir, ingestPrefix } from './collector.mjs';
import { freePort } from './net.mjs';
import { query } from './postgres.mjs';

// consumer is glam_eventlog's default consumer: the name of GLAM's default
// views' offset and lease.
const consumer = 'glam_views';

// pipelineConfig is the collector's configuration on database dsn.
//   receiverPort, apiPort  where the receiver and the usage API listen
//   allowedOrigins         the receiver's cors.allowed_origins
//   receiver               more receiver settings
//   usage                  more glam_usage settings
//   extensions             more extensions (an authenticator), started before glam_usage
function pipelineConfig({ dsn, receiverPort, apiPort, allowedOrigins = [], receiver = {}, usage = {}, extensions = {} }) {
  return {
    extensions: {
      ...extensions,
      glam_usage: { endpoint: `127.0.0.1:${apiPort}`, dsn, ...usage },
    },
    receivers: {
      glam: {
        endpoint: `127.0.0.1:${receiverPort}`,
        // Headless Chromium is a bot to the receiver (see collector.mjs).
        count_bots: true,
        ...(allowedOrigins.length ? { cors: { allowed_origins: allowedOrigins, allowed_headers: ['content-type', 'content-encoding'] } } : {}),
        ...receiver,
      },
      // The committed event log, read back in order; after a failure (the
      // schema not made yet, at start) it reads again 100 ms later, not 1 s.
      glam_eventlog: { dsn, backoff: '100ms' },
    },
    processors: {
      // GLAM's default views, flushed every second instead of every 10.
      glam_views: { flush_interval: '1s' },
    },
    exporters: {
      glam_postgres: { dsn, create_schema: true },
    },
    service: {
      extensions: [...Object.keys(extensions), 'glam_usage'],
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
      pipelines: {
        logs: { receivers: ['glam'], exporters: ['glam_postgres'] },
        metrics: { receivers: ['glam_eventlog'], processors: ['glam_views'], exporters: ['glam_postgres'] },
      },
    },
  };
}

// startPipeline runs the collector on database db until the test ends (or
// stop()). api is the usage API's origin, origin the receiver's.
export async function startPipeline(t, { db, allowedOrigins = [], receiver = {}, usage = {}, extensions = {} }) {
  const dir = await tempDir('pipeline');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const receiverPort = await freePort();
  const apiPort = await freePort();
  const run = await runCollector(dir, pipelineConfig({ dsn: db.dsn, receiverPort, apiPort, allowedOrigins, receiver, usage, extensions }), [receiverPort, apiPort]);
  t.after(() => run.stop());
  const api = `http://127.0.0.1:${apiPort}`;
  return {
    origin: `http://127.0.0.1:${receiverPort}`,
    ingest: `http://127.0.0.1:${receiverPort}${ingestPrefix}`,
    api,
    output: run.output,
    stop: run.stop,
    // stopped stops the collector gracefully and asserts it exited cleanly.
    async stopped(what) {
      await run.stop();
      assert.deepEqual(run.exited(), { code: 0, signal: null }, `${what} exits cleanly on SIGTERM; collector log:\n${run.output()}`);
    },
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
// graceful shutdown for seconds), waits until the views have caught up
// with the log (caughtUp) and stops the ingesting collector gracefully.
// Then it restarts the views' consumer: a collector on the same database
// takes the lease, reads the log from the offset (nothing is left) and
// restores the sessions merged so far, and is stopped gracefully, which
// flushes every window it holds, the restored ones included. Exactly once
// means that changes no answer. Last, another collector on the same
// database, which nothing sends to, serves the usage API the test reads:
// its answers are final, nothing is still on its way.
export async function drain(t, pipeline, db, n, ...contexts) {
  const started = Date.now();
  await pipeline.usage.stored(n);
  for (const context of contexts) await context.close();
  const { offset, pids } = await caughtUp(db, pipeline.output);
  const stored = Date.now();
  await pipeline.stopped('the ingesting collector');
  const restarted = await startPipeline(t, { db });
  await readingTheLog(db, pids, restarted.output);
  await restarted.stopped('the restarted consumer');
  const reader = await startPipeline(t, { db });
  t.diagnostic(`views caught up with the log at ${offset} ${stored - started} ms after the test's last step; restarted the consumer and started the reader in ${Date.now() - stored} ms`);
  return reader.usage;
}

// caughtUp waits until the views' offset (glam_usage_log_offsets) has
// reached the position of the last event in the log (glam_usage_events:
// log_xid, log_seq): every stored event is in the view rows, merged once.
// It returns the offset and the pids holding advisory locks then (the
// ingesting collector's lease among them).
export async function caughtUp(db, output = () => '', timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [[last, offset]] = await query(db.dsn, `SELECT
      (SELECT log_xid::text || '/' || log_seq FROM glam_usage_events ORDER BY log_xid DESC, log_seq DESC LIMIT 1),
      (SELECT log_xid::text || '/' || log_seq FROM glam_usage_log_offsets WHERE consumer = '${consumer}')`);
    if (last && offset === last) return { offset, pids: (await leases(db)).map((l) => l.pid) };
    if (Date.now() > deadline) {
      throw new Error(`the views' offset did not reach the last event within ${timeoutMs} ms: offset ${offset || '(none)'}, last event ${last || '(none)'}\ncollector log:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// leases lists the advisory locks held on db. glam_eventlog's lease (its
// README) is a session advisory lock on the reader's own connection, so it
// is held by an idle connection too (a transaction's lock is not). reading:
// the connection has read the log — its last statement selects events after
// a log position ((e.log_xid, e.log_seq) > …: reading, or looking for the
// next event at the end of the log), which the reader does only after
// glam_views took the session context.
async function leases(db) {
  const rows = await query(db.dsn, `SELECT a.pid, a.state = 'idle', a.query LIKE '%log_xid, %log_seq) >%'
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return rows.map(([pid, idle, reading]) => ({ pid, lease: idle === 't', reading: reading === 't' }));
}

// readingTheLog waits until a connection other than those in before holds
// a lease and has read the log.
async function readingTheLog(db, before, output = () => '', timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = await leases(db);
    if (held.some((l) => l.lease && l.reading && !before.includes(l.pid))) return;
    if (Date.now() > deadline) {
      throw new Error(`no new reader of the event log within ${timeoutMs} ms (lease holders ${JSON.stringify(held)}, before ${before})\ncollector log:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
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
