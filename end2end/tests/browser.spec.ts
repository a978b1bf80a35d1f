import { chromium } from '@playwright/test';

import { signedUpOnChat } from '../support/app';
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  OMNIBOX_POPUP_FEATURES,
  PLAYWRIGHT_DISABLED_FEATURES,
} from '../support/chromium';
import { RESOLVE_PUBLIC_HOST } from '../support/public-host';
import { expect, test } from './fixtures';

// The suite runs in Chromium's headless shell (support/chromium.js); people run full Chromium, and
// bench/first-load.mjs measures it with the same settings. This test launches full Chromium: what
// it was launched with is what it runs, and a person signs up and gets an answer in it, without the
// suite's timeout on idle callbacks (fixtures.ts).
test('full Chromium keeps the features Playwright turns off, preloads no address-bar popup, and chats', async ({
  baseURL,
  proxy,
}) => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [RESOLVE_PUBLIC_HOST, ...CHROMIUM_ARGS],
  });
  try {
    const context = await browser.newContext({ baseURL, proxy });
    const page = await context.newPage();
    await page.goto('chrome://version');
    const commandLine = (await page.locator('#command_line').textContent()) ?? '';
    const lists = [...commandLine.matchAll(/--disable-features=(\S+)/g)].map((m) => m[1].split(','));
    // Playwright's own list comes first; Chromium reads only the last one, ours.
    expect(lists).toHaveLength(2);
    expect(lists[0]).toEqual(PLAYWRIGHT_DISABLED_FEATURES);
    expect(lists[1]).toEqual([...PLAYWRIGHT_DISABLED_FEATURES, ...OMNIBOX_POPUP_FEATURES]);

    // No page of the browser's own interface is loaded beside the test's: it would cost each
    // browser context a renderer process.
    const cdp = await browser.newBrowserCDPSession();
    const { targetInfos } = await cdp.send('Target.getTargets');
    await cdp.detach();
    expect(targetInfos.filter((t) => t.type === 'browser_ui').map((t) => t.url)).toEqual([]);
    expect(targetInfos.filter((t) => t.type === 'page').map((t) => t.url)).toEqual([
      'chrome://version/',
    ]);

    // Signed up, on /chat once the page is interactive, a question streams its whole answer.
    await signedUpOnChat(page);
    const input = page.getByLabel('Message', { exact: true });
    await input.fill('hello from full Chromium');
    await input.press('Enter');
    const answer = page.locator('#chat-messages > li.assistant').last();
    await expect(answer).toHaveAttribute('data-status', 'complete');
    await expect(answer.locator('.message-content')).toContainText('hello from full Chromium');
    await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  } finally {
    await browser.close();
  }
});
