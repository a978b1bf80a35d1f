import { test as base, expect, type Page } from '@playwright/test';

/** Playwright's test, pointed at the server that global-setup.ts started. */
export const test = base.extend<{ consoleProblems: string[] }>({
  baseURL: async ({}, use) => {
    const url = process.env.FERROCHAT_URL;
    if (!url) throw new Error('FERROCHAT_URL is not set: run the suite through global-setup.ts');
    await use(url);
  },
  /** Every console warning or error and uncaught exception of the page, to assert on. */
  consoleProblems: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        problems.push(`${message.type()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    await use(problems);
  },
});

export { expect };

/** Waits until the WASM bundle has hydrated the page. */
export async function waitForHydration(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}
