// How the browser suite (playwright.config.ts) and bench/first-load.mjs launch Debian's Chromium,
// and what tests/browser.spec.ts checks of it. Plain CommonJS, so that the benchmark, which Node
// runs without a TypeScript loader, reads the same settings.

/** Debian's Chromium: Playwright cannot download its own browser here. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's build of Chromium's headless shell (package `chromium-headless-shell`, from the same
 * source and version as `chromium`): the same engine without the browser's windows, toolbars and
 * tabs, which no headless test sees. It is what Playwright itself runs for a headless test unless
 * told otherwise. The browser suite runs in it; tests/browser.spec.ts runs a flow in full
 * Chromium too. Measured side by side (both Playwright suites as `make test` runs them, in turns
 * in one session): 266 and 264 core-s with the shell, 419 and 389 with full Chromium; 141–150 s
 * instead of 196–217. For a headed run: `CHROMIUM_HEADLESS_SHELL_PATH=/usr/bin/chromium npx
 * playwright test --headed`.
 */
const HEADLESS_SHELL_PATH =
  process.env.CHROMIUM_HEADLESS_SHELL_PATH ?? '/usr/bin/chromium-headless-shell';

/**
 * The features Playwright itself turns off (its `chromiumSwitches.ts`, at the version in
 * package-lock.json). Chromium reads only the last `--disable-features` it is given, so a list of
 * our own must repeat them; tests/browser.spec.ts fails when Playwright's list changes.
 */
const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];

/**
 * Full Chromium (not its headless shell) gives every new window an address bar whose suggestion
 * popups are web pages, loaded ahead of use in a renderer process of their own. Every browser
 * context opens a window, so every test (and every visit of the benchmark) paid for those pages,
 * which nothing ever shows: without them the two Playwright suites took 295 instead of 468 core-s
 * side by side, 161 instead of 253 s (measured in one run, 2026-12-01).
 */
const OMNIBOX_POPUP_FEATURES = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'WebUIOmniboxFullPopup'];

/** Keeps Chromium off the network (tests and benchmarks only ever talk to loopback). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...OMNIBOX_POPUP_FEATURES].join(',')}`,
];

module.exports = {
  CHROMIUM_PATH,
  HEADLESS_SHELL_PATH,
  PLAYWRIGHT_DISABLED_FEATURES,
  OMNIBOX_POPUP_FEATURES,
  CHROMIUM_ARGS,
};
