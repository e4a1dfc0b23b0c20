// What every browser test file shares: one browser per file, the page
// bundles built, the collector binary present, and the user's actions on
// the GLAM stand-in pages.
import { before, after } from 'node:test';
import { buildPages } from '../build.mjs';
import { launchBrowser, openPage } from './browser.mjs';
import { collectorProblem } from './collector.mjs';

// useBrowser registers the file's before/after hooks and returns a getter
// for the browser they launch. A setup failure (no collector binary, no
// Chromium under CI) is thrown by the getter, so that every test fails
// with it: a failed hook would only cancel them.
export function useBrowser() {
  let browser;
  let setupError;
  before(async () => {
    try {
      const problem = collectorProblem();
      if (problem) throw new Error(problem);
      await buildPages();
      browser = await launchBrowser();
    } catch (err) {
      setupError = err;
    }
  });
  after(async () => {
    await browser?.close();
  });
  return () => {
    if (setupError) throw setupError;
    return browser;
  };
}

// newPage opens a page in a fresh browser context (its own storage, so its
// own Glean client and sessions) that the test closes when it ends.
export async function newPage(t, browser, options) {
  const opened = await openPage(browser, options);
  t.after(() => opened.context.close());
  return opened;
}

export async function viewProbe(page, probe) {
  await page.click(`a[data-probe="${probe}"]`);
}

export async function search(page, query) {
  await page.fill('#query', query);
  await page.click('#search button');
}

// hideByLeaving navigates away: the page gets pagehide and becomes hidden,
// as when a person follows a link out of GLAM.
export async function hideByLeaving(page) {
  await page.goto('about:blank');
}

// hideByClosing closes the tab the way a person does (unload handlers run).
export async function hideByClosing(page) {
  await page.close({ runBeforeUnload: true });
}

// switchTab simulates a person switching to another tab and back:
// headless Chromium never hides a page by itself (minimising its window or
// activating another tab leaves it visible), so the page's visibilityState
// is overridden and visibilitychange dispatched, which is what the SDKs
// listen to. Unlike leaving the page, the page lives on.
export async function switchTab(page, state) {
  await page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

// posts lists the POST requests the browser made to urls starting with
// prefix, as "status path" (0 and the error for a failed request).
export function posts(network, prefix) {
  return network
    .filter((r) => r.method === 'POST' && r.url.startsWith(prefix))
    .map((r) => `${r.status || r.failure} ${new URL(r.url).pathname}`);
}

// waitFor polls condition until it holds, for what the browser does on its
// own time (beacons, pings).
export async function waitFor(condition, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
