// Headless Debian Chromium driven by playwright-core. Playwright's own
// browser downloads are never used: the machine's /usr/bin/chromium is.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Why browser tests cannot run here, or '' when they can. Under CI a missing
// browser is a failure, never a skip: describeBrowser turns it into one.
export function chromiumProblem() {
  return existsSync(chromiumPath)
    ? ''
    : `${chromiumPath} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`;
}

// Options for node:test's describe(): skip only outside CI.
export function browserSuite() {
  const problem = chromiumProblem();
  return problem && !process.env.CI ? { skip: problem } : {};
}

export async function launchBrowser() {
  const problem = chromiumProblem();
  if (problem) throw new Error(problem);
  // Playwright starts every launch with a fresh temporary profile.
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
    ],
  });
}

// A browser context that records every request the page makes and how it
// ended, as the browser saw it: the status and the request headers sent, or
// the network error (a CORS refusal shows up as a failed request).
// headers are sent with every request, as a browser setting would (DNT).
export async function openPage(browser, { ignoreHTTPSErrors = false, headers = {} } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors, extraHTTPHeaders: headers });
  const page = await context.newPage();
  const network = [];
  const console = [];
  context.on('requestfinished', async (req) => {
    const res = await req.response().catch(() => null);
    const headers = await req.allHeaders().catch(() => ({}));
    network.push({ method: req.method(), url: req.url(), type: req.resourceType(), status: res ? res.status() : 0, failure: '', headers });
  });
  context.on('requestfailed', (req) => {
    network.push({ method: req.method(), url: req.url(), type: req.resourceType(), status: 0, failure: req.failure()?.errorText || 'failed' });
  });
  page.on('console', (msg) => console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => console.push(`pageerror: ${err.message}`));
  return { context, page, network, console };
}
