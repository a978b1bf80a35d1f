/**
 * The sign-in pages without JavaScript: every form is a plain POST, the server redirects, and
 * refusals come back to the page they were sent from, rendered by the server.
 */
import {
  createUser,
  expectOnChatAs,
  formError,
  loginForm,
  navbar,
  newCredentials,
  open,
  sessionCookies,
  signInInUi,
  signUpInUi,
  signupForm,
  submitLogin,
} from '../support/app';
import { ferrochatUrl } from '../support/supabase';
import { test, expect } from './fixtures';

const NO_JS = { js: false };

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a new user signs up with a plain form post and lands on /chat', async ({ page }) => {
    const user = newCredentials();
    await signUpInUi(page, user, NO_JS);
    await expectOnChatAs(page, user.email);
    await expect(page.locator('html')).not.toHaveAttribute('data-hydrated', 'true');
    expect((await sessionCookies(page.context())).length).toBeGreaterThan(0);
  });

  test('a signup refusal comes back rendered by the server, and the corrected form signs up', async ({
    page,
  }) => {
    const user = newCredentials();
    await signUpInUi(page, user, { ...NO_JS, confirm: `${user.password}-typo` });

    await expect(formError(page)).toHaveText('Passwords do not match.');
    await expect(page).toHaveURL(/\/signup(\?|$)/);
    await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
    expect(await sessionCookies(page.context())).toEqual([]);

    const form = signupForm(page);
    await form.email.fill(user.email);
    await form.password.fill('short');
    await form.confirm.fill('short');
    await form.submit.click();
    await expect(formError(page)).toHaveText('Password must be at least 8 characters.');

    await form.email.fill(user.email);
    await form.password.fill(user.password);
    await form.confirm.fill(user.password);
    await form.submit.click();
    await expectOnChatAs(page, user.email);
  });

  test('an existing user signs in with a plain form post and lands on /chat', async ({ page }) => {
    const user = await createUser();
    await signInInUi(page, user, NO_JS);
    await expectOnChatAs(page, user.email);
  });

  test('a wrong password comes back as "Invalid email or password." on /login, then the right one works', async ({
    page,
  }) => {
    const user = await createUser();
    await signInInUi(page, { email: user.email, password: 'not-the-password' }, NO_JS);
    await expect(formError(page)).toHaveText('Invalid email or password.');
    await expect(page).toHaveURL(/\/login(\?|$)/);
    expect(await sessionCookies(page.context())).toEqual([]);

    await submitLogin(page, user);
    await expectOnChatAs(page, user.email);
  });

  test('the login form without JavaScript names a malformed email', async ({ page }) => {
    await signInInUi(page, { email: 'nobody', password: 'whatever-it-is' }, NO_JS);
    await expect(formError(page)).toHaveText('Please enter a valid email address.');
    await expect(loginForm(page).submit).toBeVisible();
  });

  test('signing in from /login?next= goes to that page, and a foreign next to /chat', async ({
    page,
  }) => {
    const user = await createUser();
    await page.goto('/chat/x?y=1');
    await expect(page).toHaveURL(`${ferrochatUrl()}/login?next=%2Fchat%2Fx%3Fy%3D1`);
    await submitLogin(page, user);
    await expect(page).toHaveURL(`${ferrochatUrl()}/chat/x?y=1`);

    await page.context().clearCookies();
    const isEvil = (url: URL) => url.hostname.endsWith('evil.example');
    await page.route(isEvil, (route) => route.abort());
    const evil: string[] = [];
    page.on('request', (request) => {
      if (isEvil(new URL(request.url()))) evil.push(request.url());
    });
    await open(page, '/login?next=//evil.example', NO_JS);
    await submitLogin(page, user);
    await expectOnChatAs(page, user.email);
    expect(evil).toEqual([]);
  });

  test('the navbar offers "Sign out", which signs out to /login', async ({ page }) => {
    const user = newCredentials();
    await signUpInUi(page, user, NO_JS);
    await expectOnChatAs(page, user.email);

    const nav = navbar(page);
    await expect(nav.getByRole('link', { name: user.email })).toBeVisible();
    await nav.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    expect(await sessionCookies(page.context())).toEqual([]);
    await expect(nav.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  });
});
