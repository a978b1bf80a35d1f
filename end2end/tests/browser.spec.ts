import { OMNIBOX_POPUP_FEATURES, PLAYWRIGHT_DISABLED_FEATURES } from '../support/chromium';
import { expect, test } from './fixtures';

// The suite's browser itself (support/chromium.js): what it was launched with is what it runs.
test('Chromium keeps the features Playwright turns off, and preloads no address-bar popup', async ({
  page,
  browser,
}) => {
  await page.goto('chrome://version');
  const commandLine = (await page.locator('#command_line').textContent()) ?? '';
  const lists = [...commandLine.matchAll(/--disable-features=(\S+)/g)].map((m) => m[1].split(','));
  // Playwright's own list comes first; Chromium reads only the last one, ours.
  expect(lists).toHaveLength(2);
  expect(lists[0]).toEqual(PLAYWRIGHT_DISABLED_FEATURES);
  expect(lists[1]).toEqual([...PLAYWRIGHT_DISABLED_FEATURES, ...OMNIBOX_POPUP_FEATURES]);

  // No page of the browser's own interface is loaded beside the test's: it would cost each
  // test's browser context a renderer process.
  const cdp = await browser.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  await cdp.detach();
  expect(targetInfos.filter((t) => t.type === 'browser_ui').map((t) => t.url)).toEqual([]);
  expect(targetInfos.filter((t) => t.type === 'page').map((t) => t.url)).toEqual(['chrome://version/']);
});
