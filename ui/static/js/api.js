// Same-origin JSON helpers. The session cookie authenticates; state-changing
// requests carry the CSRF token from the page's <meta> tag.
import { parseExact, stringifyExact } from './exact_json.js';
import { csrf, freshCsrf, logInAgain } from './session.js';

// A state-changing request refused for the session alone (ended: 401; renewed in
// another tab, so the page's CSRF token is stale: 403) reached no handler: it is
// sent once more with the session's current token, after logging in again in place
// when it ended (session.js). Cancelled: the refusal is the answer.
export async function api(method, url, body, options = {}) {
  const r = await send(method, url, body, options);
  if (method === 'GET') return r;
  const stale = r.status === 403 && r.data?.reason === 'csrf';
  if (!stale && r.status !== 401) return r;
  const renewed = (stale && (await freshCsrf())) || (await logInAgain());
  return renewed ? send(method, url, body, options) : r;
}

// Why a request failed, in words for a status line.
export function failure(r) {
  if (r.status === 401) return 'not logged in (log in again, then try again: nothing on this page is lost)';
  // "payload too large" alone left a user whose workflow grew past 1 MiB of JSON no
  // way to save it from the editor: say which limit, and the setting that raises it.
  if (r.status === 413) {
    const limit = Number.isInteger(r.data?.max_bytes) ? ` of ${r.data.max_bytes.toLocaleString('en')} bytes` : '';
    return `larger than the server's request limit${limit} (FLOWYARD_MAX_BODY, docs/deploy.md: raise it to send this much)`;
  }
  return r.data?.error ?? `HTTP ${r.status}`;
}

// `exact`: integers past 2^53 are read as BigInt (exact_json.js), and a BigInt in the
// body is sent as its digits, for a page that shows them or saves them back (the
// editor); every other caller gets JSON.parse's numbers.
async function send(method, url, body, { accept = 'application/json', ifMatch, ifNoneMatch, exact = false } = {}) {
  const headers = { Accept: accept };
  if (ifMatch) headers['If-Match'] = ifMatch;
  if (ifNoneMatch) headers['If-None-Match'] = ifNoneMatch;
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = exact ? stringifyExact(body) : JSON.stringify(body);
  }
  const resp = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await resp.text();
  let data = null;
  try { data = text ? (exact ? parseExact(text) : JSON.parse(text)) : null; } catch { data = text; }
  return { ok: resp.ok, status: resp.status, data, etag: resp.headers.get('ETag') };
}

export const getJSON = (url, options = {}) => api('GET', url, undefined, options);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function pretty(value) {
  if (value === undefined) return '';
  try { return JSON.stringify(value, null, 2); } catch { return String(value); }
}

// "fold[3].add" -> "add": the block id of an event's block path.
export function blockIdOf(path) {
  if (!path) return null;
  const last = String(path).split('.').pop();
  return last.replace(/\[\d+\]$/, '');
}
