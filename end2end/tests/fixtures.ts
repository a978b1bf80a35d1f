import { test as base, expect, type Page } from '@playwright/test';

import { startEgress } from '../support/proxy';
import { nextClientAddress, resolvePublicHostInThisProcess } from '../support/public-host';

// Playwright's request API resolves names in this process: let it find the public host.
resolvePublicHostInThisProcess();

/**
 * Playwright's test, pointed at the server that global-setup.ts started, each test's browser
 * context a person of its own: its requests to the public host leave through an egress proxy
 * (support/proxy.ts) from an address of the person's. The OIDC provider, on 127.0.0.1, is
 * reached directly.
 */
export const test = base.extend<{ consoleProblems: string[] }>({
  baseURL: async ({}, use) => {
    const url = process.env.FERROCHAT_URL;
    if (!url) throw new Error('FERROCHAT_URL is not set: run the suite through global-setup.ts');
    await use(url);
  },
  proxy: async ({}, use) => {
    const egress = await startEgress(nextClientAddress());
    await use({ server: `http://127.0.0.1:${egress.port}`, bypass: '127.0.0.1' });
    await egress.close();
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
