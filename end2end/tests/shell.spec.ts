import { test, expect, waitForHydration } from './fixtures';

const DARK_BACKGROUND = 'rgb(15, 17, 21)';
const LIGHT_BACKGROUND = 'rgb(255, 255, 255)';

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the landing page is rendered on the server', async ({ page }) => {
    const response = await page.goto('/');
    expect(response?.status()).toBe(200);
    await expect(
      page.getByRole('heading', { name: 'Chat with language models, in Rust from end to end.' }),
    ).toBeVisible();
    await expect(page.getByRole('link', { name: 'ferrochat' })).toBeVisible();
    await expect(page).toHaveTitle('ferrochat');
    // Nothing ran in the browser: what we see came from the server.
    await expect(page.locator('html')).not.toHaveAttribute('data-hydrated', 'true');
  });

  test('the theme switcher works as a plain form', async ({ page }) => {
    await page.goto('/');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect(page.getByRole('button', { name: 'Dark theme' })).toHaveAttribute('aria-pressed', 'true');
    await expect(page.locator('body')).toHaveCSS('background-color', DARK_BACKGROUND);
  });

  test('an unknown address shows the not-found page with a 404', async ({ page }) => {
    const response = await page.goto('/no/such/page');
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    await expect(page).toHaveTitle('Page not found · ferrochat');
  });
});

test('the page hydrates without warnings or errors in the console', async ({ page, consoleProblems }) => {
  await page.goto('/');
  await waitForHydration(page);
  // Use the hydrated app a little, so event handlers and reactive updates run too.
  await page.getByRole('button', { name: 'Light theme' }).click();
  await page.getByRole('button', { name: 'System theme' }).click();
  await page.getByRole('link', { name: 'ferrochat' }).click();
  await expect(page.getByRole('button', { name: 'System theme' })).toHaveAttribute('aria-pressed', 'true');
  expect(consoleProblems).toEqual([]);
});

test('the theme follows the system until one is picked', async ({ browser, baseURL }) => {
  for (const [colorScheme, background] of [
    ['dark', DARK_BACKGROUND],
    ['light', LIGHT_BACKGROUND],
  ] as const) {
    const context = await browser.newContext({ colorScheme, baseURL });
    const page = await context.newPage();
    await page.goto('/');
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'system');
    await expect(page.locator('body')).toHaveCSS('background-color', background);
    await context.close();
  }
});

test('the theme switches in place after hydration and survives a reload without a flash', async ({
  page,
  consoleProblems,
}) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto('/');
  await waitForHydration(page);
  // A full page load would drop this marker: its survival shows the click was handled in place.
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

  await page.getByRole('button', { name: 'Dark theme' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(page.locator('body')).toHaveCSS('background-color', DARK_BACKGROUND);
  await expect(page.getByRole('button', { name: 'Dark theme' })).toHaveAttribute('aria-pressed', 'true');
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);

  // The server already renders the remembered theme into the HTML, so the first paint is dark.
  const response = await page.reload();
  expect(await response?.text()).toContain('<html lang="en" data-theme="dark"');
  await waitForHydration(page);
  await expect(page.locator('body')).toHaveCSS('background-color', DARK_BACKGROUND);
  await expect(page.getByRole('button', { name: 'Dark theme' })).toHaveAttribute('aria-pressed', 'true');
  expect(consoleProblems).toEqual([]);
});
