// The console's only way to the server: same-origin JSON calls with the session cookie and the
// console marker header. Errors become ApiError (status, code, request id); a 401 tells the app
// the session is gone.

export class ApiError extends Error {
  constructor(message, { status = 0, code = '', requestId = '' } = {}) {
    super(message || 'request failed');
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let unauthorized = null;
/** Registers the handler called when any call answers 401. */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** Appends `query` (arrays repeat the key; null/undefined/'' are skipped) to `path`. */
export function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one !== undefined && one !== null && one !== '') params.append(k, String(one));
    }
  }
  const s = params.toString();
  return s ? path + (path.includes('?') ? '&' : '?') + s : path;
}

async function send(path, { method = 'GET', body, query, signal, accept = 'application/json' } = {}) {
  const headers = { 'X-OpsOrch-Console': '1', Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(withQuery(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError('The server could not be reached: ' + (e && e.message ? e.message : e), { code: 'network' });
  }
  if (!res.ok) {
    const requestId = res.headers.get('X-Request-Id') || '';
    let code = '';
    let message = '';
    const text = await res.text().catch(() => '');
    try {
      const j = JSON.parse(text);
      code = j.code || '';
      message = j.message || j.error || '';
    } catch {
      message = text.slice(0, 300);
    }
    const err = new ApiError(message || `${res.status} ${res.statusText}`, { status: res.status, code, requestId });
    if (res.status === 401 && unauthorized && !path.startsWith('/ui/session')) unauthorized(err);
    throw err;
  }
  return res;
}

async function json(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('The server answered with something that is not JSON', {
      status: res.status,
      code: 'bad_response',
      requestId: res.headers.get('X-Request-Id') || '',
    });
  }
}

/** One JSON call: returns the parsed body (null for 204/empty); throws ApiError. */
export async function api(path, opts = {}) {
  return json(await send(path, opts));
}

/** One page of a list: `{ items, next }`; `after` is the cursor of the previous page. */
export async function apiPage(path, { after, query, ...rest } = {}) {
  const res = await send(path, { ...rest, query: after ? { ...query, after } : query });
  const data = await json(res);
  const items = Array.isArray(data) ? data : data && Array.isArray(data.items) ? data.items : [];
  return { items, next: res.headers.get('X-OpsOrch-Next-Cursor') || null };
}

/** A text body (CSV downloads). */
export async function apiText(path, { query, signal } = {}) {
  const res = await send(path, { query, signal, accept: 'text/csv, text/plain, */*' });
  return res.text();
}
