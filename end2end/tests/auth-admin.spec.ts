import { AuthApiError } from '@supabase/supabase-js';

import { apiKeys } from '../support/ferrochat';
import { jwtPayload, newClient, randomEmail, randomPassword, UUID } from '../support/supabase';
import { test, expect } from './fixtures';

/**
 * supabase-js's admin client (`auth.admin.*`) with the service-role key `ferrochat keys` prints,
 * against the suite's server, and the answers supabase-js gets for GoTrue features this service
 * does not offer.
 */
test.describe('supabase-js admin API with the service-role key', () => {
  const keys = () => apiKeys();
  const adminClient = () => newClient({ apiKey: keys().serviceRole });

  test('`ferrochat keys` prints the anon and service_role keys of this instance', async () => {
    const { anon, serviceRole } = keys();
    expect(jwtPayload(anon)).toMatchObject({ role: 'anon', iss: expect.stringMatching(/\/auth\/v1$/) });
    expect(jwtPayload(serviceRole)).toMatchObject({ role: 'service_role' });
  });

  test('an administrator creates, finds, bans, unbans and deletes a user', async () => {
    const admin = adminClient().auth.admin;
    const email = randomEmail();
    const password = randomPassword();

    const created = await admin.createUser({
      email,
      password,
      email_confirm: true,
      user_metadata: { name: 'Ada' },
      app_metadata: { plan: 'pro' },
    });
    expect(created.error).toBeNull();
    const id = created.data.user!.id;
    expect(id).toMatch(UUID);
    expect(created.data.user).toMatchObject({
      email,
      user_metadata: { name: 'Ada' },
      app_metadata: { plan: 'pro', provider: 'email' },
    });

    const person = newClient();
    const signedIn = await person.auth.signInWithPassword({ email, password });
    expect(signedIn.error).toBeNull();

    const found = await admin.getUserById(id);
    expect(found.error).toBeNull();
    expect(found.data.user?.email).toBe(email);

    const listed = await admin.listUsers({ page: 1, perPage: 1 });
    expect(listed.error).toBeNull();
    expect(listed.data.users).toHaveLength(1);
    expect((listed.data as { total: number }).total).toBeGreaterThanOrEqual(1);

    const banned = await admin.updateUserById(id, { ban_duration: '24h' });
    expect(banned.error).toBeNull();
    expect((banned.data.user as { banned_until?: string }).banned_until).toBeTruthy();
    const refused = await newClient().auth.signInWithPassword({ email, password });
    expect(refused.error).toBeInstanceOf(AuthApiError);
    expect(refused.error).toMatchObject({ status: 400, code: 'user_banned' });
    // The ban ended the session that was open.
    const { data: stale } = await person.auth.getSession();
    const refreshed = await person.auth.refreshSession(stale.session!);
    expect(refreshed.error).not.toBeNull();

    const unbanned = await admin.updateUserById(id, { ban_duration: 'none' });
    expect(unbanned.error).toBeNull();
    expect((await newClient().auth.signInWithPassword({ email, password })).error).toBeNull();

    const factors = await admin.mfa.listFactors({ userId: id });
    expect(factors.error).toBeNull();
    expect(factors.data?.factors).toEqual([]);

    const deleted = await admin.deleteUser(id);
    expect(deleted.error).toBeNull();
    const gone = await admin.getUserById(id);
    expect(gone.error).toMatchObject({ status: 404, code: 'user_not_found' });
    const afterDelete = await newClient().auth.signInWithPassword({ email, password });
    expect(afterDelete.error).toMatchObject({ status: 400, code: 'invalid_credentials' });
  });

  test('generateLink makes a working link without mailing it; inviteUserByEmail invites', async () => {
    const admin = adminClient().auth.admin;
    const email = randomEmail();
    const password = randomPassword();
    await admin.createUser({ email, password, email_confirm: true });

    const link = await admin.generateLink({ type: 'magiclink', email });
    expect(link.error).toBeNull();
    expect(link.data.properties).toMatchObject({
      verification_type: 'magiclink',
      action_link: expect.stringContaining('/auth/v1/verify?token='),
    });
    expect(link.data.user?.email).toBe(email);
    const person = newClient();
    const verified = await person.auth.verifyOtp({
      type: 'magiclink',
      token_hash: link.data.properties!.hashed_token,
    });
    expect(verified.error).toBeNull();
    expect(verified.data.session?.user.email).toBe(email);

    const invited = randomEmail();
    const invitation = await admin.inviteUserByEmail(invited, { data: { team: 'red' } });
    expect(invitation.error).toBeNull();
    expect(invitation.data.user).toMatchObject({ email: invited, user_metadata: { team: 'red' } });
    expect((invitation.data.user as { invited_at?: string }).invited_at).toBeTruthy();
    const twice = await admin.inviteUserByEmail(email);
    expect(twice.error).toMatchObject({ status: 422, code: 'email_exists' });
  });

  test('the anon key and a user token are refused with GoTrue codes, not an empty 404', async () => {
    const withAnon = newClient({ apiKey: keys().anon }).auth.admin;
    const listed = await withAnon.listUsers();
    expect(listed.error).toBeInstanceOf(AuthApiError);
    expect(listed.error).toMatchObject({ status: 403, code: 'not_admin', message: 'User not allowed' });
    const created = await withAnon.createUser({ email: randomEmail() });
    expect(created.error).toMatchObject({ status: 403, code: 'not_admin' });

    const email = randomEmail();
    const password = randomPassword();
    const person = newClient();
    const { data } = await person.auth.signUp({ email, password });
    const withUserToken = newClient({ apiKey: data.session!.access_token }).auth.admin;
    const refused = await withUserToken.listUsers();
    expect(refused.error).toMatchObject({ status: 403, code: 'not_admin' });

    const forged = newClient({ apiKey: 'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2ln' }).auth.admin;
    const bad = await forged.listUsers();
    expect(bad.error).toMatchObject({ status: 403, code: 'bad_jwt' });
  });

  test('features this service does not offer answer with GoTrue errors supabase-js can read', async () => {
    const client = newClient();
    const sso = await client.auth.signInWithSSO({ domain: 'example.com' });
    expect(sso.error).toBeInstanceOf(AuthApiError);
    expect(sso.error).toMatchObject({ status: 404, code: 'saml_provider_disabled' });

    const phoneOtp = await client.auth.signInWithOtp({ phone: '+15555550100' });
    expect(phoneOtp.error).toMatchObject({ status: 400, code: 'phone_provider_disabled' });
    const phonePassword = await client.auth.signInWithPassword({
      phone: '+15555550100',
      password: randomPassword(),
    });
    expect(phonePassword.error).toMatchObject({ status: 422, code: 'phone_provider_disabled' });
    const phoneSignUp = await client.auth.signUp({ phone: '+15555550100', password: randomPassword() });
    expect(phoneSignUp.error).toMatchObject({ status: 400, code: 'phone_provider_disabled' });

    const resent = await client.auth.resend({ type: 'signup', email: randomEmail() });
    expect(resent.error).toBeNull();
    const resentSms = await client.auth.resend({ type: 'sms', phone: '+15555550100' });
    expect(resentSms.error).toMatchObject({ status: 400, code: 'phone_provider_disabled' });
    const wrongCode = await client.auth.verifyOtp({ type: 'email', email: randomEmail(), token: '123456' });
    expect(wrongCode.error).toBeInstanceOf(AuthApiError);
    expect(wrongCode.error).toMatchObject({
      status: 403,
      code: 'otp_expired',
      message: 'Token has expired or is invalid',
    });

    const person = newClient();
    await person.auth.signUp({ email: randomEmail(), password: randomPassword() });
    const linked = await person.auth.linkIdentity({ provider: 'github' });
    expect(linked.error).toBeInstanceOf(AuthApiError);
    expect(linked.error).toMatchObject({ status: 404, code: 'manual_linking_disabled' });
  });
});
