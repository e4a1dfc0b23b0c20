// Assertions on what reached the pipeline, in the terms of the usage-data
// contract (internal/usage): usage events, and no measurements — the glam
// receiver feeds the logs pipeline only; measurements are derived from the
// stored event log (glam_eventlog), which the whole-pipeline tests run.
import assert from 'node:assert/strict';
import { countBy, eventScope } from './otlp.mjs';

const sources = new Set(['otlp_traces', 'otlp_logs', 'glean']);

// settle waits until the collector has written at least n usage events,
// then stops it (a graceful stop drains the pipeline and flushes the files)
// and returns everything it wrote: a late or duplicate event shows up in
// the exact counts the tests assert. The browser contexts are closed
// first: a connection Chromium opened ahead of need and never used holds a
// Go server's graceful shutdown for 5 s.
export async function settle(collector, n, ...contexts) {
  await collector.waitForEvents(n);
  for (const context of contexts) await context.close();
  await collector.stop();
  return { events: await collector.events(), metrics: await collector.metrics() };
}

// tally is what the tests compare: usage events per event name, per probe,
// per session and per decoding path, and the data points the receiver's
// metrics pipeline got, per metric: {} (it derives no measurements).
export function tally({ events, metrics }) {
  return {
    events: events.length,
    byName: countBy(events, (e) => e.name),
    byProbe: countBy(events.filter((e) => e.attrs['glam.probe.name'] !== undefined), (e) => e.attrs['glam.probe.name']),
    bySession: countBy(events, (e) => e.attrs['session.id']),
    bySource: countBy(events, (e) => e.attrs['glam.source']),
    metrics: countBy(metrics, (m) => m.metric),
  };
}

// The contract every usage event keeps, whatever client sent it.
export function assertEventContract(events) {
  const ids = new Set();
  for (const e of events) {
    assert.equal(e.scope, eventScope, `event ${e.name} in scope ${e.scope}`);
    assert.equal(e.attrs['event.name'], e.name, 'event.name attribute equals the event name');
    assert.ok(e.attrs['log.record.uid'], `event ${e.name} has an event id (log.record.uid)`);
    assert.ok(sources.has(e.attrs['glam.source']), `event ${e.name} has glam.source ${e.attrs['glam.source']}`);
    ids.add(e.attrs['log.record.uid']);
  }
  assert.equal(ids.size, events.length, 'every usage event has its own event id');
}

// Privacy (SPEC §3): neither the client's address nor its full user agent
// is kept anywhere in what the collector emits.
export function assertNothingIdentifying({ events, metrics }, { userAgent, addresses = ['127.0.0.1'] }) {
  const values = [
    ...events.flatMap((e) => [...Object.values(e.attrs), ...Object.values(e.resource)]),
    ...metrics.flatMap((m) => Object.values(m.attrs)),
  ].map(String);
  for (const v of values) {
    assert.notEqual(v, userAgent, 'the full user agent is not kept');
    assert.ok(!addresses.includes(v), `the client address ${v} is not kept`);
  }
}
