// cloudkeep dashboard: login, polling, rendering. Everything from the server
// is rendered as text (textContent / createTextNode), never as HTML.

import { ApiError, clearToken, createApi, loadToken, saveToken } from './api.js';
import { legend, lineChart } from './charts.js';
import {
  byteTicks, formatBytes, formatCompact, formatCount, formatDuration, formatExactBytes, formatIso,
  formatRate, formatRelative, healthOf, niceTicks, syncedNote, toMillis,
} from './format.js';

const POLL_MS = 4000;             // status (and failed files) every 4 s
const HISTORY_EVERY_MS = 30000;   // history at least this often, and after every pass / listing
const HISTORY_DAYS = 7;
const PAGE_SIZE = 25;

const $ = (id) => document.getElementById(id);

const state = {
  api: null,
  gen: 0,               // bumped on login/logout: stale async work checks it
  timer: null,
  status: null,
  lastUpdateMs: null,   // last successful poll
  offlineSince: null,
  lastError: '',
  lastErrorIsNetwork: true,
  failed: { destination: '', cursor: '', back: [], next: null, files: [], key: '' },
  selected: new Map(),  // "dest\0path" -> {destination, path}
  history: { samples: [], fetchedMs: 0, mark: '' },
  destNames: [],
  awaitRun: null,       // run id "Sync now" queued, until it finished
};

// ---------------------------------------------------------------- DOM helpers

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, String(v));
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A size: "10.8 GB", exact bytes on hover.
function sizeEl(bytes) {
  return h('span', { class: 'size', title: formatExactBytes(bytes), 'data-bytes': bytes ?? 0 }, formatBytes(bytes));
}

// A relative time kept current by the 1 s ticker; exact ISO time on hover.
function timeEl(iso, prefix = '') {
  const ms = toMillis(iso);
  if (ms === null) return h('span', { class: 'reltime' }, `${prefix}never`);
  const exact = formatIso(ms);
  return h('time', { class: 'reltime', datetime: exact, title: exact, 'data-at': ms, 'data-prefix': prefix },
    prefix + formatRelative(ms));
}

function tickTimes() {
  const now = Date.now();
  for (const e of document.querySelectorAll('[data-at]')) {
    const text = (e.dataset.prefix || '') + formatRelative(Number(e.dataset.at), now);
    if (e.textContent !== text) e.textContent = text;
  }
  renderBanner();
}

function plural(n, one, many) {
  return `${formatCount(n)} ${Number(n) === 1 ? one : many}`;
}

// ---------------------------------------------------------------- login / logout

function showLogin(message = '') {
  state.gen += 1;
  clearTimeout(state.timer);
  state.api = null;
  $('dashboard').hidden = true;
  $('session-actions').hidden = true;
  $('login').hidden = false;
  $('banner').textContent = '';
  $('login-error').textContent = message;
  $('token').value = '';
  $('token').focus();
}

function showDashboard(token) {
  state.gen += 1;
  state.api = createApi(token);
  state.status = null;
  state.lastUpdateMs = null;
  state.offlineSince = null;
  state.awaitRun = null;
  state.history = { samples: [], fetchedMs: 0, mark: '' };
  state.failed = { destination: $('failed-filter').value, cursor: '', back: [], next: null, files: [], key: '' };
  state.selected.clear();
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('session-actions').hidden = false;
  $('login-error').textContent = '';
  poll(state.gen);
}

async function onLogin(ev) {
  ev.preventDefault();
  const token = $('token').value.trim();
  const err = $('login-error');
  if (!token) {
    err.textContent = 'Enter the API token.';
    return;
  }
  const button = ev.target.querySelector('button[type=submit]');
  button.disabled = true;
  err.textContent = '';
  try {
    const status = await createApi(token).status();
    saveToken(token);
    showDashboard(token);
    renderStatus(status);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) err.textContent = 'Wrong token: the server did not accept it.';
    else err.textContent = `Cannot sign in: ${e.message}.`;
    $('token').select();
  } finally {
    button.disabled = false;
  }
}

function logout() {
  clearToken();
  showLogin('');
}

// ---------------------------------------------------------------- polling

async function poll(gen) {
  const api = state.api;
  try {
    const status = await api.status();
    if (gen !== state.gen) return;
    renderStatus(status);
    await loadFailed(gen);
    if (gen !== state.gen) return;
    if (historyDue(status)) await loadHistory(gen, status);
    if (gen !== state.gen) return;
    state.lastUpdateMs = Date.now();
    state.offlineSince = null;
    state.lastError = '';
  } catch (e) {
    if (gen !== state.gen) return;
    if (e instanceof ApiError && e.status === 401) {
      clearToken();
      showLogin('The server no longer accepts this token (it may have been changed). Sign in again.');
      return;
    }
    if (state.offlineSince === null) state.offlineSince = Date.now();
    state.lastError = e instanceof ApiError && e.status > 0
      ? `the server answered HTTP ${e.status}: ${e.message}`
      : (e.message || String(e));
    state.lastErrorIsNetwork = !(e instanceof ApiError && e.status > 0);
  } finally {
    if (gen === state.gen) {
      renderBanner();
      renderUpdated();
      clearTimeout(state.timer);
      state.timer = setTimeout(() => poll(gen), POLL_MS);
    }
  }
}

function renderBanner() {
  const banner = $('banner');
  let text = '';
  if (state.api && state.offlineSince !== null) {
    const last = state.lastUpdateMs ? `; showing data from ${formatRelative(state.lastUpdateMs)}` : '';
    const what = state.lastErrorIsNetwork ? 'Connection lost' : 'Update failed';
    text = `${what} — retrying every ${POLL_MS / 1000} s (${state.lastError})${last}.`;
  }
  if (banner.textContent !== text) banner.textContent = text;
}

function renderUpdated() {
  const el = $('footer-updated');
  el.replaceChildren();
  if (state.lastUpdateMs) el.append('Page updated ', timeEl(state.lastUpdateMs), `; refreshes every ${POLL_MS / 1000} s.`);
}

// ---------------------------------------------------------------- status

function renderStatus(status) {
  state.status = status;
  const dests = Array.isArray(status.destinations) ? status.destinations : [];
  const names = dests.map((d) => d.name);
  state.destNames = names;
  renderTotals(status);
  renderCards(dests);
  reportFinishedPass(status.sync);
  renderFilterOptions(names);
}

function totalItem(label, value, sub, attrs = {}) {
  return h('div', attrs, h('dt', {}, label), h('dd', {}, value, sub ? h('span', { class: 'sub' }, sub) : null));
}

function syncStateText(sync) {
  if (!sync) return 'unknown';
  if (sync.running) {
    const p = sync.progress;
    const more = sync.queued ? '; another pass queued' : '';
    if (p && p.scanning) return `running: scanning (${plural(p.scanned_entries ?? 0, 'entry', 'entries')})${more}`;
    if (p && p.files_total !== undefined) {
      return `running: ${formatCount(p.files_done ?? 0)} of ${plural(p.files_total, 'file', 'files')}, `
        + `${formatBytes(p.bytes_done ?? 0)} of ${formatBytes(p.bytes_total ?? 0)}${more}`;
    }
    return `running${more}`;
  }
  if (sync.queued) return 'pass queued';
  if (typeof sync.next_pass_in_seconds === 'number') return `idle; next pass in ${formatDuration(sync.next_pass_in_seconds)}`;
  return 'idle';
}

function renderTotals(status) {
  const t = status.totals || {};
  const sync = status.sync || null;
  const dl = $('totals');
  const lastPass = sync && sync.last_pass;
  const passNote = lastPass && lastPass.ok === false && lastPass.error ? `last pass failed: ${lastPass.error}` : '';
  dl.replaceChildren(
    totalItem('Stored (all destinations)', plural(t.files, 'file', 'files'), sizeEl(t.bytes),
      { 'data-total-files': t.files ?? 0, 'data-total-bytes': t.bytes ?? 0, id: 'total-stored' }),
    totalItem('Pending', plural(t.pending_files ?? 0, 'file', 'files'), sizeEl(t.pending_bytes ?? 0)),
    totalItem('Failed', h('span', { class: t.failed_files ? 'count-bad' : '' }, plural(t.failed_files ?? 0, 'file', 'files'))),
    totalItem('Last successful sync', sync ? timeEl(sync.last_success_at) : 'unknown', passNote || null, { id: 'last-success' }),
    totalItem('Sync', syncStateText(sync), sync && sync.passes !== undefined ? plural(sync.passes, 'pass', 'passes') + ' since start' : null),
  );
}

const HEALTH_ICON = { connected: '✓', degraded: '!', unreachable: '✕', disabled: '–' };

function card(d) {
  const health = healthOf(d);
  const note = syncedNote(d);
  const conn = d.connection || {};
  const synced = d.synced || {};
  const pending = d.pending || {};
  const failed = d.failed || {};
  const healthText = health.reasons.length ? `${health.label} — ${health.reasons.join(', ')}` : health.label;

  let noteEl;
  if (note.kind === 'bucket' || note.kind === 'stale') {
    const prefix = note.kind === 'bucket' ? 'live from bucket, ' : 'from bucket, stale — as of ';
    noteEl = h('span', { class: `note note-${note.kind}`, 'data-source': synced.source }, timeEl(synced.as_of, prefix));
  } else {
    noteEl = h('span', { class: 'note note-database', 'data-source': synced.source || 'database', title: note.title || null }, note.text);
  }
  const where = [d.type ? d.type.toUpperCase() : '', d.bucket ? `bucket ${d.bucket}` : '', d.prefix ? `prefix ${d.prefix}` : '']
    .filter(Boolean).join(' · ');

  return h('article', {
    class: `card health-${health.level}`,
    'data-dest': d.name,
    'data-health': health.level,
    'data-state': conn.state || '',
    'data-synced-files': synced.files ?? 0,
    'data-synced-bytes': synced.bytes ?? 0,
    'data-source': synced.source || '',
  },
  h('div', { class: 'card-head' },
    h('h3', {}, d.name),
    h('p', { class: `health health-${health.level}`, 'data-role': 'health' },
      h('span', { class: 'health-icon', 'aria-hidden': 'true' }, HEALTH_ICON[health.level] || '?'),
      h('span', {}, healthText))),
  where ? h('p', { class: 'where' }, where) : null,
  conn.message ? h('p', { class: 'diagnosis', 'data-role': 'message' }, conn.message) : null,
  h('dl', { class: 'figures' },
    h('dt', {}, 'Synced'),
    h('dd', { 'data-role': 'synced' },
      h('span', { 'data-role': 'synced-files' }, plural(synced.files ?? 0, 'file', 'files')), ' · ', sizeEl(synced.bytes), noteEl),
    h('dt', {}, 'Pending'),
    h('dd', { 'data-role': 'pending' }, plural(pending.files ?? 0, 'file', 'files'), ' · ', sizeEl(pending.bytes)),
    h('dt', {}, 'Failed'),
    h('dd', { 'data-role': 'failed', class: failed.files ? 'count-bad' : '' },
      plural(failed.files ?? 0, 'file', 'files'), ' · ', sizeEl(failed.bytes)),
    h('dt', {}, 'List calls'),
    h('dd', { 'data-role': 'list-calls' }, formatCount(d.list_calls ?? 0)),
    h('dt', {}, 'Last upload'),
    h('dd', {}, timeEl(d.last_synced_at)),
    h('dt', {}, 'Checked'),
    h('dd', {}, timeEl(conn.checked_at),
      typeof conn.latency_ms === 'number' && conn.checked_at ? ` (${Math.round(conn.latency_ms)} ms)` : '')));
}

function renderCards(dests) {
  const cards = $('cards');
  if (dests.length === 0) {
    cards.replaceChildren(h('p', { class: 'empty' }, 'No destinations are configured.'));
    return;
  }
  cards.replaceChildren(...dests.map(card));
}

function renderFilterOptions(names) {
  const select = $('failed-filter');
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join('\0') === names.join('\0')) return;
  const current = select.value;
  select.replaceChildren(h('option', { value: '' }, 'All destinations'), ...names.map((n) => h('option', { value: n }, n)));
  select.value = names.includes(current) ? current : '';
}

// ---------------------------------------------------------------- failed files

// Rows are told apart by the file id the server gives (names may repeat across
// sources or not be valid UTF-8); the path is the fallback.
const rowKey = (f) => `${f.destination}\0${f.id ?? f.path}`;
const choice = (f) => ({ destination: f.destination, path: f.path, id: f.id });

async function loadFailed(gen) {
  const f = state.failed;
  const { destination, cursor } = f;
  // A reply for a filter or page the user has left since is dropped.
  const stale = () => gen !== state.gen || f !== state.failed || f.destination !== destination || f.cursor !== cursor;
  let page;
  try {
    page = await state.api.failedFiles({ destination, limit: PAGE_SIZE, cursor });
  } catch (e) {
    // a cursor the server no longer understands (e.g. after an upgrade): first page
    if (!(e instanceof ApiError && e.status === 400 && cursor)) throw e;
    page = { files: [], next_cursor: null };
  }
  if (stale()) return;
  if (page.files.length === 0 && cursor) {
    // this page emptied (files retried or fixed): back to the first page
    f.cursor = '';
    f.back = [];
    page = await state.api.failedFiles({ destination, limit: PAGE_SIZE });
    if (gen !== state.gen || f !== state.failed || f.destination !== destination || f.cursor !== '') return;
  }
  f.files = page.files || [];
  f.next = page.next_cursor || null;
  renderFailed();
}

function renderFailed() {
  const f = state.failed;
  const key = JSON.stringify([f.files, f.next, f.back.length]);
  const body = $('failed-body');
  // Rebuild only when something changed, so focus and keyboard position survive polling.
  if (key !== f.key) {
    f.key = key;
    // Forget selections that are no longer failed on this page.
    const present = new Set(f.files.map(rowKey));
    for (const k of [...state.selected.keys()]) if (!present.has(k)) state.selected.delete(k);
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    body.replaceChildren(...f.files.map((file) => {
      const k = rowKey(file);
      const box = h('input', { type: 'checkbox', 'data-key': k, 'aria-label': `Select ${file.path} (${file.destination})` });
      box.checked = state.selected.has(k);
      box.addEventListener('change', () => {
        if (box.checked) state.selected.set(k, choice(file));
        else state.selected.delete(k);
        updateSelectionControls();
      });
      return h('tr', { 'data-path': file.path, 'data-destination': file.destination },
        h('td', { class: 'col-check' }, box),
        h('td', { class: 'path' }, file.path),
        h('td', {}, file.destination),
        h('td', { class: 'error' }, file.error_kind ? h('span', { class: 'error-kind' }, file.error_kind) : null, file.error || ''),
        h('td', { class: 'num' }, formatCount(file.attempts ?? 0)),
        h('td', {}, timeEl(file.last_attempt_at)));
    }));
    if (focused) {
      const again = [...body.querySelectorAll('input[data-key]')].find((b) => b.dataset.key === focused);
      if (again) again.focus();
    }
  }
  const pageNo = f.back.length + 1;
  $('failed-wrap').hidden = f.files.length === 0;
  $('failed-empty').hidden = f.files.length !== 0;
  $('failed-empty').textContent = f.destination ? `No failed files for ${f.destination}.` : 'No failed files.';
  $('pager').hidden = f.back.length === 0 && !f.next;
  $('page-prev').disabled = f.back.length === 0;
  $('page-next').disabled = !f.next;
  $('page-info').textContent = f.files.length || pageNo > 1
    ? `Page ${pageNo}: ${plural(f.files.length, 'file', 'files')}${f.next ? ', more on the next page' : ''}`
    : '';
  const total = state.status && state.status.totals ? state.status.totals.failed_files : undefined;
  const all = $('retry-all');
  all.textContent = f.destination ? `Retry all (${f.destination})` : 'Retry all';
  all.disabled = f.files.length === 0 && !total;
  updateSelectionControls();
}

function updateSelectionControls() {
  const n = state.selected.size;
  $('retry-selected').disabled = n === 0;
  $('retry-selected').textContent = n ? `Retry selected (${n})` : 'Retry selected';
  const boxes = [...$('failed-body').querySelectorAll('input[data-key]')];
  const pageBox = $('select-page');
  pageBox.checked = boxes.length > 0 && boxes.every((b) => b.checked);
  pageBox.indeterminate = !pageBox.checked && boxes.some((b) => b.checked);
}

function onSelectPage() {
  const on = $('select-page').checked;
  for (const file of state.failed.files) {
    if (on) state.selected.set(rowKey(file), choice(file));
    else state.selected.delete(rowKey(file));
  }
  for (const b of $('failed-body').querySelectorAll('input[data-key]')) b.checked = on;
  updateSelectionControls();
}

function refreshFailedNow() {
  const gen = state.gen;
  loadFailed(gen).catch((e) => {
    if (gen === state.gen) setFeedback('retry-feedback', `Could not load failed files: ${e.message}`, true);
  });
}

function onFilter() {
  const f = state.failed;
  f.destination = $('failed-filter').value;
  f.cursor = '';
  f.back = [];
  state.selected.clear();
  refreshFailedNow();
}

function onPage(dir) {
  const f = state.failed;
  if (dir > 0 && f.next) {
    f.back.push(f.cursor);
    f.cursor = f.next;
  } else if (dir < 0 && f.back.length) {
    f.cursor = f.back.pop();
  } else {
    return;
  }
  refreshFailedNow();
}

function setFeedback(id, text, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
}

function syncNote(sync) {
  if (!sync || typeof sync !== 'object') return '';
  if (sync.queued === false) return ' (no sync pass could be queued)';
  if (sync.running && sync.already_queued) return '; a pass is running, the next one was already queued';
  if (sync.running) return '; a pass is running, another one is queued';
  return sync.run_id ? `; sync pass #${sync.run_id} queued` : '; a sync pass is queued';
}

async function retry(bodies, button) {
  button.disabled = true;
  setFeedback('retry-feedback', 'Retrying…');
  try {
    let queued = 0;
    let sync = null;
    for (const body of bodies) {
      const r = await state.api.retry(body);
      queued += Number(r.queued) || 0;
      sync = r.sync || sync;
    }
    state.selected.clear();
    setFeedback('retry-feedback', queued
      ? `${plural(queued, 'file', 'files')} queued for upload${syncNote(sync)}.`
      : 'Nothing to retry: no matching failed files.');
    refreshFailedNow();
  } catch (e) {
    setFeedback('retry-feedback', `Retry failed: ${e.message}`, true);
  } finally {
    button.disabled = false;
    updateSelectionControls();
  }
}

function onRetrySelected() {
  const byDest = new Map();
  for (const c of state.selected.values()) {
    if (!byDest.has(c.destination)) byDest.set(c.destination, []);
    byDest.get(c.destination).push(c);
  }
  if (byDest.size === 0) return;
  const bodies = [...byDest].map(([destination, chosen]) => (chosen.every((c) => Number.isInteger(c.id))
    ? { destination, ids: chosen.map((c) => c.id) }
    : { destination, paths: chosen.map((c) => c.path) }));
  retry(bodies, $('retry-selected'));
}

function onRetryAll() {
  const dest = state.failed.destination;
  retry([dest ? { destination: dest } : {}], $('retry-all'));
}

// After "Sync now": say how the pass went once it finished.
function reportFinishedPass(sync) {
  const lp = sync && sync.last_pass;
  if (!state.awaitRun || !lp || !(Number(lp.run_id) >= state.awaitRun)) return;
  state.awaitRun = null;
  const dests = Array.isArray(lp.destinations) ? lp.destinations : [];
  const up = dests.reduce((n, d) => n + (Number(d.uploaded_files) || 0), 0);
  const failed = dests.reduce((n, d) => n + (Number(d.failed_files) || 0), 0);
  let text = `Sync pass #${lp.run_id} finished: ${plural(up, 'upload', 'uploads')}`;
  if (failed) text += `, ${plural(failed, 'file', 'files')} failed`;
  if (lp.ok === false && lp.error) text += ` (${lp.error})`;
  setFeedback('sync-feedback', `${text}.`, failed > 0 || lp.ok === false);
}

async function onSyncNow() {
  const button = $('sync-now');
  button.disabled = true;
  setFeedback('sync-feedback', 'Asking the server for a sync pass…');
  try {
    const r = await state.api.runSync();
    let text;
    if (r.queued === false) text = 'The server did not queue a pass (it is stopping).';
    else if (r.running && r.already_queued) text = `A pass is running and the next one (#${r.run_id}) was already queued.`;
    else if (r.running) text = `A pass is running; pass #${r.run_id} will follow it.`;
    else text = `Sync pass #${r.run_id ?? '?'} queued.`;
    setFeedback('sync-feedback', text);
    if (r.queued !== false && r.run_id) state.awaitRun = Number(r.run_id);
    // show the running pass soon rather than at the next poll
    const gen = state.gen;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => poll(gen), 500);
  } catch (e) {
    setFeedback('sync-feedback', `Sync now failed: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- history

// A change of passes or listings means new samples.
function historyMark(status) {
  const sync = status.sync || {};
  const lists = (status.destinations || []).map((d) => d.list_calls).join(',');
  return `${sync.passes}|${lists}`;
}

function historyDue(status) {
  const hst = state.history;
  return hst.mark !== historyMark(status) || Date.now() - hst.fetchedMs > HISTORY_EVERY_MS;
}

async function loadHistory(gen, status) {
  const since = Math.floor(Date.now() / 1000) - HISTORY_DAYS * 86400;
  const doc = await state.api.history({ since });
  if (gen !== state.gen) return;
  state.history.fetchedMs = Date.now();
  state.history.mark = historyMark(status);
  const samples = Array.isArray(doc.samples) ? doc.samples : [];
  // Samples of the state DB: {at, at_unix, kind, destination, files, bytes, throughput_bps, ...}
  state.history.samples = samples.filter((s) => s && typeof s.destination === 'string' && (s.at_unix !== undefined || s.at));
  renderHistory();
}

function seriesBy(samples, valueOf) {
  const names = [...state.destNames];
  for (const s of samples) if (!names.includes(s.destination)) names.push(s.destination);
  return names.map((name, i) => ({
    name,
    colour: i,
    points: samples
      .filter((s) => s.destination === name)
      .map((s) => ({ t: s.at_unix !== undefined ? Number(s.at_unix) * 1000 : toMillis(s.at), v: valueOf(s) }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)),
  })).filter((s) => s.points.length > 0);
}

function chartFigure(id, title, series, yAxis, exactFormat, emptyText) {
  const fig = h('figure', { class: 'chart', id });
  fig.append(h('h3', {}, title));
  if (series.length === 0) {
    fig.append(h('p', { class: 'empty' }, emptyText));
    return fig;
  }
  fig.append(lineChart({ label: title, series, yAxis, exactFormat }), legend(series));
  return fig;
}

function renderHistory() {
  const samples = state.history.samples;
  const none = 'No history yet: a sample is recorded after every sync pass and bucket listing.';
  const bytes = seriesBy(samples, (s) => Number(s.bytes));
  const files = seriesBy(samples, (s) => Number(s.files));
  // Throughput of the passes that uploaded something.
  const rate = seriesBy(samples.filter((s) => s.kind === 'pass' && typeof s.throughput_bps === 'number'
    && Number(s.uploaded_bytes) > 0), (s) => s.throughput_bps);
  const countAxis = (max) => ({ ticks: niceTicks(0, Math.max(1, max), 4).filter((v) => Number.isInteger(v)), format: formatCompact });
  const rateAxis = (max) => {
    const b = byteTicks(max);
    return { ticks: b.ticks, format: (v) => `${b.format(v)}/s` };
  };
  $('charts').replaceChildren(
    chartFigure('chart-bytes', 'Stored bytes per destination', bytes, byteTicks, formatExactBytes, none),
    chartFigure('chart-files', 'Stored files per destination', files, countAxis, (v) => plural(v, 'file', 'files'), none),
    chartFigure('chart-throughput', 'Upload throughput per sync pass', rate, rateAxis,
      (v) => `${formatRate(v)} (${formatCount(v)} bytes/s)`, 'No uploads recorded yet.'),
  );
}

// ---------------------------------------------------------------- start

function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', logout);
  $('sync-now').addEventListener('click', onSyncNow);
  $('failed-filter').addEventListener('change', onFilter);
  $('page-prev').addEventListener('click', () => onPage(-1));
  $('page-next').addEventListener('click', () => onPage(1));
  $('retry-selected').addEventListener('click', onRetrySelected);
  $('retry-all').addEventListener('click', onRetryAll);
  $('select-page').addEventListener('change', onSelectPage);
  setInterval(tickTimes, 1000);
  const token = loadToken();
  if (token) showDashboard(token);
  else showLogin('');
}

start();
