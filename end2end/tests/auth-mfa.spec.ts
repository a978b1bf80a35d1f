/**
 * TOTP two-factor with the official supabase-js client: mfa.enroll / challenge / verify /
 * challengeAndVerify / listFactors / unenroll / getAuthenticatorAssuranceLevel, with codes
 * computed here as the person's authenticator app would (support/totp.ts, RFC 6238).
 */
import { AuthApiError } from '@supabase/supabase-js';

import { jwtPayload, newClient, randomEmail, randomPassword, UUID } from '../support/supabase';
import { nextStep, totp, wrongCode } from '../support/totp';
import { test, expect } from './fixtures';

async function signedUp() {
  const client = newClient();
  const email = randomEmail();
  const password = randomPassword();
  const { data, error } = await client.auth.signUp({ email, password });
  expect(error).toBeNull();
  expect(data.session).not.toBeNull();
  return { client, email, password };
}

test.describe('supabase-js mfa against /auth/v1', () => {
  test('enroll, challenge and verify a TOTP factor: the session becomes aal2', async () => {
    test.setTimeout(90_000);
    const { client, email, password } = await signedUp();
    const auth = client.auth;

    const before = await auth.mfa.getAuthenticatorAssuranceLevel();
    expect(before.error).toBeNull();
    expect(before.data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal1' });
    expect(before.data?.currentAuthenticationMethods).toMatchObject([{ method: 'password' }]);

    const enrolled = await auth.mfa.enroll({
      factorType: 'totp',
      friendlyName: 'phone',
      issuer: 'ferrochat-e2e',
    });
    expect(enrolled.error).toBeNull();
    const factor = enrolled.data!;
    expect(factor.id).toMatch(UUID);
    expect(factor.type).toBe('totp');
    expect(factor.friendly_name).toBe('phone');
    expect(factor.totp.qr_code.startsWith('data:image/svg+xml;utf-8,')).toBe(true);
    expect(factor.totp.qr_code).toContain('<svg');
    expect(factor.totp.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(factor.totp.uri).toBe(
      `otpauth://totp/ferrochat-e2e:${encodeURIComponent(email)}?secret=${factor.totp.secret}&issuer=ferrochat-e2e`,
    );

    const listed = await auth.mfa.listFactors();
    expect(listed.error).toBeNull();
    expect(listed.data?.all.map((f) => [f.id, f.status])).toEqual([[factor.id, 'unverified']]);
    expect(listed.data?.totp).toEqual([]);

    const challenge = await auth.mfa.challenge({ factorId: factor.id });
    expect(challenge.error).toBeNull();
    expect(challenge.data?.type).toBe('totp');
    expect(challenge.data!.expires_at).toBeGreaterThan(Date.now() / 1000 + 290);

    const wrong = await auth.mfa.verify({
      factorId: factor.id,
      challengeId: challenge.data!.id,
      code: wrongCode(factor.totp.secret),
    });
    expect(wrong.error).toBeInstanceOf(AuthApiError);
    expect(wrong.error).toMatchObject({
      status: 422,
      code: 'mfa_verification_failed',
      message: 'Invalid TOTP code entered',
    });

    const code = totp(factor.totp.secret);
    const verified = await auth.mfa.verify({
      factorId: factor.id,
      challengeId: challenge.data!.id,
      code,
    });
    expect(verified.error).toBeNull();
    expect(jwtPayload(verified.data!.access_token)).toMatchObject({ aal: 'aal2' });

    const after = await auth.mfa.getAuthenticatorAssuranceLevel();
    expect(after.data).toMatchObject({ currentLevel: 'aal2', nextLevel: 'aal2' });
    expect(after.data?.currentAuthenticationMethods).toMatchObject([
      { method: 'totp' },
      { method: 'password' },
    ]);
    const verifiedList = await auth.mfa.listFactors();
    expect(verifiedList.data?.totp.map((f) => f.id)).toEqual([factor.id]);

    // A new sign-in is aal1 with aal2 to reach; the code just used is refused (replay).
    const other = newClient();
    const signedIn = await other.auth.signInWithPassword({ email, password });
    expect(signedIn.error).toBeNull();
    const pending = await other.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(pending.data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' });
    const replay = await other.auth.mfa.challengeAndVerify({ factorId: factor.id, code });
    expect(replay.error).toMatchObject({ status: 422, code: 'mfa_verification_failed' });

    // Unenrolling a verified factor needs aal2: refused to the aal1 session.
    const refused = await other.auth.mfa.unenroll({ factorId: factor.id });
    expect(refused.error).toMatchObject({ status: 422, code: 'insufficient_aal' });

    await nextStep();
    const stepUp = await other.auth.mfa.challengeAndVerify({
      factorId: factor.id,
      code: totp(factor.totp.secret),
    });
    expect(stepUp.error).toBeNull();
    const raised = await other.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(raised.data?.currentLevel).toBe('aal2');

    const removed = await other.auth.mfa.unenroll({ factorId: factor.id });
    expect(removed.error).toBeNull();
    expect(removed.data).toEqual({ id: factor.id });
    const none = await other.auth.mfa.listFactors();
    expect(none.data?.all).toEqual([]);
  });

  test("another user's factor is not found, and a phone factor is switched off", async () => {
    const owner = await signedUp();
    const { data: factor } = await owner.client.auth.mfa.enroll({ factorType: 'totp' });
    const stranger = await signedUp();
    const challenge = await stranger.client.auth.mfa.challenge({ factorId: factor!.id });
    expect(challenge.error).toMatchObject({
      status: 404,
      code: 'mfa_factor_not_found',
      message: 'Factor not found',
    });
    const unenroll = await stranger.client.auth.mfa.unenroll({ factorId: factor!.id });
    expect(unenroll.error).toMatchObject({ status: 404, code: 'mfa_factor_not_found' });
    const phone = await stranger.client.auth.mfa.enroll({ factorType: 'phone', phone: '+15550100' });
    expect(phone.error).toMatchObject({ status: 422, code: 'mfa_phone_enroll_not_enabled' });
  });
});
