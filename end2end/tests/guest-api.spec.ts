/**
 * Anonymous sign-in with the official client: `signInAnonymously()`, the `is_anonymous` claim in
 * getClaims/getUser, and the upgrade by `updateUser({ email, password })`, which keeps the user's
 * id (and so their chats) and makes the next token a permanent user's.
 */
import { AuthApiError } from '@supabase/supabase-js';

import { publicFetch } from '../support/public-host';
import {
  ferrochatUrl,
  jwtPayload,
  newClient,
  randomEmail,
  randomPassword,
  UUID,
} from '../support/supabase';
import { test, expect } from './fixtures';

test.describe('supabase-js: anonymous sign-in', () => {
  test('signInAnonymously gives a session whose user and claims say is_anonymous', async () => {
    const client = newClient();
    const { data, error } = await client.auth.signInAnonymously({
      options: { data: { nickname: 'visitor' } },
    });
    expect(error).toBeNull();
    const user = data.user!;
    expect(user.id).toMatch(UUID);
    expect(user.is_anonymous).toBe(true);
    expect(user.email ?? '').toBe('');
    expect(user.user_metadata).toEqual({ nickname: 'visitor' });
    expect(data.session?.refresh_token).toBeTruthy();

    const claims = await client.auth.getClaims();
    expect(claims.error).toBeNull();
    expect(claims.data?.claims).toMatchObject({
      sub: user.id,
      role: 'authenticated',
      is_anonymous: true,
    });
    expect(claims.data?.claims.amr).toEqual([
      { method: 'anonymous', timestamp: expect.any(Number) },
    ]);

    const fetched = await client.auth.getUser();
    expect(fetched.error).toBeNull();
    expect(fetched.data.user).toMatchObject({ id: user.id, is_anonymous: true });
  });

  test('updateUser with an email and a password makes the same user permanent', async () => {
    const client = newClient();
    const { data } = await client.auth.signInAnonymously();
    const id = data.user!.id;
    const email = randomEmail();
    const password = randomPassword();

    // A password alone is refused, as by GoTrue.
    const alone = await client.auth.updateUser({ password });
    expect(alone.error).toBeInstanceOf(AuthApiError);
    expect(alone.error).toMatchObject({ status: 422, code: 'validation_failed' });

    const upgraded = await client.auth.updateUser({ email, password });
    expect(upgraded.error).toBeNull();
    expect(upgraded.data.user).toMatchObject({ id, email, is_anonymous: false });
    expect(upgraded.data.user?.identities?.map((identity) => identity.provider)).toEqual([
      'email',
    ]);

    // The next token says so.
    const refreshed = await client.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(jwtPayload(refreshed.data.session!.access_token)).toMatchObject({
      sub: id,
      email,
      is_anonymous: false,
    });
    const claims = await client.auth.getClaims();
    expect(claims.data?.claims.is_anonymous).toBe(false);
    const fetched = await client.auth.getUser();
    expect(fetched.data.user).toMatchObject({ id, email, is_anonymous: false });

    // And the address signs in as the same user from anywhere.
    const later = await newClient().auth.signInWithPassword({ email, password });
    expect(later.error).toBeNull();
    expect(later.data.user?.id).toBe(id);
    expect(later.data.user?.is_anonymous).toBe(false);
  });

  test("a guest cannot take another account's address", async () => {
    const email = randomEmail();
    const password = randomPassword();
    const owner = await newClient().auth.signUp({ email, password });
    expect(owner.error).toBeNull();

    const guest = newClient();
    await guest.auth.signInAnonymously();
    const taken = await guest.auth.updateUser({ email, password: randomPassword() });
    expect(taken.error).toBeInstanceOf(AuthApiError);
    expect(taken.error).toMatchObject({ status: 422, code: 'email_exists' });
    const still = await guest.auth.getUser();
    expect(still.data.user?.is_anonymous).toBe(true);
    const ownerAgain = await newClient().auth.signInWithPassword({ email, password });
    expect(ownerAgain.data.user?.id).toBe(owner.data.user?.id);
  });

  test('a guest over the message quota is refused by the chat API with 403 and words', async () => {
    const client = newClient();
    const { data } = await client.auth.signInAnonymously();
    const token = data.session!.access_token;
    const send = (sessionId: string) =>
      publicFetch()(`${ferrochatUrl()}/api/sessions/${sessionId}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ sessionId, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const session = crypto.randomUUID();
    for (let n = 1; n <= 10; n++) {
      const response = await send(session);
      expect(response.status, `message ${n}`).toBe(200);
      await response.text();
    }
    const refused = await send(session);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      detail:
        'Guests can send 10 messages. Add an email address and a password on your account ' +
        'page to keep chatting: your chats stay yours.',
    });
  });
});
