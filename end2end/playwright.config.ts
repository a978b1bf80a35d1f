import { defineConfig } from '@playwright/test';

import { CHROMIUM_ARGS, HEADLESS_SHELL_PATH } from './support/chromium';
import { RESOLVE_PUBLIC_HOST } from './support/public-host';

export default defineConfig({
  testDir: './tests',
  // Starts the release binary behind a reverse proxy, with a fresh data directory.
  globalSetup: './global-setup.ts',
  fullyParallel: true,
  // Three browsers per suite on the two cores: the tests wait on servers, timers and streams for
  // much of their time. Both suites side by side, in turns in one session: 181 and 186 s with
  // three workers each, 204 and 203 s with two, the same CPU time (337–360 core-s).
  workers: 3,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  // Each run its own output directory (PLAYWRIGHT_OUTPUT_DIR): the test command runs the SQLite
  // and the PostgreSQL suites side by side, and a run empties its directory when it starts.
  outputDir: process.env.PLAYWRIGHT_OUTPUT_DIR ?? 'test-results',
  use: {
    // No trace by default: recording one for every test (to keep the failures') cost a quarter
    // of the suite's CPU time, measured (243 vs 186 core-s). To see a failure step by step, run
    // `npx playwright test --trace retain-on-failure <file>`.
    trace: 'off',
    launchOptions: {
      // Chromium's headless shell (support/chromium.js says why and what it saves).
      executablePath: HEADLESS_SHELL_PATH,
      // The public host name of the suite's server (support/public-host.ts) is its reverse proxy
      // on loopback.
      args: [RESOLVE_PUBLIC_HOST, ...CHROMIUM_ARGS],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
