import { defineConfig } from '@playwright/test';

/**
 * The first-load size budget (size/first-load.spec.ts): HTTP only, no browser, its own server.
 * Run with `npx playwright test -c size.config.ts` after the release build.
 */
export default defineConfig({
  testDir: './size',
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: [['list']],
  // Not the browser suite's: the test command runs both at once, and each run empties its own.
  outputDir: 'test-results-size',
});
