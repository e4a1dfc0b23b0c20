// The GLAM app's usage instrumentation with the OpenTelemetry JS web SDK:
// spans for page and probe views, log records for searches. The page reads
// its settings from its own query string so that one bundle serves the
// same-origin, cross-origin and sendBeacon set-ups:
//
//   ingest     where the collector's path prefix is, absolute or relative to
//              the page (default /api/v1/ingest, the same-origin proxy)
//   transport  "fetch" (the SDK's OTLP/HTTP exporters, default) or "beacon"
//              (log records sent by navigator.sendBeacon as text/plain)
//   format     "json" (the *-otlp-http exporters, default) or "proto" (the
//              *-otlp-proto exporters: application/x-protobuf)
//   timeout    the exporters' timeoutMillis, retries included (SDK default
//              10000): a refused export gives up sooner with a smaller one
import { WebTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-web';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPTraceProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OTLPLogProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';

const params = new URLSearchParams(location.search);
const ingest = new URL(params.get('ingest') || '/api/v1/ingest', location.href).href.replace(/\/$/, '');
const transport = params.get('transport') || 'fetch';
const timeoutMillis = Number(params.get('timeout')) || undefined;
const proto = params.get('format') === 'proto';
const TraceExporter = proto ? OTLPTraceProtoExporter : OTLPTraceExporter;
const LogExporter = proto ? OTLPLogProtoExporter : OTLPLogExporter;

// A session lives as long as the tab: reloads keep it (sessionStorage).
let sessionId = sessionStorage.getItem('glam.session.id');
if (!sessionId) {
  sessionId = crypto.randomUUID();
  sessionStorage.setItem('glam.session.id', sessionId);
}

const glamAttrs = { 'glam.product': 'firefox', 'glam.channel': 'nightly', 'glam.os': '*' };

// What each export reported back to the SDK, for the test to read: the
// browser, not the collector's log, is the witness of what the client saw.
const exports = [];
function witnessed(signal, exporter) {
  const exportItems = exporter.export.bind(exporter);
  exporter.export = (items, done) => exportItems(items, (result) => {
    exports.push({ signal, items: items.length, code: result.code, error: result.error ? String(result.error) : '' });
    done(result);
  });
  return exporter;
}

// sendBeacon cannot set a content type for a string body: the browser sends
// text/plain;charset=UTF-8 with no preflight, and the page never sees the
// response. The SDK's own exporters never use it, so pages that want it
// write this much themselves.
class BeaconLogExporter {
  constructor(url) { this.url = url; }
  export(records, done) {
    const body = new TextDecoder().decode(JsonLogsSerializer.serializeRequest(records));
    done({ code: navigator.sendBeacon(this.url, body) ? 0 : 1 });
  }
  forceFlush() { return Promise.resolve(); }
  shutdown() { return Promise.resolve(); }
}

// Nothing leaves before the page is hidden or flushed on purpose: the
// scheduled delay is longer than any test, so a test that sees the events
// arrive after hiding the page has seen the SDK's flush on hide deliver them.
const batching = { scheduledDelayMillis: 600000, maxQueueSize: 2048, maxExportBatchSize: 512 };

// user_agent.original is what browser resource detectors add; the receiver
// must drop it (it keeps a coarse browser family at most).
const tracerProvider = new WebTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'glam', 'session.id': sessionId, 'user_agent.original': navigator.userAgent }),
  spanProcessors: [new BatchSpanProcessor(witnessed('traces', new TraceExporter({ url: `${ingest}/v1/traces`, timeoutMillis })), batching)],
});
const tracer = tracerProvider.getTracer('glam-app');

// Log records carry the session themselves: the logs resource has none, so
// the receiver's per-record session path is exercised too.
const logExporter = transport === 'beacon'
  ? new BeaconLogExporter(`${ingest}/v1/logs`)
  : new LogExporter({ url: `${ingest}/v1/logs`, timeoutMillis });
const loggerProvider = new LoggerProvider({
  resource: resourceFromAttributes({ 'service.name': 'glam' }),
  processors: [new BatchLogRecordProcessor({ exporter: witnessed('logs', logExporter), ...batching })],
});
const logger = loggerProvider.getLogger('glam-app');

function event(name, attributes) {
  tracer.startSpan(name, { attributes: { ...glamAttrs, ...attributes } }).end();
}

function logEvent(name, attributes) {
  logger.emit({
    eventName: name,
    attributes: { ...glamAttrs, 'session.id': sessionId, ...attributes },
  });
}

document.getElementById('probes').addEventListener('click', (e) => {
  const link = e.target.closest('a[data-probe]');
  if (!link) return;
  e.preventDefault();
  event('probe.view', { 'glam.probe.name': link.dataset.probe, 'glam.probe.process': link.dataset.process });
});

document.getElementById('search').addEventListener('submit', (e) => {
  e.preventDefault();
  logEvent('probe.search', { 'glam.search.query': document.getElementById('query').value });
});

window.glam = {
  sessionId,
  exports,
  transport,
  // An event as a span or as a log record, for pages (and the benchmark)
  // that record events without a click.
  event,
  logEvent,
  // flush resolves to whether each provider's flush succeeded
  // ([traces, logs]); a refused export rejects its flush.
  flush: () => Promise.allSettled([tracerProvider.forceFlush(), loggerProvider.forceFlush()])
    .then((results) => results.map((r) => r.status === 'fulfilled')),
};

event('page.view', { 'url.path': location.pathname });
