// The GLAM app's Glean.js instrumentation (GLAM's src/main.js initializes
// Glean with automatic page-load and element-click events) plus the probe
// events GLAM would define in its metrics.yaml, with the server endpoint set
// to the collector. Query string:
//
//   endpoint   Glean's serverEndpoint (default: the page's own origin).
//              Glean.js accepts only an https origin with no path: pings go
//              to {endpoint}/submit/glam/events/1/{uuid}.
//   maxEvents  events per ping (Glean's default is 1: a ping per event)
//   debugTag   sets a debug view tag: with a custom header Glean.js cannot
//              use sendBeacon and uploads with fetch and gzip instead
//   extras     "snake": GLAM's events carry snake_case extras (product,
//              probe_name, ...), as a metrics.yaml in Glean's usual style
//              defines them; the receiver renames them to glam.*. Default:
//              the dotted glam.* names themselves.
import Glean from '@mozilla/glean/web';
import EventMetricType from '@mozilla/glean/private/metrics/event';

const params = new URLSearchParams(location.search);

// Every ping Glean submits, as Glean logs it: the test reads the session id
// and document ids the client used from here.
const pings = [];
const consoleInfo = console.info.bind(console);
console.info = (...args) => {
  for (const arg of args) {
    if (typeof arg !== 'string' || !arg.includes('"client_info"')) continue;
    try {
      pings.push(JSON.parse(arg.slice(arg.indexOf('{'))));
    } catch {
      // Not a ping after all.
    }
  }
  consoleInfo(...args);
};
Glean.setLogPings(true);
if (params.get('debugTag')) Glean.setDebugViewTag(params.get('debugTag'));

Glean.initialize('glam', true, {
  serverEndpoint: params.get('endpoint') || location.origin,
  channel: 'e2e',
  appDisplayVersion: '1.0.0',
  enableAutoPageLoadEvents: true,
  enableAutoElementClickEvents: true,
  maxEvents: Number(params.get('maxEvents')) || undefined,
});

function eventMetric(category, name, extraKeys) {
  return new EventMetricType({ category, name, sendInPings: ['events'], lifetime: 'ping', disabled: false }, extraKeys);
}
// Glean extra keys may be dotted snake case (glean_parser's metrics.yaml
// schema), so GLAM's events can carry the same attribute names as with
// OTel; or plain snake_case, Glean's usual style.
const snake = params.get('extras') === 'snake';
const names = snake
  ? { product: 'product', probe: 'probe_name', process: 'probe_process', channel: 'channel', os: 'os', query: 'query' }
  : { product: 'glam.product', probe: 'glam.probe.name', process: 'glam.probe.process', channel: 'glam.channel', os: 'glam.os', query: 'glam.search.query' };
const probeView = eventMetric('probe', 'view', [names.product, names.probe, names.process, names.channel, names.os]);
const probeSearch = eventMetric('probe', 'search', [names.product, names.query]);

function viewProbe(probe, process) {
  probeView.record({
    [names.product]: 'firefox', [names.probe]: probe, [names.process]: process, [names.channel]: 'nightly', [names.os]: '*',
  });
}

document.getElementById('probes').addEventListener('click', (e) => {
  const link = e.target.closest('a[data-probe]');
  if (!link) return;
  e.preventDefault();
  viewProbe(link.dataset.probe, link.dataset.process);
});

document.getElementById('search').addEventListener('submit', (e) => {
  e.preventDefault();
  probeSearch.record({ [names.product]: 'firefox', [names.query]: document.getElementById('query').value });
});

// viewProbe records without a click, for the benchmark.
window.glean = { pings, viewProbe };
