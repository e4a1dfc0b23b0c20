// Bundles the dashboard (src/) with uPlot into the glam_usage extension's
// embedded assets: `make generate` runs it, and `make check-generate`
// fails when the committed bundle differs from a fresh one (esbuild's
// output is deterministic for the same sources and versions).
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const assetsDir = path.resolve(here, '../../extension/glamusageextension/internal/dashboard/assets');

export async function buildDashboard() {
  await rm(assetsDir, { recursive: true, force: true });
  await mkdir(assetsDir, { recursive: true });
  await build({
    entryPoints: [path.join(here, 'src/dashboard.js')],
    outfile: path.join(assetsDir, 'dashboard.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    // Browsers of the last two years or so: what GLAM's users run.
    target: ['chrome115', 'firefox115', 'safari16'],
    // uPlot's MIT licence travels with the bundle.
    legalComments: 'eof',
    charset: 'utf8',
    logLevel: 'warning',
  });
  await copyFile(path.join(here, 'src/index.html'), path.join(assetsDir, 'index.html'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDashboard();
}
