import { test as base, expect, type Browser, type Page } from '@playwright/test';

import { startEgress } from '../support/proxy';
import { nextClientAddress, resolvePublicHostInThisProcess } from '../support/public-host';

// Playwright's request API resolves names in this process: let it find the public host.
resolvePublicHostInThisProcess();

const IDLE_CALLBACK_TIMEOUT_MS = 500;

/**
 * Gives every idle callback of the page a timeout, unless it has one. Chromium's headless shell,
 * which the suite runs in (support/chromium.js), sometimes starts no idle period after a page has
 * loaded until something asks the page for a frame, and Leptos's island loader starts the WASM
 * bundle from `requestIdleCallback` without a timeout: such a page stayed unhydrated. Measured
 * with a new page loading /login: 3 to 6 of 60 first loads not hydrated after 4 s in the shell, 0
 * of 96 in full Chromium (tests/browser.spec.ts runs a flow there, without this). When an idle
 * period comes, the callback runs in it as before.
 */
function idleCallbacksWithin(timeout: number) {
  const request = window.requestIdleCallback.bind(window);
  window.requestIdleCallback = (callback, options) => request(callback, { timeout, ...options });
}

/**
 * Playwright's test, pointed at the server that global-setup.ts started, each test's browser
 * context a person of its own: its requests to the public host leave through an egress proxy
 * (support/proxy.ts) from an address of the person's. The OIDC provider, on 127.0.0.1, is
 * reached directly.
 */
export const test = base.extend<{ consoleProblems: string[] }, { browser: Browser }>({
  // Every browser context of the suite, the default one and those a test makes, starts its pages
  // with idleCallbacksWithin (below).
  browser: [
    async ({ browser }, use) => {
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (options) => {
        const context = await newContext(options);
        await context.addInitScript(idleCallbacksWithin, IDLE_CALLBACK_TIMEOUT_MS);
        return context;
      };
      await use(browser);
    },
    { scope: 'worker' },
  ],
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
