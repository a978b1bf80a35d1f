import { providerEmail, providerName, requireIssuer } from '../support/oidc-provider';
import { guardNetwork, oauthDance, offOrigins, redirectParams } from '../support/oauth';
import { PUBLIC_HOST } from '../support/public-host';
import { appUrl, authApi, errorCode, ferrochatUrl, randomLogin, UUID } from '../support/supabase';
import { test, expect } from './fixtures';

/** `value` with one character in its middle changed (not the last one, whose low bits may be padding). */
function tamper(value: string): string {
  let i = Math.floor(value.length / 2);
  while (i < value.length - 1 && !/[A-Za-z0-9]/.test(value[i])) i++;
  return value.slice(0, i) + (value[i] === 'a' ? 'b' : 'a') + value.slice(i + 1);
}

test.describe('OAuth sign-in through the OpenID Connect provider', () => {
  test('a provider account becomes one user, found again on the next sign-in', async ({
    page,
    browser,
  }) => {
    const first = await oauthDance(page, { login: 'alice' });
    expect(first.code, `sent to ${first.sentTo}`).toBeTruthy();
    // Through the proxy, by the public name: the listen address never reaches the browser.
    const site = new URL(ferrochatUrl());
    expect(site.host).toBe(`${PUBLIC_HOST}:${site.port}`);
    expect(first.authorizeUrl.origin).toBe(site.origin);
    expect(first.sentTo.origin).toBe(site.origin);
    const callback = first.visited.find((url) => url.startsWith(`${site.origin}/auth/v1/callback?`));
    expect(callback, 'the provider sent the browser to the public callback').toBeDefined();
    expect(offOrigins(first.visited, site.origin, requireIssuer())).toEqual([]);
    expect(first.visited.filter((url) => url.includes(new URL(appUrl()).host))).toEqual([]);
    const one = await first.client.auth.exchangeCodeForSession(first.code!);
    expect(one.error).toBeNull();
    const user = one.data.user!;
    expect(user.id).toMatch(UUID);
    expect(user.email).toBe('alice@example.test');
    expect(user.email_confirmed_at, 'the provider vouches for the email').toBeTruthy();
    expect(user.app_metadata.provider).toBe('oidc');
    expect(user.user_metadata.name).toBe(providerName('alice'));

    // Another browser, so the provider asks for the login again: a second full dance.
    const context = await browser.newContext();
    try {
      const second = await oauthDance(await context.newPage(), { login: 'alice' });
      expect(second.code, `sent to ${second.sentTo}`).toBeTruthy();
      const two = await second.client.auth.exchangeCodeForSession(second.code!);
      expect(two.error).toBeNull();
      expect(two.data.user?.id).toBe(user.id);
      expect(two.data.user?.email).toBe(providerEmail('alice'));
      const oidcIdentities = two.data.user?.identities?.filter((i) => i.provider === 'oidc');
      expect(oidcIdentities, 'the identity is linked once, not duplicated').toHaveLength(1);
      expect(oidcIdentities?.[0].identity_data?.sub).toBe('alice');
      // A second session of the same user.
      expect(two.data.session?.access_token).not.toBe(one.data.session?.access_token);
    } finally {
      await context.close();
    }
  });

  test('a callback whose state was tampered with is refused, with a GoTrue error redirect', async ({
    page,
  }) => {
    // The provider's redirect to /auth/v1/callback is rewritten on its way to ferrochat.
    const guard = await guardNetwork(page, (url) => {
      const state = url.searchParams.get('state');
      if (url.origin !== ferrochatUrl() || url.pathname !== '/auth/v1/callback' || !state) return;
      const tampered = new URL(url);
      tampered.searchParams.set('state', tamper(state));
      return tampered;
    });
    const dance = await oauthDance(page, { login: randomLogin('tamper'), guard });

    expect(guard.rewritten, 'the browser came back to the callback with a state').toHaveLength(1);
    const params = redirectParams(dance.sentTo);
    expect(dance.sentTo.origin).toBe(ferrochatUrl());
    expect(params.get('code'), `sent to ${dance.sentTo}`).toBeNull();
    expect(params.get('error')).toBeTruthy();
    expect(params.get('error_code')).toBe('bad_oauth_state');
    expect(params.get('error_description')).toBeTruthy();
  });

  test('an auth code works once, and only with its own code verifier', async ({ page }) => {
    const login = randomLogin('code');
    const first = await oauthDance(page, { login });
    expect(first.code, `sent to ${first.sentTo}`).toBeTruthy();
    const exchanged = await first.client.auth.exchangeCodeForSession(first.code!);
    expect(exchanged.error).toBeNull();
    expect(exchanged.data.user?.email).toBe(providerEmail(login));

    // The same code and verifier again, as an attacker who saw both would send them.
    const reused = await authApi('/token?grant_type=pkce', {
      body: { auth_code: first.code, code_verifier: first.verifier },
    });
    expect(reused.status).toBeGreaterThanOrEqual(400);
    expect(reused.status).toBeLessThan(500);
    expect(errorCode(reused.body)).toBe('flow_state_not_found');
    expect(reused.body).not.toHaveProperty('access_token');

    // A fresh code (the provider remembers the login) with another flow's verifier.
    const second = await oauthDance(page, { login, guard: first.guard });
    expect(second.code, `sent to ${second.sentTo}`).toBeTruthy();
    expect(second.verifier).not.toBe(first.verifier);
    const wrongVerifier = await authApi('/token?grant_type=pkce', {
      body: { auth_code: second.code, code_verifier: first.verifier },
    });
    expect(wrongVerifier.status).toBeGreaterThanOrEqual(400);
    expect(wrongVerifier.status).toBeLessThan(500);
    expect(errorCode(wrongVerifier.body)).toBe('bad_code_verifier');
    expect(wrongVerifier.body).not.toHaveProperty('access_token');
  });

  test('a foreign redirect_to is not followed: the sign-in ends on the site', async ({ page }) => {
    const evilRequests: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).hostname === 'evil.example') evilRequests.push(request.url());
    });
    await page.route('**/evil.example/**', (route) => route.abort());
    const login = randomLogin('evil');

    const dance = await oauthDance(page, { login, redirectTo: 'https://evil.example/steal' });

    expect(dance.authorizeUrl.searchParams.get('redirect_to')).toBe('https://evil.example/steal');
    expect(evilRequests).toEqual([]);
    expect(dance.guard.blocked).toEqual([]);
    // The site URL instead, where the sign-in itself still completes.
    expect(dance.sentTo.origin).toBe(ferrochatUrl());
    expect(dance.sentTo.pathname).toBe('/');
    expect(dance.landedOn.origin).toBe(ferrochatUrl());
    expect(dance.code, `sent to ${dance.sentTo}`).toBeTruthy();
    const { data, error } = await dance.client.auth.exchangeCodeForSession(dance.code!);
    expect(error).toBeNull();
    expect(data.user?.email).toBe(providerEmail(login));
  });
});
