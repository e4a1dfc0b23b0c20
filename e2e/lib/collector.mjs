// A real bin/otelcol-glam process per test: its own config in a temporary
// directory, the glam receiver on a free port, and what it emits written by
// two file exporters that the test reads: usage events (logs) and whatever
// reaches its metrics pipeline. The receiver derives no measurements (the
// glam_eventlog receiver does, from the stored event log); its metrics
// pipeline only passes on a client's own OTLP metrics, which these pages do
// not send, so the tests assert that file stays empty.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './net.mjs';
import { readEvents, readMetrics } from './otlp.mjs';

const e2eDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const collectorBin = path.resolve(e2eDir, process.env.OTELCOL_GLAM_BIN || '../bin/otelcol-glam');
export const ingestPrefix = '/api/v1/ingest';

export function collectorProblem() {
  return existsSync(collectorBin)
    ? ''
    : `${collectorBin} not found: run \`make build\` in the repository root, or set OTELCOL_GLAM_BIN to the collector binary`;
}

export async function tempDir(name) {
  return mkdtemp(path.join(os.tmpdir(), `glam-e2e-${name}-`));
}

// startCollector runs the collector until stop().
//   allowedOrigins  the receiver's cors.allowed_origins
//   allowedHeaders  its cors.allowed_headers
//   tls             {certFile, keyFile}: serve https
//   receiver        more receiver settings, merged over the ones above
export async function startCollector({ allowedOrigins = [], allowedHeaders = ['content-type', 'content-encoding'], tls = null, receiver = {} } = {}) {
  const problem = collectorProblem();
  if (problem) throw new Error(problem);
  const dir = await tempDir('collector');
  const port = await freePort();
  const eventsFile = path.join(dir, 'events.jsonl');
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const glam = {
    endpoint: `127.0.0.1:${port}`,
    // Headless Chromium says "HeadlessChrome" in its user agent, which the
    // receiver takes for a bot and, by default, does not count: these
    // browsers are people here.
    count_bots: true,
    ...(allowedOrigins.length ? { cors: { allowed_origins: allowedOrigins, allowed_headers: allowedHeaders } } : {}),
    ...(tls ? { tls: { cert_file: tls.certFile, key_file: tls.keyFile } } : {}),
    ...receiver,
  };
  const config = {
    receivers: { glam },
    exporters: {
      'file/events': { path: eventsFile, flush_interval: '50ms' },
      'file/metrics': { path: metricsFile, flush_interval: '50ms' },
    },
    service: {
      // No self-metrics server: parallel collectors would fight over :8888.
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
      pipelines: {
        logs: { receivers: ['glam'], exporters: ['file/events'] },
        // Kept to show that no usage event turns into a metric here.
        metrics: { receivers: ['glam'], exporters: ['file/metrics'] },
      },
    },
  };
  let run;
  try {
    run = await runCollector(dir, config, port);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { output } = run;

  const scheme = tls ? 'https' : 'http';
  return {
    origin: `${scheme}://127.0.0.1:${port}`,
    ingest: `${scheme}://127.0.0.1:${port}${ingestPrefix}`,
    configFile: run.configFile,
    output,
    events: () => readEvents(eventsFile),
    metrics: () => readMetrics(metricsFile),
    // waitForEvents polls the events file until it holds at least n records
    // and returns them, or throws with the collector's log after timeoutMs.
    async waitForEvents(n, timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const events = await readEvents(eventsFile);
        if (events.length >= n) return events;
        if (Date.now() > deadline) {
          throw new Error(`expected ${n} usage events within ${timeoutMs} ms, got ${events.length}; collector log:\n${output()}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    // stop shuts the collector down gracefully, which drains the pipeline
    // and flushes the file exporters: what the files hold afterwards is
    // everything the collector emitted.
    stop: run.stop,
    async cleanup() {
      await this.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// runCollector writes config (an object: YAML is a superset of JSON, so no
// YAML writer is needed) to dir/config.yaml, starts bin/otelcol-glam with it
// and resolves once something listens on each of ports (the endpoints the
// config opens). It rejects with the collector's log when the process dies
// first. stop() is a graceful shutdown (SIGTERM; SIGKILL after 15 s):
// every component drains and flushes before the process exits.
export async function runCollector(dir, config, ports) {
  const problem = collectorProblem();
  if (problem) throw new Error(problem);
  const configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const proc = spawn(collectorBin, ['--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => { output = (output + chunk).slice(-20000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((resolve) => proc.on('exit', (code, signal) => { exited = { code, signal }; resolve(); }));
  try {
    for (const port of [ports].flat()) {
      await waitForPort(port, {
        gone: () => (exited ? `otelcol-glam exited (${exited.code ?? exited.signal}) before listening:\n${output}` : ''),
      });
    }
  } catch (err) {
    proc.kill('SIGKILL');
    await exit;
    throw err;
  }
  return {
    configFile,
    output: () => output,
    exited: () => exited,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
        await exit;
        clearTimeout(timer);
      }
    },
  };
}
