// The REST API client: JSON over fetch with "Authorization: Bearer <token>".
// The token lives in sessionStorage (this tab, this session) - no cookies, so
// no CSRF surface.

const TOKEN_KEY = 'cloudkeep.token';
const TIMEOUT_MS = 10000;

export class ApiError extends Error {
  // status 0 = the request did not get an answer (network, timeout).
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function loadToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function saveToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: the token lasts as long as the page
  }
}

export function clearToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
}

async function request(token, method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal: controller.signal,
    });
  } catch (e) {
    const why = e && e.name === 'AbortError' ? 'the server did not answer in time' : 'the server cannot be reached';
    throw new ApiError(0, 'network', why);
  } finally {
    clearTimeout(timer);
  }
  let doc = null;
  try {
    doc = await res.json();
  } catch {
    doc = null;
  }
  if (!res.ok) {
    const err = doc && doc.error ? doc.error : {};
    throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || `HTTP ${res.status}`);
  }
  if (doc === null) throw new ApiError(res.status, 'bad_reply', 'the server sent no JSON');
  return doc;
}

// An API bound to a token.
export function createApi(token) {
  return {
    status: () => request(token, 'GET', '/api/status'),
    failedFiles: ({ destination = '', limit = 25, cursor = '' } = {}) => {
      const q = new URLSearchParams({ limit: String(limit) });
      if (destination) q.set('destination', destination);
      if (cursor) q.set('cursor', cursor);
      return request(token, 'GET', `/api/sync/failed-files?${q}`);
    },
    history: ({ since } = {}) => {
      const q = since ? `?${new URLSearchParams({ since: String(since) })}` : '';
      return request(token, 'GET', `/api/history${q}`);
    },
    retry: (body) => request(token, 'POST', '/api/sync/retry', body || {}),
    runSync: () => request(token, 'POST', '/api/sync/run', {}),
  };
}
