// Test environment for the dashboard's browser tests: its own s3rver and
// local B2 server (scripts/*-up.sh in a temp dir, tied to this process with
// CK_WATCH_PID), a sample folder, a config with two destinations ("aws-s3" on
// s3rver, "backblaze-b2" on the B2 server) and `cloudkeep serve` on a free
// port; plus Chromium (Debian's /usr/bin/chromium) through playwright-core.
//
// Run by hand to get a live demo environment:
//   CK_CLI=build/cloudkeep node tests/browser/harness.mjs   (Ctrl-C stops it)

import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const ARTIFACTS = path.join(HERE, 'artifacts');
export const CHROMIUM = process.env.CK_CHROMIUM || '/usr/bin/chromium';
export const XSS_NAME = '<img src=x onerror=alert(1)>.txt';
export const TOKEN = 'browser-test-token-0123456789abcdef0123';

export function cliPath() {
  const p = process.env.CK_CLI || path.join(REPO, 'build', 'cloudkeep');
  return path.resolve(REPO, p);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws with the last value/error
// (and `what`) after timeoutMs.
export async function waitFor(what, fn, { timeoutMs = 15000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

function readEnvFile(file) {
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
  }
  return out;
}

async function runScript(name, args) {
  const env = { ...process.env, CK_WATCH_PID: String(process.pid) };
  try {
    await execFileP('bash', [path.join(REPO, 'scripts', name), ...args], { env, timeout: 180000 });
  } catch (e) {
    throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

function writeSample(dir) {
  fs.mkdirSync(path.join(dir, 'docs'), { recursive: true });
  const files = {
    'readme.txt': 'cloudkeep dashboard test\n',
    'docs/report.csv': 'a,b,c\n'.repeat(2000),
    'docs/notes.md': '# notes\n'.repeat(300),
    'photo.bin': Buffer.alloc(150000, 7),
    'archive.bin': Buffer.alloc(1200000, 3),
    [XSS_NAME]: 'a file whose name is HTML\n',
  };
  for (let i = 0; i < 14; i += 1) files[`data/item-${String(i).padStart(2, '0')}.dat`] = 'x'.repeat(100 + i * 517);
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
}

// Starts everything; returns the environment (see the fields below). Call
// env.stop() at the end (also stops the servers if the test is killed:
// the up-scripts' watchdogs follow this process).
export async function startEnv() {
  const cli = cliPath();
  if (!fs.existsSync(cli)) throw new Error(`cloudkeep binary not found at ${cli} (set CK_CLI)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-browser-'));
  const s3dir = path.join(tmp, 's3rver');
  const b2dir = path.join(tmp, 'b2server');
  await Promise.all([runScript('s3rver-up.sh', [s3dir]), runScript('b2server-up.sh', [b2dir])]);
  const s3 = readEnvFile(path.join(s3dir, 'env'));
  const b2 = readEnvFile(path.join(b2dir, 'env'));
  const data = path.join(tmp, 'data');
  writeSample(data);
  const config = path.join(tmp, 'cloudkeep.toml');
  fs.writeFileSync(config, `[state]
database = "state.db"

[sync]
max_attempts = 1
request_retries = 1

[log]
level = "info"

[server]
listen = "127.0.0.1:0"
scan_interval = 3600
health_check_interval = 1

[[sources]]
path = ${JSON.stringify(data)}

[destinations.aws-s3]
type = "s3"
bucket = ${JSON.stringify(s3.S3RVER_BUCKET)}
prefix = "host1/"
region = "us-east-1"
endpoint = ${JSON.stringify(s3.S3_ENDPOINT)}
path_style = true

[destinations.backblaze-b2]
type = "b2"
bucket = ${JSON.stringify(b2.B2_TEST_BUCKET)}
prefix = "host1/"
api_url = ${JSON.stringify(b2.B2_API_URL)}
`);
  const childEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: s3.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: s3.AWS_SECRET_ACCESS_KEY,
    B2_APPLICATION_KEY_ID: b2.B2_APPLICATION_KEY_ID,
    B2_APPLICATION_KEY: b2.B2_APPLICATION_KEY,
    CLOUDKEEP_API_TOKEN: TOKEN,
  };
  for (const k of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'CLOUDKEEP_CONFIG']) delete childEnv[k];

  const env = {
    tmp, data, config, cli, s3, b2, s3dir, b2dir, token: TOKEN, serve: null, port: 0, url: '',
    logFile: path.join(tmp, 'serve.log'),

    // Starts `cloudkeep serve` (on `port`, or a free one) and waits for its port.
    async startServe(port = 0) {
      if (port) {
        const text = fs.readFileSync(config, 'utf8').replace(/listen = "127\.0\.0\.1:\d+"/, `listen = "127.0.0.1:${port}"`);
        fs.writeFileSync(config, text);
      }
      const log = fs.openSync(env.logFile, 'a');
      const child = spawn(cli, ['--config', config, 'serve'], { env: childEnv, stdio: ['ignore', 'pipe', log] });
      fs.closeSync(log);
      env.serve = child;
      let out = '';
      const found = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`cloudkeep serve printed no port within 30 s: ${out}`)), 30000);
        child.stdout.on('data', (chunk) => {
          out += chunk;
          fs.appendFileSync(env.logFile, chunk);
          const m = /\(port (\d+)\)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`cloudkeep serve exited (${code}): ${out}\n${fs.readFileSync(env.logFile, 'utf8').slice(-3000)}`));
        });
      });
      child.removeAllListeners('exit');
      env.port = found;
      env.url = `http://127.0.0.1:${found}`;
      return found;
    },

    // SIGTERM, and wait for the exit; returns the exit code.
    async stopServe() {
      const child = env.serve;
      env.serve = null;
      if (!child || child.exitCode !== null) return child ? child.exitCode : null;
      const done = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
      const code = await done;
      clearTimeout(timer);
      return code;
    },

    // The API, with the token, from the test (not the browser).
    async api(method, p, body) {
      const res = await fetch(env.url + p, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { status: res.status, json, text, headers: res.headers };
    },

    // POST /__test/config on the B2 server.
    async b2Config(body) {
      const res = await fetch(`${b2.B2_API_URL}/__test/config`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`b2 /__test/config: ${res.status} ${await res.text()}`);
      return res.json();
    },

    stopS3: () => runScript('s3rver-down.sh', [s3dir]),

    async stop() {
      await env.stopServe().catch(() => {});
      await Promise.allSettled([
        runScript('s3rver-down.sh', [s3dir, '--purge']),
        runScript('b2server-down.sh', [b2dir, '--purge']),
      ]);
      if (!process.env.CK_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  // A killed test run must not leave the server behind.
  process.on('exit', () => {
    if (env.serve && env.serve.exitCode === null) env.serve.kill('SIGKILL');
  });
  try {
    await env.startServe();
  } catch (e) {
    await env.stop();
    throw e;
  }
  return env;
}

// Chromium through playwright-core, fresh profile, no network beyond the page.
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// By hand: start the environment and keep it up until Ctrl-C.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const env = await startEnv();
  console.log(`dashboard: ${env.url}/  token: ${env.token}  (tmp ${env.tmp}); Ctrl-C stops`);
  const stop = async () => {
    await env.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
