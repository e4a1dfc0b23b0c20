// Reading what the collector's file exporters wrote: one OTLP/JSON export
// request per line. Usage events are log records (internal/usage in the Go
// module is the contract); metrics are read as number data points.
import { readFile } from 'node:fs/promises';

export const eventScope = 'glam.usage.events';

function value(v) {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(value);
  if ('kvlistValue' in v) return attributes(v.kvlistValue.values);
  if ('bytesValue' in v) return v.bytesValue;
  return null;
}

export function attributes(kvs = []) {
  return Object.fromEntries(kvs.map((kv) => [kv.key, value(kv.value)]));
}

// Complete lines only: the exporter may be half-way through a write.
async function requests(file) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

// Every log record, flattened: scope, event name (the record's field, else
// its event.name attribute), attributes and resource attributes.
export async function readEvents(file) {
  const out = [];
  for (const req of await requests(file)) {
    for (const rl of req.resourceLogs || []) {
      const resource = attributes(rl.resource?.attributes);
      for (const sl of rl.scopeLogs || []) {
        for (const lr of sl.logRecords || []) {
          const attrs = attributes(lr.attributes);
          out.push({
            scope: sl.scope?.name || '',
            name: lr.eventName || attrs['event.name'] || '',
            attrs,
            resource,
            timeUnixNano: lr.timeUnixNano,
            body: value(lr.body),
          });
        }
      }
    }
  }
  return out;
}

// Every number data point, flattened with its metric's name and kind.
export async function readMetrics(file) {
  const out = [];
  for (const req of await requests(file)) {
    for (const rm of req.resourceMetrics || []) {
      for (const sm of rm.scopeMetrics || []) {
        for (const m of sm.metrics || []) {
          for (const kind of ['gauge', 'sum']) {
            for (const dp of m[kind]?.dataPoints || []) {
              out.push({
                scope: sm.scope?.name || '',
                metric: m.name,
                kind,
                value: dp.asDouble ?? Number(dp.asInt),
                attrs: attributes(dp.attributes),
              });
            }
          }
        }
      }
    }
  }
  return out;
}

// countBy tallies items by what key returns; items it maps to undefined
// are tallied under '(none)' so a missing attribute shows in a failed
// assertion instead of vanishing.
export function countBy(items, key) {
  const counts = {};
  for (const item of items) {
    const k = key(item) ?? '(none)';
    counts[k] = (counts[k] || 0) + 1;
  }
  return counts;
}
