/**
 * The official Supabase client, pointed at ferrochat's embedded auth service, and small tools
 * for tests of the GoTrue API at `${FERROCHAT_URL}/auth/v1`.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { publicFetch } from './public-host';

/** The server global-setup.ts started, without a trailing slash. */
export function ferrochatUrl(): string {
  const url = process.env.FERROCHAT_URL;
  if (!url) throw new Error('FERROCHAT_URL is not set: run the suite through global-setup.ts');
  return url.replace(/\/$/, '');
}

/** Where the suite's server listens: no browser or client should ever be sent there. */
export function appUrl(): string {
  const url = process.env.FERROCHAT_APP_URL;
  if (!url) throw new Error('FERROCHAT_APP_URL is not set: run the suite through global-setup.ts');
  return url.replace(/\/$/, '');
}

/** The auth service's base, as supabase-js calls it and as the tokens name their issuer. */
export function authUrl(): string {
  return `${ferrochatUrl()}/auth/v1`;
}

/** A fresh address nobody has signed up with: `u-<random>@example.test`. */
export function randomEmail(): string {
  return `u-${randomBytes(8).toString('hex')}@example.test`;
}

/** A fresh password of 20 characters. */
export function randomPassword(): string {
  return `pw-${randomBytes(12).toString('base64url')}`;
}

/** A fresh login at the OIDC provider, so tests running in parallel never share an account. */
export function randomLogin(prefix = 'user'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** supabase-js's storage, kept in memory and open to the test. */
export class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

export interface RecordedRequest {
  method: string;
  url: URL;
}

export interface TestClient {
  supabase: SupabaseClient;
  auth: SupabaseClient['auth'];
  storage: MemoryStorage;
  storageKey: string;
  /** Every request the client sent, in order. */
  requests: RecordedRequest[];
  /** The PKCE verifier supabase-js stored for the flow in progress, if any. */
  codeVerifier(): string | null;
}

export interface ClientOptions {
  /**
   * supabase-js's default `implicit` is fine for password sign-ins; flows that come back through
   * a redirect (OAuth, email links) need `pkce`: the service refuses the implicit flow unless
   * `FERROCHAT_AUTH_IMPLICIT_FLOW` is on.
   */
  flowType?: 'implicit' | 'pkce';
  /** Another server than the suite's (see startFerrochat), by its public URL. */
  url?: string;
  /** The loopback address to connect from; a fresh one by default: one person per client. */
  localAddress?: string;
  /** The API key the client is made with (`createClient(url, key)`); any string by default. */
  apiKey?: string;
}

/**
 * A new supabase-js client with its own in-memory storage and storage key (so also its own
 * JWKS cache, which supabase-js keeps per storage key), never refreshing on its own, reaching the
 * public URL from an address of its own.
 */
export function newClient(options: ClientOptions = {}): TestClient {
  const storage = new MemoryStorage();
  const storageKey = `sb-e2e-${randomUUID()}`;
  const requests: RecordedRequest[] = [];
  const send = publicFetch(options.localAddress);
  const recordingFetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    requests.push({ method: method.toUpperCase(), url });
    return send(input, init);
  };
  const supabase = createClient(options.url ?? ferrochatUrl(), options.apiKey ?? 'any-anon-key', {
    auth: {
      storage,
      storageKey,
      persistSession: true,
      autoRefreshToken: false,
      detectSessionInUrl: false,
      flowType: options.flowType ?? 'implicit',
    },
    // Node 20 has no global WebSocket: without a transport, creating the client throws.
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
    global: { fetch: recordingFetch },
  });
  return {
    supabase,
    auth: supabase.auth,
    storage,
    storageKey,
    requests,
    codeVerifier() {
      const stored = storage.getItem(`${storageKey}-code-verifier`);
      return stored ? (JSON.parse(stored) as string).split('/')[0] : null;
    },
  };
}

/** The payload of a JWT, unverified. */
export function jwtPayload(token: string): Record<string, unknown> {
  return jwtPart(token, 1);
}

/** The header of a JWT, unverified. */
export function jwtHeader(token: string): Record<string, unknown> {
  return jwtPart(token, 0);
}

function jwtPart(token: string, index: number): Record<string, unknown> {
  const part = token.split('.')[index];
  if (!part) throw new Error(`not a JWT: ${token.slice(0, 20)}…`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * A raw JSON request to the auth service, as supabase-js would send it, without its client:
 * from `localAddress` (a fresh address by default), to the server at `url` (the suite's).
 */
export async function authApi(
  path: string,
  init: {
    method?: string;
    body?: unknown;
    accessToken?: string;
    localAddress?: string;
    url?: string;
  } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {
    apikey: 'any-anon-key',
    'X-Supabase-Api-Version': '2024-01-01',
  };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json;charset=UTF-8';
  if (init.accessToken) headers.Authorization = `Bearer ${init.accessToken}`;
  const base = init.url ? `${init.url}/auth/v1` : authUrl();
  const response = await publicFetch(init.localAddress)(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { unparsed: text };
  }
  return { status: response.status, body };
}

/**
 * The error code of a GoTrue error body: `code` in the 2024-01-01 API version, `error_code` in
 * the older shape (where `code` is the HTTP status). auth-js reads both.
 */
export function errorCode(body: Record<string, unknown>): unknown {
  return typeof body.error_code === 'string' ? body.error_code : body.code;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
