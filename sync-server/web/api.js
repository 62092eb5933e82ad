// The hub's JSON API as the page uses it, and small DOM helpers.
// The token lives in sessionStorage: it is sent as a bearer token with
// every call and forgotten when the tab closes.

const KEY = 'fieldsync.token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Listeners for a 401 (token revoked or unknown): the app signs out.
let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// api(path, {method, body, tok}) -> parsed JSON; throws ApiError with the
// hub's {"error","message"} on any non-2xx answer.
export async function api(path, opts = {}) {
  const headers = { Authorization: `Bearer ${opts.tok || token()}` };
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let resp;
  // One retry after a 429: the hub limits requests per token, and a view
  // makes a few at once.
  for (let attempt = 0; ; attempt++) {
    try {
      resp = await fetch(path, { method: opts.method || 'GET', headers, body,
                                 cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'unreachable',
        'the hub did not answer; check the network and try again');
    }
    if (resp.status !== 429 || attempt > 0) break;
    const wait = Math.min(Number(resp.headers.get('Retry-After')) || 1, 5);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data && data.error || 'http_' + resp.status,
      data && data.message || `the hub answered ${resp.status}`);
    if (resp.status === 401 && !opts.tok) onUnauthorized(err);
    throw err;
  }
  return data;
}

// Fetches path with the token as a Blob: plain links and <img src> cannot
// carry a bearer token.
export async function fetchBlob(path) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!resp.ok) {
    let msg = `the hub answered ${resp.status}`;
    try { msg = (await resp.json()).message || msg; } catch (_) { /* not JSON */ }
    throw new ApiError(resp.status, 'download', msg);
  }
  return resp.blob();
}

// Fetches path with the token and saves the answer as a file.
export async function download(path, filename) {
  const blob = await fetchBlob(path);
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return blob.size;
}

// h('tag', {attr: value, onclick: fn}, children...) builds an element.
// Text is always set as text, never parsed as HTML: answers come from the
// field and must not run as code here.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

// A labelled <select>: options is [[value, text], ...].
export function select(id, label, options, value, onchange) {
  const sel = h('select', { id, onchange: () => onchange(sel.value) },
    options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));
  return h('div', {}, h('label', { for: id }, label), sel);
}

let statusTimer;
export function say(text) {
  const el = document.getElementById('status');
  el.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { el.textContent = ''; }, 5000);
}

export function when(ms) {
  if (!ms) return 'never';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const m = Math.round((now - ms) / 60000);
  if (m < 1) return 'just now';
  if (m < 60) return `${m} min ago`;
  const hours = Math.round(m / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

// The message for an error in a view: a view the API does not offer yet
// (404) says so instead of failing.
export function problem(err, what) {
  if (err.status === 404 && err.code === 'not_found')
    return h('p', { class: 'notice' }, `This hub does not offer ${what} yet (${err.message}).`);
  if (err.status === 403)
    return h('p', { class: 'notice' }, `Your token may not see ${what}: ${err.message}.`);
  return h('p', { class: 'error', role: 'alert' }, `Could not load ${what}: ${err.message}`);
}
