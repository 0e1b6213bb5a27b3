// Unit tests of the dashboard's pure helpers (web/format.js), no browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  formatBytes, formatCompact, formatCount, formatDuration, formatExactBytes, formatIso,
  byteTicks, formatRate, formatRelative, healthOf, niceTicks, stateText, syncedNote, timeTicks, toMillis,
} from '../../../web/format.js';

test('formatBytes: binary units, at most three significant digits', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1000), '0.98 KiB');
  assert.equal(formatBytes(1024), '1.00 KiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(10.8 * 2 ** 30), '10.8 GiB');
  assert.equal(formatBytes(123 * 2 ** 30), '123 GiB');
  assert.equal(formatBytes(1412898), '1.35 MiB');
  assert.equal(formatBytes(2 ** 60 * 3), '3.00 EiB');
  assert.equal(formatBytes(undefined), '0 B');
  assert.equal(formatBytes(null), '0 B');
  assert.equal(formatBytes('2048'), '2.00 KiB');
});

test('exact bytes and counts', () => {
  assert.equal(formatExactBytes(1412898), '1,412,898 bytes');
  assert.equal(formatExactBytes(1), '1 byte');
  assert.equal(formatCount(1234567), '1,234,567');
  assert.equal(formatCount(undefined), '0');
  assert.equal(formatCompact(950), '950');
  assert.equal(formatCompact(1200), '1.2k');
  assert.equal(formatCompact(25000), '25k');
  assert.equal(formatCompact(3400000), '3.4M');
  assert.equal(formatRate(2 * 2 ** 20), '2.00 MiB/s');
});

test('durations', () => {
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(14 * 60), '14 min');
  assert.equal(formatDuration(3586), '1 h');
  assert.equal(formatDuration(3590 + 300), '1 h 5 min');
  assert.equal(formatDuration(86400 * 3 + 3600 * 4), '3 d 4 h');
});

test('relative and exact times', () => {
  const now = Date.parse('2026-11-24T17:15:03Z');
  assert.equal(formatRelative('2026-11-24T17:14:51Z', now), '12 s ago');
  assert.equal(formatRelative('2026-11-24T17:15:02Z', now), 'just now');
  assert.equal(formatRelative('2026-11-24T17:10:00Z', now), '5 min ago');
  assert.equal(formatRelative('2026-11-24T14:00:00Z', now), '3 h ago');
  assert.equal(formatRelative('2026-11-22T17:00:00Z', now), '2 d ago');
  assert.equal(formatRelative('2026-11-24T17:15:43Z', now), 'in 40 s');
  assert.equal(formatRelative(null, now), 'never');
  assert.equal(formatRelative('garbage', now), 'never');
  assert.equal(formatIso(Date.parse('2026-11-24T17:14:51.250Z')), '2026-11-24T17:14:51Z');
  assert.equal(toMillis('2026-11-24T17:14:51Z'), Date.parse('2026-11-24T17:14:51Z'));
  assert.equal(toMillis(''), null);
});

const dest = (over) => ({
  name: 'aws-s3',
  enabled: true,
  connection: { state: 'connected', message: 'ok' },
  synced: { files: 3, bytes: 10, source: 'bucket', as_of: '2026-11-24T17:14:51Z', stale: false },
  pending: { files: 0, bytes: 0 },
  failed: { files: 0, bytes: 0 },
  ...over,
});

test('healthOf maps connection states and failures to four levels', () => {
  assert.equal(healthOf(dest()).level, 'connected');
  assert.deepEqual(healthOf(dest({ failed: { files: 2, bytes: 5 } })),
    { level: 'degraded', label: 'Degraded', reasons: ['2 failed files'] });
  assert.equal(healthOf(dest({ synced: { source: 'bucket', stale: true } })).level, 'degraded');
  assert.equal(healthOf(dest({ connection: { state: 'checking' } })).level, 'degraded');
  for (const s of ['network_error', 'auth_failed', 'bucket_not_found', 'missing_credentials', 'error']) {
    const hh = healthOf(dest({ connection: { state: s, message: 'm' } }));
    assert.equal(hh.level, 'unreachable', s);
    assert.equal(hh.reasons[0], stateText(s));
  }
  assert.equal(healthOf(dest({ connection: { state: 'disabled' } })).level, 'disabled');
  assert.equal(healthOf(dest({ enabled: false, connection: { state: 'disabled' } })).label, 'Disabled');
  assert.equal(stateText('network_error'), 'network error');
});

test('syncedNote: live from the bucket or from the database', () => {
  const now = Date.parse('2026-11-24T17:15:03Z');
  assert.deepEqual(syncedNote(dest(), now),
    { kind: 'bucket', text: 'live from bucket, 12 s ago', title: 'as of 2026-11-24T17:14:51Z' });
  const db = syncedNote(dest({ synced: { source: 'database', files: 3 }, connection: { state: 'network_error' } }), now);
  assert.equal(db.kind, 'database');
  assert.equal(db.text, 'from database — bucket unreachable');
  assert.equal(syncedNote(dest({ synced: { source: 'database' }, enabled: false, connection: { state: 'disabled' } }), now).text,
    'from database — destination disabled');
  assert.equal(syncedNote(dest({ synced: { source: 'bucket', stale: true, as_of: '2026-11-24T17:14:51Z' } }), now).kind, 'stale');
});

test('ticks are round and cover the range', () => {
  assert.deepEqual(niceTicks(0, 20, 4), [0, 5, 10, 15, 20]);
  assert.deepEqual(niceTicks(0, 0, 4), [0, 0.25, 0.5, 0.75, 1]);
  const t = niceTicks(0, 1412898, 4);
  assert.ok(t[t.length - 1] >= 1412898 && t[0] === 0 && t.length <= 6, String(t));
  const start = Date.parse('2026-11-24T17:00:00Z');
  const tt = timeTicks(start + 1000, start + 3600 * 1000, 5);
  assert.ok(tt.length >= 2 && tt.length <= 6, String(tt));
  assert.ok(tt.every((x) => x % (60 * 1000) === 0));
});

test('byte axes use one binary unit with round steps', () => {
  const b = byteTicks(1412898);
  assert.deepEqual(b.ticks.map(b.format), ['0 B', '0.5 MiB', '1 MiB', '1.5 MiB']);
  const k = byteTicks(900);
  assert.equal(k.format(k.ticks[k.ticks.length - 1]), '1000 B');
  assert.equal(byteTicks(0).ticks[0], 0);
});
