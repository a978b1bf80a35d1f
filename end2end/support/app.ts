/**
 * The app's auth pages as a person uses them: sign up, sign in, sign out, and what the browser
 * keeps of the session. Works with and without JavaScript (pass `js: false` for a context made
 * with `javaScriptEnabled: false`: nothing waits for hydration then).
 */
import { expect, type BrowserContext, type Cookie, type Page } from '@playwright/test';

import { PUBLIC_HOST } from './public-host';
import { newClient, randomEmail, randomPassword } from './supabase';

/** The session cookie's name: `sb-<first label of the public host>-auth-token`. */
export const SESSION_COOKIE = `sb-${PUBLIC_HOST.split('.')[0]}-auth-token`;
/** The cookie that keeps a PKCE verifier between starting a sign-in and its callback. */
export const VERIFIER_COOKIE = `${SESSION_COOKIE}-code-verifier`;

/** The session cookie's name, or one of its chunks' (`.0`, `.1`…). */
export const SESSION_COOKIE_NAME = new RegExp(`^${SESSION_COOKIE}(\\.\\d+)?$`);

export interface Credentials {
  email: string;
  password: string;
}

/** Loads `path` and, with JavaScript, waits until the app is interactive. */
export async function open(page: Page, path: string, { js = true } = {}) {
  const response = await page.goto(path);
  if (js) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  return response;
}

/** `/path?next=<encoded>` (or `/path` without `next`). */
export function withNext(path: string, next?: string): string {
  return next === undefined ? path : `${path}?next=${encodeURIComponent(next)}`;
}

/** The login form's parts. */
export function loginForm(page: Page) {
  return {
    email: page.getByLabel('Email', { exact: true }),
    password: page.getByLabel('Password', { exact: true }),
    submit: page.getByRole('button', { name: 'Sign in', exact: true }),
  };
}

/** The signup form's parts. */
export function signupForm(page: Page) {
  return {
    email: page.getByLabel('Email', { exact: true }),
    password: page.getByLabel('Password', { exact: true }),
    confirm: page.getByLabel('Confirm password', { exact: true }),
    submit: page.getByRole('button', { name: 'Sign up', exact: true }),
  };
}

/** The form's error message (role=alert). */
export function formError(page: Page) {
  return page.getByRole('main').getByRole('alert');
}

/** Fills and submits the signup form at `/signup` (with `next` if given). */
export async function signUpInUi(
  page: Page,
  { email, password }: Credentials,
  { next, js = true, confirm = password }: { next?: string; js?: boolean; confirm?: string } = {},
) {
  await open(page, withNext('/signup', next), { js });
  const form = signupForm(page);
  await form.email.fill(email);
  await form.password.fill(password);
  await form.confirm.fill(confirm);
  await form.submit.click();
}

/**
 * Signs `user` up the way the sign-up form does, posting its fields to its server function, but
 * without loading the page: from the page's browser context (its cookies, its client address),
 * which holds the session afterwards. For tests about what comes after sign-up; signing up in the
 * page is app-auth's subject. Loading and hydrating /signup cost 0.3 core-s of a 2-core machine
 * per test, measured.
 */
export async function signUpByForm(page: Page, user = newCredentials()): Promise<Credentials> {
  const { email, password } = user;
  const response = await page.request.post('/api/auth/signup', {
    form: { email, password, confirm_password: password, next: '/chat' },
  });
  expect([response.status(), await response.text()]).toEqual([200, '"SignedIn"']);
  return user;
}

/** A new user (signUpByForm) on `/chat`: with JavaScript, once the page is interactive. */
export async function signedUpOnChat(page: Page, { js = true } = {}): Promise<Credentials> {
  const user = await signUpByForm(page);
  await open(page, '/chat', { js });
  await expectOnChatAs(page, user.email);
  return user;
}

/** Fills and submits the login form at `/login` (with `next` if given). */
export async function signInInUi(
  page: Page,
  { email, password }: Credentials,
  { next, js = true }: { next?: string; js?: boolean } = {},
) {
  await open(page, withNext('/login', next), { js });
  await submitLogin(page, { email, password });
}

/** Fills and submits the login form of the page already open. */
export async function submitLogin(page: Page, { email, password }: Credentials) {
  const form = loginForm(page);
  await form.email.fill(email);
  await form.password.fill(password);
  await form.submit.click();
}

/** The browser is on `/chat`, which names `email` as the signed-in user. */
export async function expectOnChatAs(page: Page, email: string) {
  await expect(page).toHaveURL(/\/chat$/);
  await expect(page.getByRole('heading', { name: 'Your chats' })).toBeVisible();
  await expect(page.getByTestId('signed-in-email')).toHaveText(email);
}

/** The navbar. */
export function navbar(page: Page) {
  return page.locator('header.navbar');
}

/** The navbar shows the signed-in menu of `email`. */
export async function expectNavbarSignedIn(page: Page, email: string) {
  const nav = navbar(page);
  await expect(nav.getByRole('link', { name: 'Chats' })).toBeVisible();
  await expect(nav.getByRole('link', { name: email })).toHaveAttribute('href', '/account');
  await expect(nav.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Sign in', exact: true })).toHaveCount(0);
}

/** The navbar shows the links of a signed-out visitor. */
export async function expectNavbarSignedOut(page: Page) {
  const nav = navbar(page);
  await expect(nav.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Sign up', exact: true })).toBeVisible();
  await expect(nav.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
}

/** Clicks the navbar's "Sign out" and waits for the login page. */
export async function signOutInUi(page: Page) {
  await navbar(page).getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
}

/** The session cookies (the whole one or its `.0`, `.1`… chunks) the context holds. */
export async function sessionCookies(context: BrowserContext): Promise<Cookie[]> {
  return (await context.cookies()).filter((cookie) => SESSION_COOKIE_NAME.test(cookie.name));
}

/** The session cookie's value, chunks joined in order; empty without a session. */
export async function sessionCookieValue(context: BrowserContext): Promise<string> {
  const cookies = await sessionCookies(context);
  const whole = cookies.find((cookie) => cookie.name === SESSION_COOKIE);
  if (whole) return whole.value;
  return cookies
    .map((cookie) => ({ index: Number(cookie.name.split('.').pop()), value: cookie.value }))
    .sort((a, b) => a.index - b.index)
    .map((chunk) => chunk.value)
    .join('');
}

/** The session stored in the cookie (`base64-` + base64url of the session JSON). */
export function decodeSessionCookie(value: string): { access_token: string; refresh_token: string } {
  expect(value.startsWith('base64-'), `session cookie ${value.slice(0, 20)}…`).toBe(true);
  return JSON.parse(Buffer.from(value.slice('base64-'.length), 'base64url').toString('utf8'));
}

/**
 * A confirmed user made through the auth API (supabase-js), for tests about signing in rather
 * than signing up. The browser holds no session for it.
 */
export async function createUser(): Promise<Credentials> {
  const email = randomEmail();
  const password = randomPassword();
  const { data, error } = await newClient().auth.signUp({ email, password });
  expect(error).toBeNull();
  expect(data.session, 'autoconfirm is on: the user can sign in at once').not.toBeNull();
  return { email, password };
}

/** Fresh credentials nobody has signed up with. */
export function newCredentials(): Credentials {
  return { email: randomEmail(), password: randomPassword() };
}
