/**
 * The signed-in side of the app's auth: the account page (sessions, signing out elsewhere,
 * deleting the account), the emailed password reset, and refreshing an expired session.
 */
import type { Page } from '@playwright/test';

import {
  createUser,
  decodeSessionCookie,
  expectNavbarSignedOut,
  expectOnChatAs,
  formError,
  newCredentials,
  open,
  sessionCookies,
  sessionCookieValue,
  signInInUi,
  signUpInUi,
  VERIFIER_COOKIE,
} from '../support/app';
import { startFerrochat } from '../support/ferrochat';
import { mailTo, waitForMail } from '../support/mailbox';
import { ferrochatUrl, jwtPayload, randomEmail, randomPassword } from '../support/supabase';
import { test, expect } from './fixtures';

/** The account page's session list. */
function sessionList(page: Page) {
  return page.locator('ul.sessions li');
}

test.describe('the account page', () => {
  test('shows the email and the sessions, and signs out one or all of the others', async ({
    page,
    browser,
    baseURL,
  }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);
    const others = await Promise.all([1, 2].map(() => browser.newContext({ baseURL })));
    try {
      for (const other of others) {
        const otherPage = await other.newPage();
        await signInInUi(otherPage, user);
        await expectOnChatAs(otherPage, user.email);
      }

      await open(page, '/account');
      await expect(page).toHaveTitle('Account · ferrochat');
      await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
      await expect(page.getByTestId('account-email')).toHaveText(user.email);
      await expect(page.getByRole('heading', { name: 'Active sessions' })).toBeVisible();
      await expect(sessionList(page)).toHaveCount(3);
      await expect(sessionList(page).filter({ hasText: 'this device' })).toHaveCount(1);
      await expect(page.getByRole('button', { name: 'Sign out this one' })).toHaveCount(2);
      await expect(page.getByRole('link', { name: 'Change password' })).toHaveAttribute(
        'href',
        '/reset-password',
      );

      await page.getByRole('button', { name: 'Sign out this one' }).first().click();
      await expect(sessionList(page)).toHaveCount(2);

      await page.getByRole('button', { name: 'Sign out all others' }).click();
      await expect(sessionList(page)).toHaveCount(1);
      await expect(sessionList(page).first()).toContainText('this device');
      // This one is still signed in.
      await expect(page).toHaveURL(`${ferrochatUrl()}/account`);
      await page.reload();
      await expect(page.getByTestId('account-email')).toHaveText(user.email);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  test('"Sign out everywhere" in one browser signs out another browser of the same user', async ({
    page,
    browser,
    baseURL,
  }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);
    const second = await browser.newContext({ baseURL });
    try {
      const secondPage = await second.newPage();
      await signInInUi(secondPage, user);
      await expectOnChatAs(secondPage, user.email);

      await open(page, '/account');
      await expect(sessionList(page)).toHaveCount(2);
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await expect(page).toHaveURL(`${ferrochatUrl()}/login`);
      expect(await sessionCookies(page.context())).toEqual([]);

      await secondPage.goto('/chat');
      await expect(secondPage).toHaveURL(`${ferrochatUrl()}/login?next=%2Fchat`);
      await expect(secondPage.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    } finally {
      await second.close();
    }
  });

  test('deleting the account needs the email typed, signs out, and the email no longer signs in', async ({
    page,
  }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);

    await open(page, '/account');
    await expect(page.getByTestId('account-email')).toHaveText(user.email);
    const confirm = page.getByLabel('Type your email address to confirm');
    const remove = page.getByRole('button', { name: 'Delete my account' });

    await confirm.fill(randomEmail());
    await remove.click();
    await expect(formError(page)).toHaveText('Type your email address exactly to confirm.');
    await expect(page).toHaveURL(`${ferrochatUrl()}/account`);

    await confirm.fill(user.email);
    await remove.click();
    await expect(page).toHaveURL(`${ferrochatUrl()}/?notice=account-deleted`);
    // Soft, so that a missing notice does not hide whether the rest holds.
    await expect
      .soft(page.getByText('Your account and all its data have been deleted.'))
      .toBeVisible();
    await expectNavbarSignedOut(page);
    expect(await sessionCookies(page.context())).toEqual([]);

    await signInInUi(page, user);
    await expect(formError(page)).toHaveText('Invalid email or password.');
    await expect(page).toHaveURL(`${ferrochatUrl()}/login`);
  });
});

test.describe('resetting a forgotten password', () => {
  test('the emailed link signs in to /reset-password, and the new password works at /login', async ({
    page,
    context,
  }) => {
    const user = await createUser();
    const newPassword = randomPassword();

    await open(page, '/forgot-password');
    await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible();
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('status')).toHaveText(
      'If an account exists for that address, we have sent it a link to reset the password.',
    );
    const verifier = (await context.cookies()).find((c) => c.name === VERIFIER_COOKIE);
    expect(verifier?.httpOnly, `cookie ${VERIFIER_COOKIE}`).toBe(true);

    const mail = await waitForMail(user.email);
    expect(mail.link, `a link in ${mail.file}`).toBeTruthy();
    const link = new URL(mail.link!);
    expect(`${link.origin}${link.pathname}`).toBe(`${ferrochatUrl()}/auth/v1/verify`);
    expect(link.searchParams.get('type')).toBe('recovery');
    expect(link.searchParams.get('token')).toBeTruthy();
    expect(link.searchParams.get('redirect_to')).toBe(
      `${ferrochatUrl()}/auth/callback?next=%2Freset-password`,
    );

    await page.goto(link.href);
    await expect(page).toHaveURL(`${ferrochatUrl()}/reset-password`);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Confirm password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Save password' }).click();

    await expect(page).toHaveURL(`${ferrochatUrl()}/account?notice=password-changed`);
    await expect(page.getByRole('status')).toHaveText('Your password has been changed.');
    await expect(page.getByTestId('account-email')).toHaveText(user.email);

    // The link works once.
    await context.clearCookies();
    await page.goto(link.href);
    await expect(page).toHaveURL(/\/login\?error=/);
    await expect(formError(page)).not.toHaveText('');

    await signInInUi(page, user);
    await expect(formError(page)).toHaveText('Invalid email or password.');
    await signInInUi(page, { email: user.email, password: newPassword });
    await expectOnChatAs(page, user.email);
  });

  test('a reset for an unknown address shows the same notice and sends nothing', async ({
    page,
  }) => {
    const nobody = randomEmail();
    await open(page, '/forgot-password');
    await page.getByLabel('Email', { exact: true }).fill(nobody);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('status')).toHaveText(
      'If an account exists for that address, we have sent it a link to reset the password.',
    );
    expect(mailTo(nobody)).toEqual([]);
  });

  test('the new password must be long enough and confirmed', async ({ page }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);
    await open(page, '/reset-password');
    const password = page.getByLabel('New password', { exact: true });
    const confirm = page.getByLabel('Confirm password', { exact: true });
    const save = page.getByRole('button', { name: 'Save password' });

    await password.fill('short');
    await confirm.fill('short');
    await save.click();
    await expect(formError(page)).toHaveText('Password must be at least 8 characters.');
    await password.fill('long-enough-1');
    await confirm.fill('long-enough-2');
    await save.click();
    await expect(formError(page)).toHaveText('Passwords do not match.');
    await expect(page).toHaveURL(`${ferrochatUrl()}/reset-password`);
  });
});

test.describe('an expired session', () => {
  test('an expired access token is refreshed on the next page load without signing out', async ({
    browser,
  }) => {
    // A real clock matters here: the token must actually expire, plus the verifier's 10 s leeway.
    test.setTimeout(90_000);
    const server = await startFerrochat({ env: { FERROCHAT_JWT_EXPIRY_SECS: '1' } });
    const context = await browser.newContext({ baseURL: server.url });
    try {
      const page = await context.newPage();
      const user = newCredentials();
      await signUpInUi(page, user);
      await expect(page).toHaveURL(`${server.url}/chat`);
      await expect(page.getByTestId('signed-in-email')).toHaveText(user.email);

      const before = await sessionCookieValue(context);
      const first = decodeSessionCookie(before);
      const firstClaims = jwtPayload(first.access_token) as { exp: number; iat: number; session_id: string };
      expect(firstClaims.exp - firstClaims.iat, 'FERROCHAT_JWT_EXPIRY_SECS=1').toBe(1);

      const leewaySecs = 10;
      const expiredAt = (firstClaims.exp + leewaySecs + 1.5) * 1000;
      await page.waitForTimeout(Math.max(0, expiredAt - Date.now()));

      const response = await page.reload();
      expect(response?.status()).toBe(200);
      await expect(page).toHaveURL(`${server.url}/chat`);
      await expect(page.getByRole('heading', { name: 'Your chats' })).toBeVisible();
      await expect(page.getByTestId('signed-in-email')).toHaveText(user.email);

      const after = await sessionCookieValue(context);
      expect(after, 'the session cookie was rewritten').not.toBe(before);
      const second = decodeSessionCookie(after);
      const secondClaims = jwtPayload(second.access_token) as { exp: number; session_id: string };
      expect(secondClaims.exp).toBeGreaterThan(firstClaims.exp);
      expect(secondClaims.session_id, 'the same session, refreshed').toBe(firstClaims.session_id);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      for (const cookie of await sessionCookies(context)) expect(cookie.httpOnly).toBe(true);
    } finally {
      await context.close();
      await server.stop();
    }
  });
});
