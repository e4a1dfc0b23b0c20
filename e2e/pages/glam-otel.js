// The same GLAM-like app instrumented with the OpenTelemetry JS web SDK
// instead of Glean.js, the way a GLAM engineer would: the document-load
// instrumentation records every full page load (a documentLoad span with
// url.full, plus documentFetch and one resourceFetch per resource), and the
// router's middleware records an in-app navigation as a page.view span with
// url.full — the same place and the same reasoning as Glean's
// GleanMetrics.pageLoad line (glam.js): page.js has not pushed the new URL
// yet, and page.start()'s first dispatch (ctx.init) is the full load the
// instrumentation already records. Spans go to the page's own origin
// (/api/v1/ingest, which GLAM's proxy forwards), batched, flushed when the
// page is hidden. The session is the tab's (sessionStorage), a resource
// attribute.
import { WebTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-web';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import { startRouter } from './glam-app.js';

let sessionId = sessionStorage.getItem('glam.session.id');
if (!sessionId) {
  sessionId = crypto.randomUUID();
  sessionStorage.setItem('glam.session.id', sessionId);
}

// ended records the names of the spans the page ended, for the test to
// wait on (the documentLoad span ends a moment after the load event).
const ended = [];
const tracerProvider = new WebTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'glam', 'session.id': sessionId }),
  spanProcessors: [
    new BatchSpanProcessor(new OTLPTraceExporter({ url: `${window.location.origin}/api/v1/ingest/v1/traces` })),
    { onStart() {}, onEnd(span) { ended.push(span.name); }, forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() },
  ],
});
tracerProvider.register();
registerInstrumentations({ instrumentations: [new DocumentLoadInstrumentation()] });
const tracer = tracerProvider.getTracer('glam');

startRouter((ctx, next) => {
  gtag('config', '__GA_TRACKING_ID__', {
    page_path: ctx.pathname,
  });
  if (!ctx.init) tracer.startSpan('page.view', { attributes: { 'url.full': window.location.origin + ctx.canonicalPath } }).end();
  next();
});

window.glam = { sessionId, ended };
