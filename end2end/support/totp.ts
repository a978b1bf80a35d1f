/**
 * RFC 6238 TOTP codes (SHA-1, 30-second steps, 6 digits: what GoTrue and authenticator apps use),
 * computed with node:crypto, for tests that play the person's authenticator app.
 */
import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The code of the base32 `secret` at `unixSeconds` (now by default). */
export function totp(secret: string, unixSeconds = Math.floor(Date.now() / 1000)): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, '0');
}

/** A code that is not the current one (nor the one either side). */
export function wrongCode(secret: string): string {
  const now = Math.floor(Date.now() / 1000);
  const taken = new Set([-30, 0, 30].map((skew) => totp(secret, now + skew)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * Waits for the next 30-second step when the current one is about to end, so that a code
 * computed now is still current when the server checks it, and a second code of the same
 * factor is of a new step (each code is accepted once). At most 31 seconds.
 */
export async function freshStep(): Promise<void> {
  const intoStep = (Date.now() / 1000) % 30;
  if (intoStep > 25) await new Promise((resolve) => setTimeout(resolve, (30 - intoStep + 0.5) * 1000));
}

/** Waits until the next 30-second step has begun (a new code): at most 30 seconds. */
export async function nextStep(): Promise<void> {
  const intoStep = (Date.now() / 1000) % 30;
  await new Promise((resolve) => setTimeout(resolve, (30 - intoStep + 0.5) * 1000));
}
