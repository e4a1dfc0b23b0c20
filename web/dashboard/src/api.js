// The usage API, as the page calls it: relative URLs (so a proxy serving the
// collector below a prefix works), the same credentials as any API client.
// The browser sends what it holds for this origin itself (cookies, basic
// auth it was given); a bearer token, which no browser sends by itself, is
// asked for once, kept in this tab's sessionStorage and sent with each call.

const tokenKey = 'glam-usage.token';

// Unauthorized is an answer 401: the page asks for a token.
export class Unauthorized extends Error {}

export function token() {
  return sessionStorage.getItem(tokenKey) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(tokenKey, value);
  else sessionStorage.removeItem(tokenKey);
}

// authorization is the header value for a token: a bare token is a bearer
// token; a whole "Bearer …" or "Basic …" value is sent as it is.
function authorization(t) {
  return /^(bearer|basic) /i.test(t) ? t : `Bearer ${t}`;
}

// apiURL is the URL of an API path (below /api/v1) with its query
// parameters, empty ones left out.
export function apiURL(path, params = {}) {
  const url = new URL(`../api/v1/${path}`, document.baseURI);
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v !== undefined && v !== null) url.searchParams.set(k, v);
  }
  return url;
}

// getJSON asks the API and returns its JSON answer; an error answer
// throws with the API's message.
export async function getJSON(path, params) {
  const url = apiURL(path, params);
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = authorization(t);
  const res = await fetch(url, { headers, credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized('the usage API asks for a token');
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error || `${url.pathname} answered ${res.status}`);
  return body;
}
