// Bundles the page scripts in pages/ with the real client SDKs into plain
// browser scripts in dist/. `npm test` runs it first; tests import
// buildPages() so that a single test file run from an editor works too.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const pagesDir = path.join(here, 'pages');
export const distDir = path.join(here, 'dist');
const entries = ['otel', 'glean', 'glam', 'glam-otel'];

export async function buildPages() {
  await build({
    entryPoints: entries.map((name) => path.join(pagesDir, `${name}.js`)),
    outdir: distDir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPages();
}
