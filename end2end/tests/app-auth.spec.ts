/**
 * The app's sign-in pages in a browser with JavaScript: sign-up, sign-in and sign-out, their
 * error messages, OAuth through the button, `next` and the redirect guard, the session cookies,
 * and other tabs following a sign-out.
 */
import type { Page, Request } from '@playwright/test';

import {
  createUser,
  decodeSessionCookie,
  expectNavbarSignedIn,
  expectNavbarSignedOut,
  expectOnChatAs,
  formError,
  loginForm,
  navbar,
  newCredentials,
  open,
  SESSION_COOKIE,
  SESSION_COOKIE_NAME,
  sessionCookies,
  sessionCookieValue,
  signInInUi,
  signOutInUi,
  signUpInUi,
  signupForm,
  submitLogin,
  VERIFIER_COOKIE,
} from '../support/app';
import { guardNetwork, offOrigins } from '../support/oauth';
import { PUBLIC_HOST } from '../support/public-host';
import { loginAtProvider, providerEmail, requireIssuer } from '../support/oidc-provider';
import { waitForMail } from '../support/mailbox';
import { ferrochatUrl, jwtPayload, newClient, randomEmail, randomLogin } from '../support/supabase';
import { test, expect } from './fixtures';

const INVALID_CREDENTIALS = 'Invalid email or password.';

/** Every URL `page` requests from now on, redirect hops included. */
function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (request: Request) => urls.push(request.url()));
  return urls;
}

/** Matches `/login?next=<path>` however `next` is encoded (the server and the router differ). */
function signInFor(path: string) {
  return (url: URL) =>
    url.origin === ferrochatUrl() &&
    url.pathname === '/login' &&
    url.searchParams.get('next') === path;
}

/** Requests of `urls` to evil.example, whatever the scheme. */
function evil(urls: string[]): string[] {
  return urls.filter((url) => {
    try {
      return new URL(url).hostname.endsWith('evil.example');
    } catch {
      return false;
    }
  });
}

test.describe('sign-up, sign-out and sign-in', () => {
  test('a new user signs up into /chat, signs out to /login and signs back in to /chat', async ({
    page,
  }) => {
    const user = newCredentials();

    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);
    await expectNavbarSignedIn(page, user.email);

    await signOutInUi(page);
    await expectNavbarSignedOut(page);
    expect(await sessionCookies(page.context()), 'signing out removes the session cookies').toEqual(
      [],
    );
    // Signed out for the server too: the private page sends us to sign in.
    await page.goto('/chat');
    await expect(page).toHaveURL(`${ferrochatUrl()}/login?next=%2Fchat`);

    await signInInUi(page, user);
    await expectOnChatAs(page, user.email);
    await expectNavbarSignedIn(page, user.email);
  });

  test('the login page offers its form, the provider button and links to reset and sign up', async ({
    page,
  }) => {
    await open(page, '/login?next=%2Fchat%2F7');
    await expect(page).toHaveTitle('Sign in · ferrochat');
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    const form = loginForm(page);
    await expect(form.email).toHaveAttribute('type', 'email');
    await expect(form.password).toHaveAttribute('type', 'password');
    await expect(form.submit).toBeEnabled();
    await expect(page.locator('form.auth-form')).toHaveAttribute('novalidate', /.*/);
    await expect(page.locator('form.auth-form input[name="next"]')).toHaveValue('/chat/7');
    await expect(page.getByRole('button', { name: 'Continue with single sign-on' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Forgot your password?' })).toHaveAttribute(
      'href',
      '/forgot-password',
    );
    await expect(page.getByRole('link', { name: 'Create an account' })).toHaveAttribute(
      'href',
      '/signup?next=/chat/7',
    );

    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expect(page).toHaveURL(/\/forgot-password$/);
    await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible();
  });

  test('a wrong password and an unknown email get the same "Invalid email or password."', async ({
    page,
  }) => {
    const user = await createUser();
    const form = loginForm(page);

    await open(page, '/login');
    await submitLogin(page, { email: user.email, password: `${user.password}-wrong` });
    await expect(formError(page)).toHaveText(INVALID_CREDENTIALS);
    await expect(page).toHaveURL(`${ferrochatUrl()}/login`);
    // The form is not reset: what was typed is still there to correct.
    await expect(form.email).toHaveValue(user.email);
    expect(await sessionCookies(page.context())).toEqual([]);

    // A fresh page, so the message below cannot be the one above.
    await open(page, '/login');
    await expect(formError(page)).toHaveCount(0);
    const unknown = randomEmail();
    await submitLogin(page, { email: unknown, password: user.password });
    await expect(formError(page)).toHaveText(INVALID_CREDENTIALS);
    await expect(page).toHaveURL(`${ferrochatUrl()}/login`);
    await expect(form.email).toHaveValue(unknown);
    expect(await sessionCookies(page.context())).toEqual([]);

    // And the right password still works from the same page.
    await form.email.fill(user.email);
    await form.password.fill(user.password);
    await form.submit.click();
    await expectOnChatAs(page, user.email);
  });

  test('the login form names a malformed email and a missing password', async ({ page }) => {
    const form = loginForm(page);
    await open(page, '/login');

    await submitLogin(page, { email: 'not-an-address', password: 'whatever-it-is' });
    await expect(formError(page)).toHaveText('Please enter a valid email address.');

    await submitLogin(page, { email: randomEmail(), password: '' });
    await expect(formError(page)).toHaveText('Please enter your password.');
    await expect(page).toHaveURL(`${ferrochatUrl()}/login`);
    await expect(form.submit).toHaveText('Sign in');
  });

  test('the sign-in button reads "Signing in…" and is disabled while the request is pending', async ({
    page,
  }) => {
    const user = await createUser();
    let release!: () => void;
    const released = new Promise<void>((done) => (release = done));
    let held = false;
    await page.route('**/api/auth/login', async (route) => {
      held = true;
      await released;
      await route.continue();
    });
    const form = loginForm(page);
    await open(page, '/login');
    await form.email.fill(user.email);
    await form.password.fill(user.password);
    await form.submit.click();

    const pending = page.getByRole('button', { name: 'Signing in…' });
    await expect(pending).toBeVisible();
    await expect(pending).toBeDisabled();
    // The button changes on the click; the request reaches the route a moment later.
    await expect.poll(() => held, { message: 'the click sent the sign-in request' }).toBe(true);
    release();
    await expectOnChatAs(page, user.email);
  });

  test('the signup form names each refusal', async ({ page }) => {
    const existing = await createUser();
    const form = signupForm(page);
    await open(page, '/signup');
    await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Continue with single sign-on' })).toBeVisible();

    const attempts: Array<[string, string, string, string]> = [
      ['not-an-address', 'long-enough-1', 'long-enough-1', 'Please enter a valid email address.'],
      [randomEmail(), 'short', 'short', 'Password must be at least 8 characters.'],
      [randomEmail(), 'long-enough-1', 'long-enough-2', 'Passwords do not match.'],
      [
        existing.email,
        'long-enough-1',
        'long-enough-1',
        'An account with this email address already exists.',
      ],
    ];
    for (const [email, password, confirm, message] of attempts) {
      await form.email.fill(email);
      await form.password.fill(password);
      await form.confirm.fill(confirm);
      await form.submit.click();
      await expect(formError(page), `signing up ${email} / ${password} / ${confirm}`).toHaveText(
        message,
      );
      await expect(page).toHaveURL(`${ferrochatUrl()}/signup`);
    }
    expect(await sessionCookies(page.context())).toEqual([]);
  });

  test('signing up from /signup?next=/account lands on /account', async ({ page }) => {
    const user = newCredentials();
    await signUpInUi(page, user, { next: '/account' });
    await expect(page).toHaveURL(`${ferrochatUrl()}/account`);
    await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
    await expect(page.getByTestId('account-email')).toHaveText(user.email);
  });
});

test.describe('OAuth through the provider button', () => {
  test('"Continue with single sign-on" goes through the provider and lands on /chat as its user', async ({
    page,
  }) => {
    const guard = await guardNetwork(page);
    const requests = recordRequests(page);
    const login = randomLogin('sso');
    const issuer = requireIssuer();

    await open(page, '/login');
    await page.getByRole('button', { name: 'Continue with single sign-on' }).click();
    await page.waitForURL((url) => url.origin === issuer, { waitUntil: 'commit' });

    // The PKCE verifier waits in an HttpOnly cookie, out of the page's reach.
    const verifier = (await page.context().cookies()).find((c) => c.name === VERIFIER_COOKIE);
    expect(verifier, `cookie ${VERIFIER_COOKIE}`).toBeDefined();
    expect(verifier?.httpOnly).toBe(true);
    expect(verifier?.sameSite).toBe('Lax');
    expect(await page.evaluate(() => document.cookie)).not.toContain(VERIFIER_COOKIE);

    await loginAtProvider(page, login, issuer);
    await expectOnChatAs(page, providerEmail(login));
    await expectNavbarSignedIn(page, providerEmail(login));

    const site = ferrochatUrl();
    const authorize = requests.find((url) => url.startsWith(`${site}/auth/v1/authorize?`));
    expect(authorize, 'the browser went through /auth/v1/authorize').toBeDefined();
    const authorizeParams = new URL(authorize!).searchParams;
    expect(authorizeParams.get('provider')).toBe('oidc');
    expect(authorizeParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorizeParams.get('redirect_to')).toBe(`${site}/auth/callback?next=%2Fchat`);
    expect(requests.some((url) => url.startsWith(`${site}/auth/v1/callback?`))).toBe(true);
    const callback = requests.find((url) => url.startsWith(`${site}/auth/callback?`));
    expect(callback, 'the browser came back through /auth/callback').toBeDefined();
    const callbackParams = new URL(callback!).searchParams;
    expect(callbackParams.get('next')).toBe('/chat');
    expect(callbackParams.get('code')).toBeTruthy();

    // Every step at the public URL (through the proxy) or at the provider.
    expect(new URL(site).hostname).toBe(PUBLIC_HOST);
    expect(offOrigins(requests, site, issuer)).toEqual([]);

    const cookies = await page.context().cookies();
    expect(cookies.map((c) => c.name), 'the used verifier is removed').not.toContain(VERIFIER_COOKIE);
    expect(jwtPayload(decodeSessionCookie(await sessionCookieValue(page.context())).access_token))
      .toMatchObject({ email: providerEmail(login) });
    expect(guard.blocked).toEqual([]);
  });

  test('single sign-on started from /signup?next=/account lands on /account', async ({ page }) => {
    const guard = await guardNetwork(page);
    const login = randomLogin('sso-next');
    await open(page, '/signup?next=%2Faccount');
    await page.getByRole('button', { name: 'Continue with single sign-on' }).click();
    await page.waitForURL((url) => url.origin === requireIssuer(), { waitUntil: 'commit' });
    await loginAtProvider(page, login);

    await expect(page).toHaveURL(`${ferrochatUrl()}/account`);
    await expect(page.getByTestId('account-email')).toHaveText(providerEmail(login));
    expect(guard.blocked).toEqual([]);
  });
});

test.describe('where signing in leads', () => {
  test('the server sends signed-out visitors of private pages to /login?next= with a 303', async ({
    playwright,
    baseURL,
  }) => {
    const request = await playwright.request.newContext({ baseURL, maxRedirects: 0 });
    try {
      for (const [path, location] of [
        ['/chat', '/login?next=%2Fchat'],
        ['/chat/x?y=1', '/login?next=%2Fchat%2Fx%3Fy%3D1'],
        ['/chat/a/b', '/login?next=%2Fchat%2Fa%2Fb'],
        ['/account', '/login?next=%2Faccount'],
        ['/reset-password', '/login?next=%2Freset-password'],
      ]) {
        const response = await request.get(path);
        expect(response.status(), `GET ${path}`).toBe(303);
        expect(response.headers().location, `GET ${path}`).toBe(location);
      }
      for (const path of ['/login', '/signup', '/forgot-password', '/']) {
        expect((await request.get(path)).status(), `GET ${path}`).toBe(200);
      }
    } finally {
      await request.dispose();
    }
  });

  test('the server sends a signed-in user from /login and /signup to /chat with a 303', async ({
    page,
  }) => {
    await signUpInUi(page, newCredentials());
    await expect(page).toHaveURL(/\/chat$/);
    for (const path of ['/login', '/signup', '/login?next=%2Faccount']) {
      const response = await page.request.get(path, { maxRedirects: 0 });
      expect(response.status(), `GET ${path}`).toBe(303);
      expect(response.headers().location, `GET ${path}`).toBe('/chat');
    }
    await page.goto('/login');
    await expect(page).toHaveURL(`${ferrochatUrl()}/chat`);
  });

  test('a signed-out visit to /chat/x?y=1 signs in through /login?next= and comes back there', async ({
    page,
  }) => {
    const user = await createUser();
    const response = await page.goto('/chat/x?y=1');
    expect(response?.request().redirectedFrom()?.url()).toBe(`${ferrochatUrl()}/chat/x?y=1`);
    await expect(page).toHaveURL(`${ferrochatUrl()}/login?next=%2Fchat%2Fx%3Fy%3D1`);
    await expect(page.locator('form.auth-form input[name="next"]')).toHaveValue('/chat/x?y=1');

    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await submitLogin(page, user);
    // No page lives there yet: only the address is the point.
    await expect(page).toHaveURL(`${ferrochatUrl()}/chat/x?y=1`);
    await expectNavbarSignedIn(page, user.email);
  });

  for (const query of [
    'next=//evil.example',
    'next=https://evil.example',
    'next=/\\evil.example',
    'next=%2F%2Fevil.example',
    'next=https:evil.example',
    'next=%2F%5Cevil.example',
    'next=/%09/evil.example',
  ]) {
    test(`signing in from /login?${query} ends on /chat, never on evil.example`, async ({ page }) => {
      const user = await createUser();
      const guard = await guardNetwork(page);
      const requests = recordRequests(page);

      await open(page, `/login?${query}`);
      await submitLogin(page, user);

      await expectOnChatAs(page, user.email);
      expect(evil(requests)).toEqual([]);
      expect(guard.blocked).toEqual([]);
    });
  }

  test('a real sign-in coming back to /auth/callback with a foreign next ends on /chat', async ({
    page,
    context,
  }) => {
    const user = await createUser();
    const guard = await guardNetwork(page);
    const requests = recordRequests(page);

    // A real emailed sign-in, started in this browser (which so holds the PKCE verifier)...
    await open(page, '/forgot-password');
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('status')).toBeVisible();
    const link = new URL((await waitForMail(user.email)).link!);
    // ...whose way back names another site as `next`: the callback URL is the site's own, so
    // the service sends the code there, and the app's callback is what reads `next`.
    const callback = new URL(link.searchParams.get('redirect_to')!);
    expect(`${callback.origin}${callback.pathname}`).toBe(`${ferrochatUrl()}/auth/callback`);
    callback.searchParams.set('next', '//evil.example');
    link.searchParams.set('redirect_to', callback.href);

    await page.goto(link.href);
    await expectOnChatAs(page, user.email);
    const reached = requests.find((url) => url.startsWith(`${ferrochatUrl()}/auth/callback?`));
    expect(reached, 'the browser came back through /auth/callback').toBeDefined();
    const reachedParams = new URL(reached!).searchParams;
    expect(reachedParams.get('next')).toBe('//evil.example');
    expect(reachedParams.get('code'), 'with a real code').toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await sessionCookies(context)).not.toEqual([]);
    expect(evil(requests)).toEqual([]);
    expect(guard.blocked).toEqual([]);
  });

  test('/auth/callback with a foreign next and a bogus code ends on /login with an error, not abroad', async ({
    page,
    context,
  }) => {
    const guard = await guardNetwork(page);
    const requests = recordRequests(page);

    // Without a PKCE verifier cookie: the sign-in was not started in this browser.
    await page.goto('/auth/callback?next=//evil.example&code=bogus');
    await expect(page).toHaveURL(`${ferrochatUrl()}/login?error=other-browser`);
    await expect(formError(page)).toHaveText(
      'This sign-in was started in another browser or has expired. Please try again.',
    );

    // With a verifier cookie the bogus code reaches the exchange, and fails there.
    await context.addCookies([
      {
        name: VERIFIER_COOKIE,
        value: 'a-verifier-for-no-flow-at-all-0123456789abcdef',
        url: ferrochatUrl(),
        httpOnly: true,
        sameSite: 'Lax',
      },
    ]);
    await page.goto('/auth/callback?next=//evil.example&code=bogus');
    await expect(page).toHaveURL(`${ferrochatUrl()}/login?error=link-expired`);
    await expect(formError(page)).toHaveText(
      'That link is invalid or has expired. Please request a new one.',
    );
    expect(await sessionCookies(context)).toEqual([]);
    expect(
      (await context.cookies()).map((c) => c.name),
      'the failed callback removes the verifier',
    ).not.toContain(VERIFIER_COOKIE);

    // The other foreign shapes, for good measure.
    for (const next of ['https://evil.example', '/\\evil.example', '%2F%2Fevil.example']) {
      await page.goto(`/auth/callback?next=${next}&code=bogus`);
      await expect(page, `next=${next}`).toHaveURL(`${ferrochatUrl()}/login?error=other-browser`);
    }
    expect(evil(requests)).toEqual([]);
    expect(guard.blocked).toEqual([]);
  });
});

test.describe('the session in the browser', () => {
  test('the session cookies are HttpOnly, SameSite=Lax, invisible to document.cookie, read by supabase-js', async ({
    page,
    context,
  }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);

    const cookies = await sessionCookies(context);
    expect(cookies.length, 'one cookie, or its chunks').toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.name).toMatch(SESSION_COOKIE_NAME);
      expect(cookie.httpOnly, cookie.name).toBe(true);
      expect(cookie.sameSite, cookie.name).toBe('Lax');
      expect(cookie.path, cookie.name).toBe('/');
      expect(cookie.secure, `${cookie.name} on plain-HTTP loopback`).toBe(false);
    }
    const value = await sessionCookieValue(context);
    expect(value.startsWith('base64-')).toBe(true);
    const session = decodeSessionCookie(value);
    expect(jwtPayload(session.access_token)).toMatchObject({ email: user.email });
    expect(session.refresh_token).toBeTruthy();

    const visible = await page.evaluate(() => document.cookie);
    expect(visible).not.toContain(SESSION_COOKIE);
    expect(visible).not.toContain(value.slice(0, 40));

    // The session without its user object: supabase-js's own layout with `userStorage`.
    expect(Object.keys(session).sort()).toEqual([
      'access_token',
      'expires_at',
      'expires_in',
      'refresh_token',
      'token_type',
    ]);
    // supabase-js reads it as @supabase/ssr hands it over on a server sharing the cookie.
    const client = newClient();
    client.storage.setItem(client.storageKey, JSON.stringify(session));
    const { data: sessionData, error: sessionError } = await client.auth.getSession();
    expect(sessionError).toBeNull();
    expect(sessionData.session?.access_token).toBe(session.access_token);
    expect(sessionData.session?.refresh_token).toBe(session.refresh_token);
    const { data: userData, error: userError } = await client.auth.getUser();
    expect(userError).toBeNull();
    expect(userData.user?.email).toBe(user.email);
  });

  test('/login, /signup and /chat log no console warnings or errors', async ({
    page,
    consoleProblems,
  }) => {
    await open(page, '/login');
    await open(page, '/signup');
    const user = newCredentials();
    const form = signupForm(page);
    await form.email.fill(user.email);
    await form.password.fill(user.password);
    await form.confirm.fill(user.password);
    await form.submit.click();
    await expectOnChatAs(page, user.email);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expectNavbarSignedIn(page, user.email);
    expect(consoleProblems).toEqual([]);
  });

  test('signing out in one tab signs out the other tabs of the browser', async ({ page, context }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);

    const home = await context.newPage();
    await open(home, '/');
    await expectNavbarSignedIn(home, user.email);
    const chat = await context.newPage();
    await open(chat, '/chat');
    await expectOnChatAs(chat, user.email);

    await page.bringToFront();
    await signOutInUi(page);

    // Told through the BroadcastChannel, without being focused.
    await expectNavbarSignedOut(home);
    await expect(home).toHaveURL(`${ferrochatUrl()}/`);
    await expect(chat).toHaveURL(signInFor('/chat'));
    await expect(chat.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  });

  test('a tab regaining focus notices a sign-out made elsewhere', async ({ page, context }) => {
    const user = newCredentials();
    await signUpInUi(page, user);
    await expectOnChatAs(page, user.email);
    const other = await context.newPage();
    await open(other, '/');
    await expectNavbarSignedIn(other, user.email);

    // Signed out with no page of the app involved, so no tab was told.
    const response = await context.request.post('/api/auth/logout', { maxRedirects: 0 });
    expect(response.status()).toBeLessThan(400);
    expect(await sessionCookies(context)).toEqual([]);
    await expectNavbarSignedIn(other, user.email);

    await other.evaluate(() => window.dispatchEvent(new Event('focus')));
    await expectNavbarSignedOut(other);
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await expect(page).toHaveURL(signInFor('/chat'));
    await expect(navbar(page).getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  });
});
