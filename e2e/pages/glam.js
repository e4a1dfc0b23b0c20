// GLAM's frontend instrumentation, exactly as GLAM ships it (src/main.js:
// Glean.js 5.0.7 with automatic page-load and element-click events, not
// initialised under Do Not Track; src/routing/Router.svelte: a page.js
// middleware calling gtag), plus the two one-line changes GLAM needs to send
// its usage to otelcol-glam on its own origin:
//
//   1. serverEndpoint in Glean.initialize's config: without it Glean.js sends
//      to Mozilla's ingestion. An https origin with no path; GLAM's nginx
//      forwards /submit/ to the collector (here the site's proxy does).
//   2. GleanMetrics.pageLoad() in the router's middleware, next to gtag:
//      Glean.js records a page load only inside initialize (full page
//      loads); in-app navigations are page.js's. page.js runs the middleware
//      before it pushes the new URL (Page.prototype.show: dispatch, then
//      ctx.pushState), so window.location is still the previous page: the
//      URL is passed, from ctx.canonicalPath. page.start()'s first dispatch
//      (ctx.init, set by Page.prototype.replace) is the full load that
//      initialize already recorded: skipped.
import Glean from '@mozilla/glean/web';
import GleanMetrics from '@mozilla/glean/metrics';
import { startRouter } from './glam-app.js';

if (
  navigator.doNotTrack !== '1' &&
  window.doNotTrack !== '1' &&
  navigator.msDoNotTrack !== '1'
) {
  console.log('Initializing GleanJS.');
  Glean.initialize('glam', true, {
    enableAutoElementClickEvents: true,
    enableAutoPageLoadEvents: true,
    serverEndpoint: window.location.origin, // change 1
  });
} else {
  console.warn(
    'Skipping GleanJS initialization because Do Not Track is enabled in the browser.'
  );
}

// Google Analytics middleware
startRouter((ctx, next) => {
  gtag('config', '__GA_TRACKING_ID__', {
    page_path: ctx.pathname,
  });
  if (!ctx.init) GleanMetrics.pageLoad({ url: window.location.origin + ctx.canonicalPath }); // change 2
  next();
});
