// The web site the pages come from: a static server for pages/ and dist/,
// optionally in front of the collector as GLAM's own domain would be (its
// proxy forwards the ingest paths), so that a page can post to its own origin.
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pagesDir, distDir } from '../build.mjs';
import { listen } from './net.mjs';

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

// Headers that describe one hop, not the request: a proxy never forwards them.
const hopHeaders = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'proxy-connection', 'te', 'trailer']);

// serveFile answers a GET with a file of pages/ (or dist/ under /dist/),
// by its base name. With app set (a single-page app's HTML file), every
// path without a file extension outside /dist/ is that page, as a
// single-page app's server answers its routes (GLAM's /firefox/probe/…).
async function serveFile(req, res, app) {
  const { pathname } = new URL(req.url, 'http://site');
  const dir = pathname.startsWith('/dist/') ? distDir : pagesDir;
  const route = app && dir === pagesDir && !path.extname(pathname);
  const name = route ? app : path.basename(pathname);
  if (req.method !== 'GET' || name.startsWith('.') || !types[path.extname(name)]) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(path.join(dir, name));
    res.writeHead(200, { 'content-type': types[path.extname(name)], 'cache-control': 'no-store' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// startSite serves the pages on 127.0.0.1 at a free port.
//   tls     {cert, key}: serve https (Glean.js refuses a plain-http endpoint)
//   app     a single-page app's HTML file in pages/, served for its routes
//   proxy   {target, routes: [[fromPrefix, toPrefix], ...]}: forward requests
//           under fromPrefix to target with the prefix replaced; target is
//           read per request, so it may be set once the collector is up
//           (the collector's allow-list needs the site's origin first).
//           proxy.loseResponses = n: the next n POSTs reach the collector,
//           but the browser gets 503 with Retry-After: 1 instead of the
//           collector's answer, as from a proxy timing out after the
//           upstream took the request: the client must send it again.
// The returned site records every request it forwarded in `forwarded`:
// status is what the browser got, upstreamStatus what the collector said,
// body the request body as the browser sent it (a Buffer).
export async function startSite({ tls = null, proxy = null, app = '' } = {}) {
  const forwarded = [];

  async function forward(req, res, from, to) {
    const body = await readBody(req);
    const target = new URL(proxy.target);
    const client = target.protocol === 'https:' ? https : http;
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!hopHeaders.has(k)) headers[k] = v;
    headers['x-forwarded-for'] = req.socket.remoteAddress;
    headers['x-forwarded-proto'] = tls ? 'https' : 'http';
    headers['content-length'] = String(body.length);
    const targetPath = to + req.url.slice(from.length);
    const record = {
      method: req.method, path: req.url, targetPath, origin: req.headers.origin || '',
      contentType: req.headers['content-type'] || '', contentEncoding: req.headers['content-encoding'] || '',
      bytes: body.length, body, status: 0, upstreamStatus: 0,
    };
    forwarded.push(record);
    const lose = req.method === 'POST' && proxy.loseResponses > 0;
    if (lose) proxy.loseResponses--;
    const upstream = client.request({
      hostname: target.hostname, port: target.port, method: req.method, path: targetPath, headers,
      rejectUnauthorized: false,
    }, (up) => {
      record.upstreamStatus = up.statusCode;
      record.status = lose ? 503 : up.statusCode;
      const out = {};
      for (const [k, v] of Object.entries(up.headers)) if (!hopHeaders.has(k)) out[k] = v;
      if (lose) {
        up.resume();
        delete out['content-length'];
        res.writeHead(503, { ...out, 'content-type': 'text/plain', 'retry-after': '1' }).end('upstream timed out');
        return;
      }
      res.writeHead(up.statusCode, out);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      record.status = 502;
      record.error = err.message;
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${err.message}`);
    });
    upstream.end(body);
  }

  const handler = (req, res) => {
    const route = proxy?.routes.find(([from]) => req.url.startsWith(from));
    const done = route ? forward(req, res, route[0], route[1]) : serveFile(req, res, app);
    done.catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  };
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler);
  const port = await listen(server);
  return {
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    forwarded,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
