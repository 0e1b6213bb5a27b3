// The dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core) against `cloudkeep serve` with its own s3rver and local
// B2 server. The tests share one environment and run in order: later ones
// build on earlier states (a failed file, then the S3 server stopped, then a
// server restart). Screenshots go to tests/browser/artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';

import { formatCount, formatExactBytes } from '../../web/format.js';
import { ARTIFACTS, XSS_NAME, launchBrowser, startEnv, waitFor } from './harness.mjs';

const T = { timeout: 90000 };

describe('cloudkeep dashboard', () => {
  let env;
  let browser;
  let page;
  const dialogs = [];
  const pageErrors = [];
  const cspErrors = [];

  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const card = (name) => page.locator(`article.card[data-dest="${name}"]`);
  const cardAttr = (name, attr) => card(name).getAttribute(attr);

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    env = await startEnv();
    browser = await launchBrowser();
    page = browser.context.pages()[0] || (await browser.context.newPage());
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
  }, { timeout: 180000 });

  after(async () => {
    if (browser) await browser.close();
    if (env) await env.stop();
  }, { timeout: 60000 });

  afterEach(() => {
    assert.deepEqual(dialogs, [], 'no dialog may ever open (file names are text, not HTML)');
    assert.deepEqual(pageErrors, [], 'no uncaught page errors');
    assert.deepEqual(cspErrors, [], 'nothing blocked by the Content-Security-Policy');
  });

  it('asks for the token, refuses a wrong one, and shows the same numbers as /api/status', T, async () => {
    const res = await page.goto(`${env.url}/`);
    const csp = res.headers()['content-security-policy'] || '';
    assert.match(csp, /script-src 'self'/);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#dashboard').isVisible(), false);
    await page.getByLabel('API token').fill('wrong-token-000000000000000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitFor('the wrong-token message', async () => /wrong token/i.test(await page.textContent('#login-error')));
    assert.equal(await page.locator('#dashboard').isVisible(), false);

    // Keyboard only: type the token and press Enter.
    await page.getByLabel('API token').fill(env.token);
    await page.getByLabel('API token').press('Enter');
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login').isVisible(), false);
    assert.equal(await page.locator('h1').count(), 1);
    assert.ok((await page.locator('h2').count()) >= 4);

    // Wait until the first pass is done and both buckets were listed, then
    // compare every card with what the API says at that moment.
    let doc;
    await waitFor('cards matching GET /api/status', async () => {
      const r = await env.api('GET', '/api/status');
      doc = r.json;
      if (!doc || doc.destinations.length !== 2) return false;
      for (const d of doc.destinations) {
        if (d.synced.source !== 'bucket' || d.synced.files !== 20 || d.connection.state !== 'connected') return false;
        const c = card(d.name);
        if ((await c.count()) !== 1) return false;
        if ((await c.getAttribute('data-synced-files')) !== String(d.synced.files)) return false;
        if ((await c.getAttribute('data-synced-bytes')) !== String(d.synced.bytes)) return false;
      }
      return true;
    }, { timeoutMs: 30000 });
    for (const d of doc.destinations) {
      const c = card(d.name);
      assert.equal(await c.locator('h3').textContent(), d.name);
      assert.equal(await c.getAttribute('data-health'), 'connected');
      assert.match(await c.locator('[data-role=health]').textContent(), /Connected/);
      assert.ok((await c.locator('[data-role=message]').textContent()).length > 0);
      const synced = c.locator('[data-role=synced]');
      assert.equal(await synced.locator('[data-role=synced-files]').textContent(), `${formatCount(d.synced.files)} files`);
      assert.equal(await synced.locator('.size').getAttribute('title'), formatExactBytes(d.synced.bytes));
      const note = synced.locator('.note');
      assert.match(await note.textContent(), /^live from bucket, (just now|\d+ s ago)$/);
      assert.match(await note.locator('time').getAttribute('title'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(await c.locator('[data-role=pending]').textContent(), `${formatCount(d.pending.files)} files · 0 B`);
      assert.match(await c.locator('[data-role=failed]').textContent(), /^0 files/);
      assert.equal(await c.locator('[data-role=list-calls]').textContent(), formatCount(d.list_calls));
    }
    const total = page.locator('#total-stored');
    await waitFor('totals', async () => (await total.getAttribute('data-total-files')) === String(doc.totals.files));
    assert.equal(await total.getAttribute('data-total-bytes'), String(doc.totals.bytes));
    assert.match(await page.textContent('#last-success'), /ago|just now/);
    assert.match(await page.textContent('#footer-updated'), /Page updated/);
    await shot('overview');
  });

  it('draws the history charts after a pass', T, async () => {
    for (const id of ['chart-bytes', 'chart-files', 'chart-throughput']) {
      await waitFor(`${id} with a series`, async () => (await page.locator(`#${id} svg .chart-series`).count()) >= 1);
      const legend = await page.locator(`#${id} .legend`).textContent();
      assert.match(legend, /aws-s3/);
      assert.match(legend, /backblaze-b2/);
      assert.ok((await page.locator(`#${id} svg .chart-label`).count()) >= 4, 'axis labels');
    }
    const labels = await page.locator('#chart-bytes svg .chart-label').allTextContents();
    assert.ok(labels.some((l) => /\d (B|KiB|MiB|GiB)$/.test(l)), `byte units on the axis: ${labels}`);
    const hist = await env.api('GET', '/api/history');
    assert.equal(hist.status, 200);
    assert.ok(hist.json.samples.some((s) => s.kind === 'pass'), 'the server recorded a pass sample');
  });

  it('lists a file that failed to upload, with its HTML-like name and error shown as text', T, async () => {
    await env.b2Config({
      fail_next: [{
        op: 'upload', status: 400, code: 'bad_request', count: 1, bucket: env.b2.B2_TEST_BUCKET,
        message: 'injected <img src=y onerror=alert(2)> fault',
      }],
    });
    fs.appendFileSync(path.join(env.data, XSS_NAME), 'changed: upload again\n');
    await page.getByRole('button', { name: 'Sync now' }).click();
    await waitFor('sync-now feedback', async () => /queued|will follow/i.test(await page.textContent('#sync-feedback')));

    const row = page.locator('#failed-body tr[data-destination="backblaze-b2"]');
    await waitFor('the failed file in the table', async () => (await row.count()) === 1, { timeoutMs: 30000 });
    assert.equal(await row.getAttribute('data-path'), XSS_NAME);
    assert.equal(await row.locator('td.path').textContent(), XSS_NAME, 'the name is shown literally');
    const error = await row.locator('td.error').textContent();
    assert.match(error, /permanent/);
    assert.ok(error.includes('<img src=y onerror=alert(2)>'), `the error is shown as text: ${error}`);
    assert.equal(await page.locator('#failed-table img, #cards img').count(), 0, 'no element was made from a name');
    assert.equal(await page.locator('img[src="x"], img[src="y"]').count(), 0);
    assert.equal(await row.locator('td').nth(4).textContent(), '1');
    assert.match(await row.locator('time').getAttribute('title'), /^\d{4}-\d\d-\d\dT/);

    await waitFor('the pass reported finished', async () =>
      /Sync pass #\d+ finished: 1 upload, 1 file failed/.test(await page.textContent('#sync-feedback')));

    // The B2 card shows the failure; S3 got the file.
    await waitFor('B2 card degraded', async () => (await cardAttr('backblaze-b2', 'data-health')) === 'degraded');
    assert.match(await card('backblaze-b2').locator('[data-role=health]').textContent(), /Degraded — 1 failed file/);
    assert.match(await card('backblaze-b2').locator('[data-role=failed]').textContent(), /^1 file/);
    assert.equal(await cardAttr('aws-s3', 'data-health'), 'connected');

    // The destination filter.
    await page.getByLabel('Filter by destination').selectOption('aws-s3');
    await waitFor('no failed files for aws-s3', async () => (await page.textContent('#failed-empty')) === 'No failed files for aws-s3.'
      && await page.locator('#failed-empty').isVisible());
    await page.getByLabel('Filter by destination').selectOption('backblaze-b2');
    await waitFor('the row again', async () => (await row.count()) === 1 && await row.isVisible());
    await page.getByLabel('Filter by destination').selectOption('');
    await waitFor('the row with no filter', async () => (await row.count()) === 1);
    assert.equal(await page.getByRole('button', { name: 'Retry selected' }).isDisabled(), true);
    await shot('failed-files');
  });

  it('fits a phone screen (375 px) without horizontal scrolling', T, async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    try {
      await waitFor('no horizontal overflow', async () => page.evaluate(() =>
        document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth));
      const box = await card('aws-s3').boundingBox();
      assert.ok(box.width <= 375 && box.x >= 0, `card within the screen: ${JSON.stringify(box)}`);
      await shot('phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it('retries the selected file once the fault is gone, and it leaves the table', T, async () => {
    await env.b2Config({ clear_faults: true });
    const row = page.locator('#failed-body tr[data-destination="backblaze-b2"]');
    await row.getByRole('checkbox').check();
    const button = page.getByRole('button', { name: /Retry selected/ });
    await waitFor('retry selected enabled', async () => !(await button.isDisabled()));
    await button.click();
    await waitFor('retry feedback', async () => /1 file queued/.test(await page.textContent('#retry-feedback')));
    await waitFor('the row gone', async () => (await row.count()) === 0, { timeoutMs: 30000 });
    await waitFor('no failed files left', async () => (await env.api('GET', '/api/sync/failed-files')).json.files.length === 0);
    await waitFor('B2 card healthy again', async () => (await cardAttr('backblaze-b2', 'data-health')) === 'connected');
    assert.equal(await page.locator('#failed-empty').isVisible(), true);
  });

  it('pages through many failed files and retries them all', T, async () => {
    const n = 30;
    await env.b2Config({
      fail_next: [{ op: 'upload', status: 400, code: 'bad_request', count: n, bucket: env.b2.B2_TEST_BUCKET, message: 'injected fault' }],
    });
    fs.mkdirSync(path.join(env.data, 'many'), { recursive: true });
    for (let i = 0; i < n; i += 1) fs.writeFileSync(path.join(env.data, 'many', `f-${String(i).padStart(2, '0')}.txt`), `file ${i}\n`);
    await page.getByRole('button', { name: 'Sync now' }).click();
    const rows = page.locator('#failed-body tr');
    const info = page.locator('#page-info');
    await waitFor('a full first page', async () => (await rows.count()) === 25
      && /more on the next page/.test(await info.textContent()), { timeoutMs: 30000 });
    assert.equal(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
    const first = await rows.first().getAttribute('data-path');
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitFor('the second page', async () => (await info.textContent()) === 'Page 2: 5 files');
    assert.equal(await rows.count(), 5);
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await waitFor('the first page again', async () => (await rows.count()) === 25
      && (await rows.first().getAttribute('data-path')) === first);

    await env.b2Config({ clear_faults: true });
    await page.getByRole('button', { name: 'Retry all' }).click();
    await waitFor('retry-all feedback', async () => /30 files queued/.test(await page.textContent('#retry-feedback')));
    await waitFor('the table empty', async () => (await rows.count()) === 0 && await page.locator('#failed-empty').isVisible(),
      { timeoutMs: 30000 });
    await waitFor('every file synced on B2', async () => {
      const d = (await env.api('GET', '/api/status')).json.destinations.find((x) => x.name === 'backblaze-b2');
      return d.synced.files === 20 + n && d.failed.files === 0 && (await cardAttr('backblaze-b2', 'data-synced-files')) === String(20 + n);
    });
  });

  it('shows the S3 destination unreachable when its server stops, B2 stays healthy', T, async () => {
    await env.stopS3();
    await waitFor('S3 card unreachable', async () => (await cardAttr('aws-s3', 'data-health')) === 'unreachable',
      { timeoutMs: 20000 });
    const c = card('aws-s3');
    assert.match(await c.locator('[data-role=health]').textContent(), /Unreachable — network error/);
    const message = await c.locator('[data-role=message]').textContent();
    const api = (await env.api('GET', '/api/status')).json.destinations.find((d) => d.name === 'aws-s3');
    assert.equal(api.connection.state, 'network_error');
    assert.ok(message.length > 0, 'the diagnosis message is shown');
    assert.equal(await c.getAttribute('data-source'), 'database');
    assert.equal(await c.locator('.note').textContent(), 'from database — bucket unreachable');
    assert.equal(await c.getAttribute('data-synced-files'), '50', 'database figures, never zeros');
    assert.equal(await cardAttr('backblaze-b2', 'data-health'), 'connected');
    assert.equal(await cardAttr('backblaze-b2', 'data-source'), 'bucket');
    await shot('s3-unreachable');
  });

  it('keeps the last data and says so while the server restarts, then recovers', T, async () => {
    const port = env.port;
    await env.stopServe();
    const banner = page.locator('#banner');
    await waitFor('the connection-lost banner', async () => /connection lost/i.test(await banner.textContent()),
      { timeoutMs: 20000 });
    assert.equal(await banner.getAttribute('aria-live'), 'polite');
    assert.equal(await card('backblaze-b2').count(), 1, 'the last data stays on screen');
    assert.equal(await card('aws-s3').count(), 1);
    await shot('connection-lost');
    await env.startServe(port);
    await waitFor('the banner gone', async () => (await banner.textContent()) === '', { timeoutMs: 20000 });
    assert.equal(await page.locator('#dashboard').isVisible(), true, 'still signed in');
    await waitFor('B2 card after the restart', async () => (await cardAttr('backblaze-b2', 'data-health')) === 'connected');
  });

  it('logs out', T, async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.reload();
    await page.locator('#login').waitFor({ state: 'visible' });
  });
});
