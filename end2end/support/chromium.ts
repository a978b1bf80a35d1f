/**
 * How the suite launches Debian's Chromium (playwright.config.ts), and what tests/browser.spec.ts
 * checks of it.
 */
import { PUBLIC_HOST } from './public-host';

/** Debian's Chromium: Playwright cannot download its own browser here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The features Playwright itself turns off (its `chromiumSwitches.ts`, at the version in
 * package-lock.json). Chromium reads only the last `--disable-features` it is given, so a list of
 * our own must repeat them; tests/browser.spec.ts fails when Playwright's list changes.
 */
export const PLAYWRIGHT_DISABLED_FEATURES = [
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
 * popups are web pages, loaded ahead of use in a renderer process of their own. Every test's
 * browser context opens a window, so every test paid for that page, which no test ever shows:
 * without it the two Playwright suites took 295 instead of 468 core-s side by side, 161 instead
 * of 253 s (measured in one run, 2026-12-01).
 */
export const OMNIBOX_POPUP_FEATURES = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'WebUIOmniboxFullPopup'];

export const CHROMIUM_ARGS = [
  // Keep Chromium off the network: tests only ever talk to loopback. The public host name
  // of the suite's server (support/public-host.ts) is its reverse proxy on loopback.
  `--host-resolver-rules=MAP ${PUBLIC_HOST} 127.0.0.1`,
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...OMNIBOX_POPUP_FEATURES].join(',')}`,
];
