/**
 * Where users live: one person guessing passwords must not lock anyone else out. The guesser is
 * a script at its own address (127.0.0.2) posting the app's sign-in form as a browser without
 * JavaScript does (`ActionForm` posts to /api/auth/login); the person is the browser, at an
 * address of its own (see fixtures.ts). Both go through the reverse proxy by the public name,
 * with default limits.
 */
import { createUser, expectOnChatAs, signInInUi } from '../support/app';
import { publicFetch } from '../support/public-host';
import { ferrochatUrl } from '../support/supabase';
import { test, expect } from './fixtures';

/** Sign-in attempts one address may make per five minutes, by default. */
const SIGN_IN_LIMIT = 30;
const WRONG_PASSWORD = 'Invalid email or password.';
const RATE_LIMITED = 'Too many attempts. Please wait a few minutes and try again.';

/** A script at 127.0.0.2, with no cookies and no JavaScript. */
const guesser = publicFetch('127.0.0.2');

/**
 * Posts the sign-in form once, as a browser without JavaScript, and returns the text of the page
 * the refusal sends it back to. `headers` are added to the browser's own.
 */
async function guess(email: string, headers: Record<string, string> = {}): Promise<string> {
  const site = ferrochatUrl();
  const refused = await guesser(`${site}/api/auth/login`, {
    method: 'POST',
    headers: {
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
      referer: `${site}/login`,
      ...headers,
    },
    body: new URLSearchParams({ email, password: 'password123', next: '/chat' }).toString(),
  });
  expect(refused.status, `${email}: back to the form`).toBe(302);
  expect(refused.headers.getSetCookie(), 'no session for a guess').toEqual([]);
  const back = new URL(refused.headers.get('location')!, site);
  expect(`${back.origin}${back.pathname}`).toBe(`${site}/login`);
  const page = await guesser(back.href, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(200);
  return page.text();
}

test('31 wrong passwords from one address stop that address, and the next person signs in', async ({
  page,
}) => {
  const person = await createUser();

  // One guess per account, so no account's own limit is what stops the guesser.
  for (let attempt = 1; attempt <= SIGN_IN_LIMIT; attempt++) {
    const shown = await guess(`guess-${attempt}-${Date.now()}@example.test`);
    expect(shown, `attempt ${attempt}`).toContain(WRONG_PASSWORD);
    expect(shown, `attempt ${attempt}`).not.toContain(RATE_LIMITED);
  }
  const thirtyFirst = await guess(`guess-31-${Date.now()}@example.test`);
  expect(thirtyFirst).toContain(RATE_LIMITED);
  expect(thirtyFirst).not.toContain(WRONG_PASSWORD);
  // Naming another address in X-Forwarded-For buys nothing: the proxy appends the real one.
  const forged = await guess(`guess-32-${Date.now()}@example.test`, {
    'x-forwarded-for': '198.51.100.7',
  });
  expect(forged).toContain(RATE_LIMITED);

  // Right after, someone else signs in through the page, in a browser.
  await signInInUi(page, person);
  await expectOnChatAs(page, person.email);
});
