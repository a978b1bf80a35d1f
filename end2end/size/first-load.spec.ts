/**
 * The first-load budget of issue #10: every budgeted page, with all the HTML, CSS, JS and WASM a
 * browser loads before it is interactive, weighs at most half of what the Next.js frontend it
 * replaces sends (brotli, quality 11; figures in /work/shared/REFERENCE-FIGURES.md and
 * docs/PERFORMANCE.md). Also: the hashed assets are cached for good, the HTML never.
 *
 * Runs against the release build (scripts/build-site.sh + scripts/precompress.mjs),
 * served by the real binary. FERROCHAT_SIZE_BUDGET_SCALE multiplies every budget (0 makes each
 * budget 1 byte: the test must then fail).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { test, expect } from '@playwright/test';

import { bytes, measureFirstLoad, type FirstLoad } from '../support/first-load';
import { repoRoot, startFerrochat, type RunningFerrochat } from '../support/ferrochat';
import { resolvePublicHostInThisProcess } from '../support/public-host';

// The server is reached at its public host name, through its reverse proxy, as people reach it.
resolvePublicHostInThisProcess();

/** Brotli bytes the Next.js frontend sends on a first load, signed out (REFERENCE-FIGURES.md). */
const NEXTJS = { login: 185_909, signup: 185_999, chat: 477_893 };

const SCALE = Number(process.env.FERROCHAT_SIZE_BUDGET_SCALE ?? '1');

/** Half of the Next.js figure, scaled; never below one byte. */
function budget(nextjs: number): number {
  return Math.max(1, Math.floor((nextjs / 2) * SCALE));
}

interface BudgetedPage {
  path: string;
  signedIn: boolean;
  budget: number;
}

const PAGES: BudgetedPage[] = [
  { path: '/login', signedIn: false, budget: budget(NEXTJS.login) },
  { path: '/signup', signedIn: false, budget: budget(NEXTJS.signup) },
  // Next.js has no page of its own for it; the login page's budget.
  { path: '/forgot-password', signedIn: false, budget: budget(NEXTJS.login) },
  { path: '/chat', signedIn: true, budget: budget(NEXTJS.chat) },
];

/** How many chat sessions the signed-in user has: enough for a list, as a person would. */
const CHAT_SESSIONS = 5;

/** A 22-character base64url MD5, as the release build puts into hashed file names. */
const HASHED_NAME = /\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/;

/** Signs up a user at the auth API and signs in through the app's form; the Cookie header. */
async function signedInCookie(server: RunningFerrochat): Promise<{ cookie: string; userId: string }> {
  const email = `size-${Date.now()}@example.test`;
  const password = 'size-budget-password-1';
  const signup = await fetch(`${server.url}/auth/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  expect(signup.status, 'sign-up at the auth API').toBe(200);
  const { user } = (await signup.json()) as { user: { id: string } };

  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: {
      accept: 'text/html',
      origin: server.url,
      'sec-fetch-site': 'same-origin',
      referer: `${server.url}/login`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ email, password, next: '/chat' }).toString(),
    redirect: 'manual',
  });
  expect(login.headers.get('location'), `the login form redirects (${login.status})`).toBe('/chat');
  const cookie = login.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .filter((pair) => !pair.endsWith('='))
    .join('; ');
  expect(cookie, 'the login form sets the session cookie').toMatch(/sb-[a-z0-9]+-auth-token=/);
  return { cookie, userId: user.id };
}

/** Gives the user a few chat sessions, straight into the server's SQLite database. */
function seedChatSessions(server: RunningFerrochat, userId: string) {
  const python = join(repoRoot, '.tools/venv/bin/python');
  const script = `
import sqlite3, sys, time, uuid
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
for n in range(int(sys.argv[3])):
    db.execute("INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
               (str(uuid.uuid4()), sys.argv[2], f"A conversation about topic number {n + 1}", now - n, now - n))
db.commit()
`;
  execFileSync(python, ['-c', script, join(server.dataDir, 'ferrochat.db'), userId, String(CHAT_SESSIONS)]);
}

function printTable(loads: Array<{ page: BudgetedPage; load: FirstLoad }>) {
  const rows: string[][] = [['page', 'resource', 'raw', 'brotli', 'total', 'budget', 'result']];
  for (const { page, load } of loads) {
    for (const resource of load.resources) {
      rows.push([page.path, new URL(resource.url).pathname, bytes(resource.raw), bytes(resource.brotli), '', '', '']);
    }
    const ok = load.total <= page.budget;
    rows.push([page.path, '(all)', '', '', bytes(load.total), bytes(page.budget), ok ? 'ok' : 'FAIL']);
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row: string[]) =>
    row.map((cell, column) => (column >= 2 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ');
  console.log(['', `first-load brotli bytes (budget scale ${SCALE})`, ...rows.map(line), ''].join('\n'));
}

test('the first load of every budgeted page stays within its budget, and caches well', async () => {
  const server = await startFerrochat();
  const loads: Array<{ page: BudgetedPage; load: FirstLoad }> = [];
  try {
    const { cookie, userId } = await signedInCookie(server);
    seedChatSessions(server, userId);
    for (const page of PAGES) {
      const load = await measureFirstLoad(server.url, page.path, page.signedIn ? { cookie } : {});
      loads.push({ page, load });
    }
  } finally {
    await server.stop();
  }
  printTable(loads);

  // Soft: one run reports every page over budget and every header amiss.
  for (const { page, load } of loads) {
    const [html, ...assets] = load.resources;
    expect.soft(new URL(html.url).pathname, `${page.path} is served, not redirected`).toBe(page.path);
    const kinds = [...new Set(load.resources.map((resource) => resource.kind))].sort();
    expect.soft(kinds, `${page.path} loads HTML, CSS, JS and WASM`).toEqual(['css', 'html', 'js', 'wasm']);
    expect.soft(load.total, `${page.path}: first-load brotli bytes within the budget`).toBeLessThanOrEqual(page.budget);

    expect.soft(html.status, page.path).toBe(200);
    expect.soft(html.headers['cache-control'], `${page.path}: the HTML is revalidated`).toBe('no-cache');
    for (const asset of assets) {
      const path = new URL(asset.url).pathname;
      expect.soft(asset.status, path).toBe(200);
      expect.soft(path, 'a content-hashed name').toMatch(HASHED_NAME);
      expect.soft(asset.headers['cache-control'], `${path} is cached for good`).toBe(
        'public, max-age=31536000, immutable',
      );
      expect.soft(asset.headers['content-encoding'], `${path} is sent compressed`).toBe('br');
    }
  }
});
