import { verify, type JsonWebKey } from 'node:crypto';

import { AuthApiError, AuthWeakPasswordError } from '@supabase/supabase-js';

import { providerEmail, providerName } from '../support/oidc-provider';
import { startFerrochat } from '../support/ferrochat';
import { appCallbackUrl, oauthDance } from '../support/oauth';
import { publicFetch } from '../support/public-host';
import {
  authApi,
  authUrl,
  errorCode,
  jwtPayload,
  newClient,
  randomEmail,
  randomLogin,
  randomPassword,
  UUID,
  type TestClient,
} from '../support/supabase';
import { test, expect } from './fixtures';

/** Signs a fresh user up with `client`; returns the credentials and the session. */
async function signUp(client: TestClient = newClient()) {
  const email = randomEmail();
  const password = randomPassword();
  const { data, error } = await client.auth.signUp({ email, password });
  expect(error).toBeNull();
  expect(data.session, 'autoconfirm is on: sign-up signs in').not.toBeNull();
  return { client, email, password, user: data.user!, session: data.session! };
}

test.describe('supabase-js against /auth/v1', () => {
  test('sign-up returns a session for a new user, and the same email cannot sign up twice', async () => {
    const email = randomEmail();
    const password = randomPassword();
    const { data, error } = await newClient().auth.signUp({ email, password });

    expect(error).toBeNull();
    expect(data.user?.email).toBe(email);
    expect(data.user?.id).toMatch(UUID);
    expect(data.session?.user.id).toBe(data.user?.id);
    expect(data.session?.token_type).toBe('bearer');
    expect(data.session?.refresh_token).toBeTruthy();
    expect(data.session?.expires_in).toBeGreaterThan(0);
    expect(jwtPayload(data.session!.access_token)).toMatchObject({ sub: data.user?.id, email });

    const again = await newClient().auth.signUp({ email, password: randomPassword() });
    expect(again.error).toBeInstanceOf(AuthApiError);
    expect(again.error).toMatchObject({ status: 422, code: 'user_already_exists' });
    expect(again.data.session).toBeNull();
  });

  test('a password of 7 characters is refused as weak, for its length', async () => {
    const { data, error } = await newClient().auth.signUp({
      email: randomEmail(),
      password: 'Ab3$xyz',
    });

    expect(error).toBeInstanceOf(AuthWeakPasswordError);
    expect(error).toMatchObject({ status: 422, code: 'weak_password' });
    expect((error as AuthWeakPasswordError).reasons).toContain('length');
    expect(data.session).toBeNull();
  });

  test('password sign-in works with the right password only, and does not tell who exists', async () => {
    const { email, password, user } = await signUp();

    const signedIn = await newClient().auth.signInWithPassword({ email, password });
    expect(signedIn.error).toBeNull();
    expect(signedIn.data.user?.id).toBe(user.id);
    expect(signedIn.data.session?.access_token).toBeTruthy();

    const wrongPassword = await newClient().auth.signInWithPassword({
      email,
      password: `${password}-wrong`,
    });
    const unknownEmail = await newClient().auth.signInWithPassword({
      email: randomEmail(),
      password,
    });
    for (const failed of [wrongPassword, unknownEmail]) {
      expect(failed.error).toBeInstanceOf(AuthApiError);
      expect(failed.error).toMatchObject({ status: 400, code: 'invalid_credentials' });
      expect(failed.data.session).toBeNull();
    }
    expect(unknownEmail.error?.message).toBe(wrongPassword.error?.message);
  });

  test('getUser and getClaims name the signed-in user; the claims are verified with the ES256 JWKS', async () => {
    const { client, email, user } = await signUp();

    const got = await client.auth.getUser();
    expect(got.error).toBeNull();
    expect(got.data.user).toMatchObject({ id: user.id, email });

    client.requests.length = 0;
    const { data, error } = await client.auth.getClaims();
    expect(error).toBeNull();
    expect(data?.header).toMatchObject({ alg: 'ES256', kid: expect.any(String) });
    expect(data?.claims).toMatchObject({
      sub: user.id,
      email,
      role: 'authenticated',
      aud: 'authenticated',
      session_id: expect.stringMatching(UUID),
      iss: authUrl(),
    });
    // Verified locally with the published key, not by asking the server about the token.
    const asked = client.requests.map(({ method, url }) => `${method} ${url.pathname}`);
    expect(asked).toEqual(['GET /auth/v1/.well-known/jwks.json']);

    const jwks = await publicFetch()(`${authUrl()}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    const { keys } = (await jwks.json()) as { keys: Array<Record<string, string>> };
    const key = keys.find((candidate) => candidate.kid === data?.header.kid);
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    for (const published of keys) {
      expect(published, 'no private key material is published').not.toHaveProperty('d');
      expect(published, 'no symmetric key is published').not.toHaveProperty('k');
    }

    // And the signature checks out with that key outside supabase-js too.
    const session = (await client.auth.getSession()).data.session!;
    const [header, payload, signature] = session.access_token.split('.');
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      { key: key as JsonWebKey, format: 'jwk', dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    expect(valid).toBe(true);
  });

  test('refreshing rotates both tokens within the same session; the old token reused at once gets the current ones', async () => {
    const { client, user, session: first } = await signUp();
    const sessionId = jwtPayload(first.access_token).session_id;

    const { data, error } = await client.auth.refreshSession();
    expect(error).toBeNull();
    const second = data.session!;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(jwtPayload(second.access_token)).toMatchObject({ sub: user.id, session_id: sessionId });

    // The new access token is accepted...
    const me = await authApi('/user', { accessToken: second.access_token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
    // ...and so is the new refresh token, once.
    const third = await authApi('/token?grant_type=refresh_token', {
      body: { refresh_token: second.refresh_token },
    });
    expect(third.status).toBe(200);
    expect(jwtPayload(third.body.access_token as string).session_id).toBe(sessionId);

    // The first refresh token again, within the reuse interval (10 s by default; these calls
    // take milliseconds), as from a tab that raced the rotation: the same session continues,
    // with its current tokens, and nothing new is minted from the old token.
    const reused = await authApi('/token?grant_type=refresh_token', {
      body: { refresh_token: first.refresh_token },
    });
    expect(reused.status).toBe(200);
    expect(reused.body.refresh_token).toBe(third.body.refresh_token);
    expect(jwtPayload(reused.body.access_token as string).session_id).toBe(sessionId);
  });

  test('a refresh token reused after the reuse interval is refused and ends its session', async () => {
    // A server of its own, where the interval is 0: any later reuse is a stolen token's.
    const server = await startFerrochat({ env: { FERROCHAT_REFRESH_REUSE_INTERVAL_SECS: '0' } });
    try {
      const { session: first } = await signUp(newClient({ url: server.url }));
      const rotated = await authApi('/token?grant_type=refresh_token', {
        url: server.url,
        body: { refresh_token: first.refresh_token },
      });
      expect(rotated.status).toBe(200);
      const current = rotated.body as { access_token: string; refresh_token: string };
      // Revocation times are whole seconds: in the next one, the reuse is past any interval.
      await new Promise((r) => setTimeout(r, 1_100));

      const reused = await authApi('/token?grant_type=refresh_token', {
        url: server.url,
        body: { refresh_token: first.refresh_token },
      });
      expect(reused.status).toBe(400);
      expect(errorCode(reused.body)).toBe('refresh_token_already_used');
      expect(reused.body.message).toBe('Invalid Refresh Token: Already Used');
      expect(reused.body).not.toHaveProperty('access_token');

      // The whole session is gone: the thief's token and the owner's current ones alike.
      const owner = await authApi('/token?grant_type=refresh_token', {
        url: server.url,
        body: { refresh_token: current.refresh_token },
      });
      expect(owner.status).toBe(400);
      expect(errorCode(owner.body)).toBe('refresh_token_not_found');
      const me = await authApi('/user', { url: server.url, accessToken: current.access_token });
      expect(me.status).toBe(403);
      expect(errorCode(me.body)).toBe('session_not_found');
    } finally {
      await server.stop();
    }
  });

  test('updateUser changes the metadata and the password', async () => {
    const { client, email, password } = await signUp();

    const named = await client.auth.updateUser({ data: { display_name: 'Ada' } });
    expect(named.error).toBeNull();
    expect(named.data.user?.user_metadata.display_name).toBe('Ada');
    const got = await client.auth.getUser();
    expect(got.data.user?.user_metadata.display_name).toBe('Ada');

    const newPassword = randomPassword();
    const changed = await client.auth.updateUser({ password: newPassword });
    expect(changed.error).toBeNull();

    const withNew = await newClient().auth.signInWithPassword({ email, password: newPassword });
    expect(withNew.error).toBeNull();
    expect(withNew.data.user?.email).toBe(email);
    const withOld = await newClient().auth.signInWithPassword({ email, password });
    expect(withOld.error).toMatchObject({ status: 400, code: 'invalid_credentials' });
  });

  test('a local sign-out ends only its own session; a global one ends them all', async () => {
    const { client: first, email, password } = await signUp();
    const firstToken = (await first.auth.getSession()).data.session!.access_token;
    const second = newClient();
    expect((await second.auth.signInWithPassword({ email, password })).error).toBeNull();
    const secondToken = (await second.auth.getSession()).data.session!.access_token;

    expect((await first.auth.signOut({ scope: 'local' })).error).toBeNull();
    expect((await first.auth.getSession()).data.session).toBeNull();
    const firstAfter = await authApi('/user', { accessToken: firstToken });
    expect(firstAfter.status).toBe(403);
    expect(errorCode(firstAfter.body)).toBe('session_not_found');
    const secondStill = await second.auth.getUser();
    expect(secondStill.error).toBeNull();
    expect(secondStill.data.user?.email).toBe(email);

    const third = newClient();
    expect((await third.auth.signInWithPassword({ email, password })).error).toBeNull();
    expect((await third.auth.signOut()).error).toBeNull();

    const secondAfter = await second.auth.getUser(secondToken);
    expect(secondAfter.error).not.toBeNull();
    expect(secondAfter.data.user).toBeNull();
    const raw = await authApi('/user', { accessToken: secondToken });
    expect(raw.status).toBe(403);
    expect(errorCode(raw.body)).toBe('session_not_found');
  });

  test('PKCE sign-in through the OpenID Connect provider ends in a session for its user', async ({
    page,
  }) => {
    const login = randomLogin('pkce');
    const dance = await oauthDance(page, { login });

    const authorize = dance.authorizeUrl;
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${authUrl()}/authorize`);
    expect(authorize.searchParams.get('provider')).toBe('oidc');
    expect(authorize.searchParams.get('redirect_to')).toBe(appCallbackUrl());
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('s256');

    expect(`${dance.sentTo.origin}${dance.sentTo.pathname}`).toBe(appCallbackUrl());
    expect(dance.code).toBeTruthy();
    expect(dance.guard.blocked).toEqual([]);

    const { data, error } = await dance.client.auth.exchangeCodeForSession(dance.code!);
    expect(error).toBeNull();
    expect(data.session?.access_token).toBeTruthy();
    expect(data.user?.id).toMatch(UUID);
    expect(data.user?.email).toBe(providerEmail(login));
    expect(data.user?.app_metadata.provider).toBe('oidc');
    expect(data.user?.user_metadata.name).toBe(providerName(login));
    expect(data.user?.identities?.map((identity) => identity.provider)).toEqual(['oidc']);
    expect(jwtPayload(data.session!.access_token)).toMatchObject({
      sub: data.user?.id,
      iss: authUrl(),
    });
  });
});
