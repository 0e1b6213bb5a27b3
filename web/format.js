// Pure helpers (no DOM): sizes, counts, times, and the health of a
// destination. Unit-tested with `node --test` (tests/browser/unit/).
//
// Sizes use binary units throughout the dashboard (1 KiB = 1024 B,
// 1 GiB = 2^30 B), as the CLI and the server's own messages do ("306.4 MiB"),
// so a card never shows one figure in two systems. The exact byte count is
// always available on hover (formatExactBytes).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

function num(v) {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

// At most three significant digits: 999 B, 0.98 KiB, 10.8 GiB, 123 GiB.
export function formatBytes(value) {
  let n = num(value);
  const neg = n < 0;
  n = Math.abs(n);
  let i = 0;
  while (n >= 999.5 && i < UNITS.length - 1) {
    n /= 1024;
    i += 1;
  }
  let text;
  if (i === 0) text = String(Math.round(n));
  else if (n < 9.995) text = n.toFixed(2);
  else if (n < 99.95) text = n.toFixed(1);
  else text = n.toFixed(0);
  return `${neg ? '-' : ''}${text} ${UNITS[i]}`;
}

// "1,234,567 bytes" (the hover text of a size).
export function formatExactBytes(value) {
  const n = Math.round(num(value));
  return `${formatCount(n)} ${n === 1 ? 'byte' : 'bytes'}`;
}

// "1,234,567"
export function formatCount(value) {
  return Math.round(num(value)).toLocaleString('en-US');
}

// Axis labels: 950, 1.2k, 3.4M.
export function formatCompact(value) {
  const n = num(value);
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n * 100) / 100);
  const units = [['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3]];
  for (const [u, f] of units) {
    if (a >= f) {
      const v = n / f;
      return `${Math.abs(v) < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)}${u}`;
    }
  }
  return String(n);
}

// Bytes per second: "4.20 MB/s".
export function formatRate(bps) {
  return `${formatBytes(bps)}/s`;
}

// "45 s", "14 min", "2 h 5 min", "3 d 4 h".
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(num(seconds)));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  if (m < 24 * 60) {
    const h = Math.floor(m / 60);
    return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  }
  const hours = Math.round(s / 3600);
  const d = Math.floor(hours / 24);
  return hours % 24 ? `${d} d ${hours % 24} h` : `${d} d`;
}

// Milliseconds since the epoch from an ISO string, a Date or a number of
// milliseconds; null when absent or unparseable.
export function toMillis(t) {
  if (t === null || t === undefined || t === '') return null;
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return Number.isFinite(t) ? t : null;
  const ms = Date.parse(String(t));
  return Number.isNaN(ms) ? null : ms;
}

// "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago", "in 40 s";
// "never" for no time.
export function formatRelative(t, nowMs = Date.now()) {
  const ms = toMillis(t);
  if (ms === null) return 'never';
  const diff = Math.round((nowMs - ms) / 1000);
  const a = Math.abs(diff);
  if (a < 2) return 'just now';
  let text;
  if (a < 60) text = `${a} s`;
  else if (a < 3600) text = `${Math.floor(a / 60)} min`;
  else if (a < 86400) text = `${Math.floor(a / 3600)} h`;
  else text = `${Math.floor(a / 86400)} d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

// The exact time for a hover: "2026-11-24T17:14:51Z" (UTC, no milliseconds).
export function formatIso(t) {
  const ms = toMillis(t);
  if (ms === null) return '';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// Connection states that mean the bucket cannot be used.
export const UNREACHABLE_STATES = new Set([
  'network_error', 'auth_failed', 'bucket_not_found', 'missing_credentials', 'error',
]);

const STATE_TEXT = {
  checking: 'checking the connection',
  connected: 'connected',
  disabled: 'disabled in the configuration',
  missing_credentials: 'missing credentials',
  network_error: 'network error',
  auth_failed: 'authentication failed',
  bucket_not_found: 'bucket not found',
  error: 'error',
};

// A connection state as words ("network error").
export function stateText(state) {
  return STATE_TEXT[state] || String(state || 'unknown').replace(/_/g, ' ');
}

// The health of one destination of /api/status:
//   {level: "connected" | "degraded" | "unreachable" | "disabled",
//    label: "Connected" | ..., reasons: ["2 failed files", ...]}
export function healthOf(d) {
  const state = d && d.connection ? d.connection.state : undefined;
  const failed = num(d && d.failed && d.failed.files);
  if ((d && d.enabled === false) || state === 'disabled') {
    return { level: 'disabled', label: 'Disabled', reasons: [] };
  }
  if (UNREACHABLE_STATES.has(state)) {
    return { level: 'unreachable', label: 'Unreachable', reasons: [stateText(state)] };
  }
  const reasons = [];
  if (state === 'checking') reasons.push('checking the connection');
  else if (state !== 'connected') reasons.push(stateText(state));
  if (failed > 0) reasons.push(`${formatCount(failed)} failed ${failed === 1 ? 'file' : 'files'}`);
  if (d && d.synced && d.synced.stale) reasons.push('figures stale');
  if (reasons.length) return { level: 'degraded', label: 'Degraded', reasons };
  return { level: 'connected', label: 'Connected', reasons: [] };
}

// Where a card's synced figures come from:
//   {kind: "bucket" | "stale" | "database", text, title}
export function syncedNote(d, nowMs = Date.now()) {
  const s = (d && d.synced) || {};
  const asOf = s.as_of || null;
  const title = asOf ? `as of ${formatIso(asOf)}` : '';
  if (s.source === 'bucket') {
    if (s.stale) {
      return { kind: 'stale', text: `from bucket, stale (${formatRelative(asOf, nowMs)})`, title };
    }
    return { kind: 'bucket', text: `live from bucket, ${formatRelative(asOf, nowMs)}`, title };
  }
  const state = d && d.connection ? d.connection.state : '';
  let why = 'bucket unreachable';
  if (state === 'disabled' || (d && d.enabled === false)) why = 'destination disabled';
  else if (state === 'checking') why = 'bucket not checked yet';
  else if (state === 'connected') why = 'bucket not listed yet';
  return { kind: 'database', text: `from database — ${why}`, title };
}

// About `count` round tick values covering [min, max] (for value axes).
export function niceTicks(min, max, count = 4) {
  let lo = num(min);
  let hi = num(max);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    hi = lo === 0 ? 1 : lo * 1.1;
    lo = lo === 0 ? 0 : lo * 0.9;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  let step;
  if (norm <= 1) step = mag;
  else if (norm <= 2) step = 2 * mag;
  else if (norm <= 2.5) step = 2.5 * mag;
  else if (norm <= 5) step = 5 * mag;
  else step = 10 * mag;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let v = start; v <= hi + step * 0.5 && ticks.length < 50; v += step) {
    ticks.push(Math.round(v / step) * step);
  }
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

// Ticks for a byte axis from 0 to at least max, round in one binary unit:
// {ticks: [0, 524288, 1048576, 1572864], format: (v) => "1.5 MiB"}.
export function byteTicks(max, count = 4) {
  const m = Math.max(1, num(max));
  let i = 0;
  while (m / 1024 ** i >= 1024 && i < UNITS.length - 1) i += 1;
  const unit = 1024 ** i;
  const ticks = niceTicks(0, m / unit, count).map((v) => v * unit);
  const format = (v) => (v === 0 ? '0 B' : `${Math.round((v / unit) * 1000) / 1000} ${UNITS[i]}`);
  return { ticks, format };
}

// Round tick times (ms) within [minMs, maxMs], about `count` of them.
export function timeTicks(minMs, maxMs, count = 5) {
  const span = Math.max(1, maxMs - minMs);
  const steps = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400, 172800, 604800].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= count) || steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(minMs / step) * step; t <= maxMs && ticks.length < 50; t += step) {
    ticks.push(t);
  }
  return ticks;
}

// A time-axis label in local time: "17:14", "17:14:05" for short spans,
// "Nov 24" for long ones.
export function formatTimeTick(ms, spanMs) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  if (spanMs > 3 * 86400 * 1000) {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    return `${months[d.getMonth()]} ${d.getDate()}`;
  }
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return spanMs < 5 * 60 * 1000 ? `${hm}:${two(d.getSeconds())}` : hm;
}
