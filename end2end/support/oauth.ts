/**
 * The PKCE sign-in dance through the OIDC provider, as a browser does it:
 * supabase-js builds the `/auth/v1/authorize` URL (keeping the code verifier in its storage),
 * the browser goes there, is sent on to the provider, signs in and consents, comes back to
 * `/auth/v1/callback`, and is sent on to the redirect target with `?code=...`, which the same
 * supabase-js client exchanges for a session.
 */
import type { Page, Request } from '@playwright/test';

import { loginAtProvider } from './oidc-provider';
import { PUBLIC_HOST } from './public-host';
import { ferrochatUrl, newClient, type TestClient } from './supabase';

/** Where the app wants the browser back; ferrochat has no page there yet (a 404 is fine). */
export function appCallbackUrl(): string {
  return `${ferrochatUrl()}/auth/callback`;
}

export interface NetworkGuard {
  /** Requests to anything but loopback, which were stopped before leaving the browser. */
  blocked: string[];
  /** Requests sent to another URL than the browser asked for, as [asked, sent]. */
  rewritten: Array<[string, string]>;
}

/** Loopback, by address or by the public host name the browser maps to it. */
function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]', PUBLIC_HOST].includes(url.hostname);
}

/**
 * Keeps `page` on loopback, and optionally rewrites requests on their way out.
 *
 * This works at the Chrome DevTools Protocol level because Playwright's `page.route` does not see
 * the hops of a redirect chain, and every step of an OAuth dance is a redirect: the request to
 * `/auth/v1/callback` is the provider's 303, and a redirect to a foreign `redirect_to` would be
 * ferrochat's. CDP's Fetch domain pauses each hop. Chromium only, like the suite.
 *
 * `rewrite` returns the URL to send instead, or nothing to send the request unchanged.
 */
export async function guardNetwork(
  page: Page,
  rewrite?: (url: URL) => URL | undefined,
): Promise<NetworkGuard> {
  const guard: NetworkGuard = { blocked: [], rewritten: [] };
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', (event) => {
    const url = new URL(event.request.url);
    let reply: Promise<unknown>;
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && !isLoopback(url)) {
      guard.blocked.push(url.href);
      reply = cdp.send('Fetch.failRequest', {
        requestId: event.requestId,
        errorReason: 'BlockedByClient',
      });
    } else {
      const replacement = rewrite?.(url);
      if (replacement) guard.rewritten.push([url.href, replacement.href]);
      reply = cdp.send('Fetch.continueRequest', {
        requestId: event.requestId,
        ...(replacement ? { url: replacement.href } : {}),
      });
    }
    // The page may be closing; a request it no longer waits for needs no answer.
    reply.catch(() => undefined);
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
  return guard;
}

export interface OAuthStart {
  /** The PKCE client that started the flow; it holds the code verifier. */
  client: TestClient;
  /** The `/auth/v1/authorize` URL supabase-js built. */
  authorizeUrl: URL;
  /** The PKCE code verifier supabase-js stored (it deletes it when exchanging the code). */
  verifier: string;
}

/** `signInWithOAuth({ provider: 'oidc' })` of a fresh PKCE client, without any browser. */
export async function startOAuth(redirectTo: string = appCallbackUrl()): Promise<OAuthStart> {
  const client = newClient({ flowType: 'pkce' });
  const { data, error } = await client.auth.signInWithOAuth({
    // Not in supabase-js's list of provider names, but passed through as is: the generic
    // OpenID Connect provider ferrochat is configured with.
    provider: 'oidc' as Parameters<TestClient['auth']['signInWithOAuth']>[0]['provider'],
    options: { redirectTo, skipBrowserRedirect: true },
  });
  if (error) throw error;
  if (!data.url) throw new Error('signInWithOAuth gave no URL');
  const verifier = client.codeVerifier();
  if (!verifier) throw new Error('supabase-js stored no PKCE code verifier');
  return { client, authorizeUrl: new URL(data.url), verifier };
}

export interface OAuthDance extends OAuthStart {
  /**
   * Where ferrochat's `/auth/v1/callback` sent the browser: the `Location` of its redirect,
   * fragment included. The app's page there may send the browser on (see `landedOn`).
   */
  sentTo: URL;
  /** The `code` ferrochat sent the browser back with, if any. */
  code: string | null;
  /** Where the browser ended. */
  landedOn: URL;
  /** Every URL the browser requested during the dance, redirect hops included. */
  visited: string[];
  guard: NetworkGuard;
}

/**
 * The URLs of `urls` that are at none of `origins`: where users live, the browser meets
 * ferrochat only at its public URL (never at the address it listens on) and the provider.
 */
export function offOrigins(urls: string[], ...origins: string[]): string[] {
  return urls.filter((url) => {
    const parsed = new URL(url);
    return ['http:', 'https:'].includes(parsed.protocol) && !origins.includes(parsed.origin);
  });
}

function isAuthCallback(url: string): boolean {
  const parsed = new URL(url);
  return parsed.origin === ferrochatUrl() && parsed.pathname === '/auth/v1/callback';
}

/**
 * The whole dance in `page` as the provider's account `login`: returns where ferrochat sent the
 * browser back to. Pass `guard` to use a guard set up before (say one that rewrites the callback).
 */
export async function oauthDance(
  page: Page,
  options: { login: string; redirectTo?: string; guard?: NetworkGuard },
): Promise<OAuthDance> {
  const guard = options.guard ?? (await guardNetwork(page));
  const start = await startOAuth(options.redirectTo);

  // The callback's redirect is a hop of a redirect chain: seen as the request it led to.
  let callback: Request | undefined;
  const visited: string[] = [];
  const onRequest = (request: Request) => {
    visited.push(request.url());
    const from = request.redirectedFrom();
    if (from && isAuthCallback(from.url())) callback ??= from;
  };
  page.on('request', onRequest);
  try {
    const response = await page.goto(start.authorizeUrl.href);
    // An error of ferrochat's own (say /authorize refusing the request) ends the dance here.
    const answered = response && new URL(response.url());
    if (answered && answered.origin === ferrochatUrl() && response.status() >= 400) {
      const body = (await response.text()).slice(0, 300);
      throw new Error(`${answered.pathname} answered ${response.status()}: ${body}`);
    }
    await loginAtProvider(page, options.login);
  } finally {
    page.off('request', onRequest);
  }

  const landedOn = new URL(page.url());
  const location = (await callback?.response())?.headers().location;
  if (!callback || !location) {
    throw new Error(`ferrochat's /auth/v1/callback did not redirect; the browser is at ${landedOn}`);
  }
  const sentTo = new URL(location, callback.url());
  return { ...start, sentTo, code: sentTo.searchParams.get('code'), landedOn, visited, guard };
}

/** The parameters of a redirect, from its query and its fragment (GoTrue uses both). */
export function redirectParams(url: URL): URLSearchParams {
  const params = new URLSearchParams(url.search);
  for (const [key, value] of new URLSearchParams(url.hash.replace(/^#/, ''))) {
    params.append(key, value);
  }
  return params;
}
