// A GLAM-like single-page app: what of GLAM's frontend (mozilla/glam, src/)
// its usage telemetry sees, without Svelte or GLAM's data.
//
//   - GLAM's router: page.js with GLAM's routes (src/routing/Router.svelte):
//     '/', '/:product/:section/:probeName/explore',
//     '/:product/:section/:probeName/table', '*', after a middleware that
//     calls gtag on every navigation. The entry script (glam.js, glam-otel.js)
//     writes that middleware, since that is where the one line of each client
//     goes.
//   - GLAM's state in the query string, as each product's
//     getParamsForQueryString writes it (src/config/*.js): keys sorted,
//     values that equal the default left out (stripDefaultValues), written
//     with history.replaceState whenever the state changes (Router.svelte's
//     updateQueryString) — a state change is not a navigation.
//   - In-app navigation as GLAM does it: links handled by page.js's click
//     handler (the home page's probes, '/fog/probe/{name}/explore?'),
//     page.show() from the search results and the explore/table control,
//     with the current query string.
//   - GLAM's data-glean-id elements (view-sql-query, copy-sql-query__{tab},
//     export-json, toggle-{control}-{label}-{isSelected}) where GLAM has
//     them; the channel menu and search results carry none, as in GLAM.
//   - Svelte's timing: the DOM is updated in a microtask after the state
//     changes, so a document-level click listener (Glean's) that runs after
//     a control's own sees the control as re-rendered (a toggle's id says it
//     is now selected).
import page from 'page';

// GLAM's per-product dimensions and defaults (src/config/firefox-desktop.js,
// glean-base.js, fenix.js, fog.js, shared.js).
const firefox = {
  label: 'Firefox Desktop',
  channelKey: 'channel',
  dimensions: {
    normalizationType: 'normalized', channel: 'nightly', os: '*', process: 'content', aggregationLevel: 'build_id',
  },
  values: { channel: ['nightly', 'beta', 'release'] },
};
const gleanBase = {
  channelKey: 'app_id',
  dimensions: {
    normalizationType: 'normalized', app_id: 'nightly', os: '*', ping_type: '*', aggregationLevel: 'build_id',
  },
  values: { app_id: ['nightly', 'beta', 'release'] },
};
export const products = {
  firefox,
  fenix: { ...gleanBase, label: 'Firefox for Android', dimensions: { ...gleanBase.dimensions, os: 'Android' } },
  fog: { ...gleanBase, label: 'Firefox on Glean' },
};
const sharedDefaults = { timeHorizon: 'MONTH', proportionMetricType: 'proportions' };

// The probes the search finds and the home page shows.
const probes = [
  { product: 'firefox', name: 'gc_ms' },
  { product: 'firefox', name: 'cycle_collector' },
  { product: 'firefox', name: 'checkerboard_severity' },
  { product: 'fog', name: 'gc_ms' },
  { product: 'fenix', name: 'metrics_search_count' },
];

// stripDefaultValues (src/utils/urls.js): empty values and defaults go.
function stripDefaultValues(params, defaults) {
  return Object.fromEntries(Object.entries(params).filter(([k, v]) => v && v !== defaults[k]));
}

// toQueryString (src/state/store.js): keys sorted, '?' even when empty.
function toQueryString(params) {
  const keys = Object.keys(params).sort();
  return `?${keys.map((k) => `${k}=${encodeURIComponent(params[k])}`).join('&')}`;
}

// change-case's kebabCase, for the ids GLAM builds (TimeHorizonControl →
// time-horizon-control, 'GLAM SQL' → glam-sql).
function kebabCase(s) {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[\s_-]+/).filter(Boolean).join('-').toLowerCase();
}

// The store: GLAM's is created from the query string of the first page.
const state = {
  product: 'firefox',
  dims: {},
  timeHorizon: 'MONTH',
  route: { section: '', view: '' },
  probeName: '',
  sqlOpen: false,
  sqlTab: 'GLAM SQL',
};

function setProduct(product, query = new URLSearchParams()) {
  state.product = product;
  const config = products[product];
  state.dims = Object.fromEntries(Object.entries(config.dimensions).map(([k, d]) => [k, query.get(k) || d]));
}
{
  const query = new URLSearchParams(location.search);
  const first = location.pathname.split('/')[1];
  setProduct(products[first] ? first : 'firefox', query);
  state.timeHorizon = query.get('timeHorizon') || 'MONTH';
}

// getParamsForQueryString of the active product.
function currentQuery() {
  const params = { ...state.dims, timeHorizon: state.timeHorizon };
  return toQueryString(stripDefaultValues(params, { ...products[state.product].dimensions, ...sharedDefaults }));
}

// Svelte's flush: one microtask after a change, the query string and the
// DOM. Router.svelte's updateQueryString is a reactive statement on
// $currentQuery: it runs once the router is mounted, then whenever the
// query string the state makes changes.
let scheduled = false;
let writtenQuery = null;
function update() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    const query = currentQuery();
    if (query !== writtenQuery) {
      writtenQuery = query;
      window.history.replaceState(null, null, `${window.location.origin}${window.location.pathname}${query}`);
    }
    render();
  });
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'oninput') e.addEventListener('input', v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

// BodyControl (src/components/controls/BodyControl.svelte): a button
// group whose every option is wrapped in a div with data-glean-id
// toggle-{componentName}-{label}-{isSelected}. Keyed by label: the divs
// stay, their ids are updated in place.
function bodyControl(componentName, options, selected, onSelect) {
  const group = el('div', { class: 'button-group', 'data-control': kebabCase(componentName) });
  for (const { label, value } of options) {
    const button = el('button', { type: 'button', 'data-value': value, onclick: () => onSelect(value) }, label);
    group.append(el('div', { 'data-label': label, 'data-option': value }, button));
  }
  group.refresh = (current) => {
    for (const div of group.children) {
      const isSelected = div.dataset.option === current;
      div.setAttribute('data-glean-id', `toggle-${kebabCase(componentName)}-${kebabCase(div.dataset.label)}-${isSelected}`);
      div.firstChild.classList.toggle('toggled', isSelected);
    }
  };
  group.refresh(selected);
  return group;
}

// The layout: header (home link, search), the probe toolbar, the page.
const header = el('header');
const toolbar = el('nav', { id: 'toolbar' });
const main = el('main');
let mounted = '';

function search() {
  const input = el('input', { id: 'search-input', type: 'search', autocomplete: 'off', placeholder: 'Search for a probe' });
  const results = el('ul', { id: 'search-results' });
  input.addEventListener('input', () => {
    results.replaceChildren(...probes
      .filter((p) => input.value && p.name.includes(input.value))
      .map((p) => el('li', {
        class: 'search-result', 'data-probe': `${p.product}/${p.name}`,
        // SearchResults.svelte's onClick.
        onclick: () => {
          results.replaceChildren();
          page.show(`/${p.product}/probe/${p.name}/explore${currentQuery()}`);
        },
      }, `${p.name} (${products[p.product].label})`)));
  });
  return el('div', { id: 'search' }, input, results);
}
header.append(el('a', { href: '/', id: 'home-link' }, 'GLAM'), search());

const viewControl = bodyControl('ProbeViewControl', [{ label: 'Explore', value: 'explore' }, { label: 'Table', value: 'table' }],
  '', (view) => page.show(`/${state.route.product}/${state.route.section}/${state.route.probeName}/${view}${currentQuery()}`));
const horizonControl = bodyControl('TimeHorizonControl', ['week', 'month', 'quarter', 'all'].map((l) => ({ label: l, value: l.toUpperCase() })),
  state.timeHorizon, (value) => { state.timeHorizon = value; update(); });

function channelMenu() {
  const key = products[state.product].channelKey;
  return el('div', { id: 'channel-menu' }, ...products[state.product].values[key].map((value) => el('button', {
    type: 'button', 'data-dimension': key, 'data-value': value,
    onclick: () => { state.dims[key] = value; update(); },
  }, value)));
}

// SqlModal.svelte: the trigger, and a copy button per tab.
function sqlModal() {
  const modal = el('div', { id: 'sql-modal', hidden: '' });
  const tabs = ['GLAM SQL', 'Telemetry SQL'];
  const body = el('div');
  const showTab = () => {
    body.replaceChildren(el('pre', {}, el('code', {}, `SELECT … -- ${state.sqlTab} for ${state.probeName}`)),
      el('button', { type: 'button', class: 'copy', title: 'Copy to clipboard', 'data-glean-id': `copy-sql-query__${kebabCase(state.sqlTab)}` }, 'Copy'));
  };
  modal.append(el('ul', {}, ...tabs.map((tab) => el('li', {}, el('span', { class: 'tab', onclick: () => { state.sqlTab = tab; showTab(); } }, tab)))), body);
  showTab();
  const trigger = el('button', { type: 'button', class: 'docs-button', 'data-glean-id': 'view-sql-query', onclick: () => { modal.hidden = false; } }, 'View SQL Query');
  return el('div', {}, trigger, modal);
}

function probePage() {
  const details = el('div', { class: 'probe-details-download' }, sqlModal(),
    el('button', { type: 'button', class: 'docs-button', 'data-glean-id': 'export-json' }, 'Export to JSON'));
  const body = el('section', { id: 'probe', 'data-view': state.route.view },
    el('h1', {}, state.probeName), channelMenu(), details);
  if (state.route.view === 'explore') body.append(horizonControl);
  return body;
}

function homePage() {
  return el('section', { id: 'home' }, el('h1', {}, 'Explore probes'),
    ...probes.filter((p) => p.product === 'fog').map((p) => el('a', { class: 'probe-sm', href: `/fog/probe/${p.name}/explore?` }, p.name)));
}

function render() {
  const { section, view, probeName, product } = state.route;
  const key = `${section}/${product}/${probeName}/${view}`;
  if (key !== mounted) {
    mounted = key;
    document.title = probeName ? `${probeName} | GLAM` : 'GLAM';
    main.replaceChildren(section === 'probe' ? probePage() : section === 'home' ? homePage() : el('h1', {}, 'Not found'));
    if (section !== 'probe') toolbar.replaceChildren();
    else if (!toolbar.contains(viewControl)) toolbar.replaceChildren(viewControl);
  }
  viewControl.refresh(view);
  horizonControl.refresh(state.timeHorizon);
}

// useComponent (Router.svelte): a route's handler sets the route and probe
// in the store; a new product resets its dimensions to their defaults.
function useComponent(section, view) {
  return ({ params: { product, section: routeSection, probeName } }) => {
    if (product && !products[product]) {
      state.route = { product, section: 'not-found', probeName, view: 'not-found' };
    } else {
      if (product && product !== state.product) setProduct(product);
      state.probeName = probeName || '';
      state.route = { product, section: routeSection || section, probeName, view };
    }
    state.sqlOpen = false;
    update();
  };
}

// GLAM's index.html loads Google Analytics; here gtag only records its calls.
window.dataLayer = window.dataLayer || [];
window.gtag = (...args) => { window.dataLayer.push(args); };

// startRouter mounts the app and starts page.js with GLAM's routes after
// the entry script's middleware (GLAM's: gtag, plus the one line).
export function startRouter(middleware) {
  document.body.append(header, toolbar, main);
  page(middleware);
  page('/', useComponent('home'));
  page('/:product/:section/:probeName/explore', useComponent('probe', 'explore'));
  page('/:product/:section/:probeName/table', useComponent('probe', 'table'));
  page('*', useComponent('not-found'));
  page.start();
}
