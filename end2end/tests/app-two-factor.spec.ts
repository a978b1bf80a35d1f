/**
 * Two-factor authentication in the app: set up an authenticator on the account page, then
 * every sign-in asks for its code. The test plays the authenticator app (support/totp.ts).
 */
import {
  expectOnChatAs,
  formError,
  newCredentials,
  open,
  signInInUi,
  signOutInUi,
  signUpInUi,
} from '../support/app';
import { totp, wrongCode } from '../support/totp';
import { test, expect } from './fixtures';

test.describe('two-factor authentication', () => {
  test('enrol TOTP on the account page, then sign-in asks for the code: wrong refused, right lets in', async ({
    page,
  }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);

    await open(page, '/account');
    await expect(page.getByTestId('two-factor-status')).toContainText('Off');
    await page.getByRole('link', { name: 'Set up an authenticator app' }).click();
    await expect(page).toHaveURL(/\/account\/two-factor$/);
    await expect(page.locator('.qr-code svg')).toBeVisible();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    const setUp = page.locator('form', { has: page.getByRole('button', { name: 'Turn on two-factor authentication' }) });
    await setUp.getByLabel('Code').fill(wrongCode(secret));
    await setUp.getByRole('button').click();
    await expect(formError(page)).toContainText('That code is not right');

    const enrolledAt = Math.floor(Date.now() / 1000);
    await setUp.getByLabel('Code').fill(totp(secret, enrolledAt));
    await setUp.getByRole('button').click();
    await expect(page).toHaveURL(/\/account\?notice=two-factor-on$/);
    await expect(page.getByText('Two-factor authentication is on.')).toBeVisible();
    await expect(page.getByTestId('two-factor-status')).toContainText('On');

    await signOutInUi(page);
    await signInInUi(page, user);
    await expect(page).toHaveURL(/\/login\/code\?next=%2Fchat$/);
    await expect(page.getByRole('heading', { name: 'Enter your code' })).toBeVisible();
    // Half signed in: no other page, no chats.
    await open(page, '/chat');
    await expect(page).toHaveURL(/\/login\/code\?next=%2Fchat$/);

    const code = page.getByLabel('Code');
    await code.fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(formError(page)).toContainText('That code is not right');
    await expect(page).toHaveURL(/\/login\/code/);

    // The code of the next step: the enrolment spent the current one (each code works once).
    await code.fill(totp(secret, enrolledAt + 30));
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectOnChatAs(page, user.email);
  });
});
