// Time to interactive of a first visit to /login and (signed in) /chat, in Chromium with the CPU
// slowed down 4x, on loopback and on a mobile network (Lighthouse's "slow 4G": 150 ms, 1.6 Mbit/s
// down), for the current release build and, if given, a previous one measured the same way in the
// same run.
//
// "Interactive" is the moment the app marks <html data-hydrated="true"> (every island hydrated),
// measured from the start of the navigation in the page's own clock. Each visit gets a fresh
// browser context (nothing cached). Servers and browser stay on loopback.
//
// Usage (after scripts/build-site.sh and scripts/precompress.mjs):
//   node bench/first-load.mjs [runs]
//   FERROCHAT_BASELINE_BIN=/path/ferrochat FERROCHAT_BASELINE_SITE=/path/site node bench/first-load.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Playwright lives in end2end/node_modules.
const requireFromEnd2end = createRequire(join(root, 'end2end/package.json'));
const { chromium } = requireFromEnd2end('playwright');

const RUNS = Number(process.argv[2] ?? 7);
const CPU_SLOWDOWN = 4;
/** Network conditions for CDP's Network.emulateNetworkConditions; null: loopback as it is. */
const NETWORKS = {
  loopback: null,
  'slow 4G': {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  },
};
// The browser suite's Chromium settings (end2end/support/chromium.js).
const { CHROMIUM_PATH, CHROMIUM_ARGS } = requireFromEnd2end('./support/chromium.js');

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function startServer(binary, siteRoot) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrochat-bench-'));
  const child = spawn(binary, [], {
    cwd: root,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: siteRoot,
      LEPTOS_ENV: 'PROD',
      FERROCHAT_DATA_DIR: dataDir,
      FERROCHAT_SITE_URL: url,
      FERROCHAT_RATE_LIMIT_SIGN_IN: '10000',
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`${binary} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) {
        return {
          url,
          // SIGTERM, then SIGKILL if in-flight requests keep it up for 10 s.
          async stop() {
            const exited = new Promise((done) => child.once('exit', done));
            child.kill('SIGTERM');
            await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            rmSync(dataDir, { recursive: true, force: true });
          },
        };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${binary} was not ready within 30 s`);
}

/** A user signed up at the auth API, for the signed-in visits. */
async function createUser(url) {
  const email = `bench-${Date.now()}-${Math.random().toString(16).slice(2)}@example.test`;
  const password = 'bench-password-1';
  const response = await fetch(`${url}/auth/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`sign-up failed: ${response.status}`);
  return { email, password };
}

/** One first visit: milliseconds from navigation start to interactive, and bytes transferred. */
async function visit(browser, url, path, user, network) {
  const context = await browser.newContext({ baseURL: url });
  try {
    if (user) {
      // Signs in through the login form's server function; the context keeps the cookies.
      const response = await context.request.post('/api/auth/login', {
        form: { email: user.email, password: user.password, next: '/chat' },
        headers: { accept: 'text/html', origin: url },
        maxRedirects: 0,
      });
      if (response.status() >= 400) throw new Error(`sign-in failed: ${response.status()}`);
    }
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
    if (network) {
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', network);
    }
    await page.addInitScript(() => {
      // The document is still empty when this runs: watch it all for the marker.
      new MutationObserver((_, observer) => {
        if (document.documentElement?.dataset.hydrated === 'true') {
          window.__interactiveAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
    });
    await page.goto(path);
    if (new URL(page.url()).pathname !== path) throw new Error(`${path} went to ${page.url()}`);
    await page.waitForFunction(() => window.__interactiveAt !== undefined, null, { timeout: 30_000 });
    return await page.evaluate(() => ({
      interactive: window.__interactiveAt,
      contentLoaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
      bytes:
        performance.getEntriesByType('navigation')[0].transferSize +
        performance.getEntriesByType('resource').reduce((sum, entry) => sum + entry.transferSize, 0),
    }));
  } finally {
    await context.close();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measure(browser, label, binary, siteRoot) {
  const server = await startServer(binary, siteRoot);
  try {
    const user = await createUser(server.url);
    const rows = [];
    for (const [network, conditions] of Object.entries(NETWORKS)) {
      for (const [path, signedIn] of [
        ['/login', false],
        ['/chat', true],
      ]) {
        const samples = [];
        for (let run = 0; run < RUNS; run++) {
          samples.push(await visit(browser, server.url, path, signedIn ? user : null, conditions));
        }
        rows.push({
          build: label,
          network,
          page: path,
          'interactive ms (median)': Math.round(median(samples.map((s) => s.interactive))),
          'DOMContentLoaded ms': Math.round(median(samples.map((s) => s.contentLoaded))),
          'transferred bytes': median(samples.map((s) => s.bytes)),
        });
      }
    }
    return rows;
  } finally {
    await server.stop();
  }
}

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  const rows = await measure(browser, 'current', join(root, 'target/release/ferrochat'), join(root, 'target/site'));
  if (process.env.FERROCHAT_BASELINE_BIN) {
    rows.push(
      ...(await measure(
        browser,
        'baseline',
        process.env.FERROCHAT_BASELINE_BIN,
        process.env.FERROCHAT_BASELINE_SITE ?? join(dirname(process.env.FERROCHAT_BASELINE_BIN), 'site'),
      )),
    );
  }
  console.log(`first visit, CPU slowed ${CPU_SLOWDOWN}x, median of ${RUNS}`);
  console.table(rows);
} finally {
  await browser.close();
}
