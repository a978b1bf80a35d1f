/**
 * A real OpenID Connect provider on loopback, for the OAuth tests: panva's `oidc-provider`
 * (the certified Node implementation) with its built-in development login and consent pages.
 *
 * One confidential client is registered:
 *   client_id `ferrochat`, client_secret `ferrochat-test-secret`, the given redirect_uris,
 *   token_endpoint_auth_method `client_secret_post` (oidc-provider also accepts HTTP Basic for a
 *   client registered with either secret method), response type `code`, PKCE (S256 only)
 *   accepted but not required, scopes `openid email profile`.
 *
 * Any login typed into the login form is an account: `sub` is the login itself, `email`
 * `<login>@example.test` (verified), `name` the login capitalised. The password is not checked.
 * The id token carries these claims itself (`conformIdTokenClaims: false`), so a relying party
 * does not need the userinfo endpoint (`/me`) to learn the email.
 *
 * The provider's pages, as a browser sees them (oidc-provider 8 `devInteractions`):
 *   - login, at `<issuer>/interaction/<uid>`: a form with a text input `name="login"`
 *     (placeholder "Enter any login"), a password input `name="password"` (placeholder
 *     "and password", required but ignored) and the submit button "Sign-in";
 *   - consent, at the same address after login: a form with the single submit button "Continue".
 * A browser that already signed in at the provider in the same context (session cookie
 * `op_session`) and consented skips both pages. `loginAtProvider` handles either case.
 *
 * `oidc-provider` is ESM-only and its version 9 requires Node 22; version 8 supports Node 20.
 * It is loaded with a dynamic `import()`, so that importing this module (for instance from a
 * spec, for `loginAtProvider`) does not load the provider.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';

import { expect, type Page } from '@playwright/test';
import type { Configuration } from 'oidc-provider';

export const OIDC_CLIENT_ID = 'ferrochat';
export const OIDC_CLIENT_SECRET = 'ferrochat-test-secret';

export interface OidcProviderOptions {
  /** The loopback port to listen on. */
  port: number;
  /** The redirect URIs registered for the `ferrochat` client. */
  redirectUris: string[];
}

export interface RunningOidcProvider {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  issuer: string;
  close: () => Promise<void>;
}

/** The email the provider gives the account `login`. */
export function providerEmail(login: string): string {
  return `${login}@example.test`;
}

/** The display name the provider gives the account `login`. */
export function providerName(login: string): string {
  return login.charAt(0).toUpperCase() + login.slice(1);
}

/** Starts the provider; resolves once it listens. */
export async function startOidcProvider({
  port,
  redirectUris,
}: OidcProviderOptions): Promise<RunningOidcProvider> {
  const { default: Provider } = await import('oidc-provider');
  const issuer = `http://127.0.0.1:${port}`;

  // A fresh signing key per run; `alg` is in the JWK so relying parties need not guess it.
  // Generated as PEM and imported as a key of its own before the export: exporting the
  // generated key object itself as a JWK can deadlock Node 20 (a garbage collection during the
  // export destroys the key-generation job, which locks the key's mutex that the export holds;
  // it hung the suite's global setup once, with no output).
  const { privateKey: pem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKey = createPrivateKey(pem);
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: `test-${randomBytes(6).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };

  const configuration: Configuration = {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: OIDC_CLIENT_SECRET,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: providerEmail(sub),
            email_verified: true,
            name: providerName(sub),
          };
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'email', 'profile'],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => false },
    jwks: { keys: [signingKey] },
    cookies: {
      keys: [randomBytes(32).toString('hex')],
      // Cookies are per host, not per port: ferrochat on the same 127.0.0.1 must not see
      // names it could mistake for its own.
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
      // The default SameSite=None cookie needs Secure, which plain-HTTP loopback cannot set.
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    features: {
      devInteractions: { enabled: true },
    },
    // Explicit lifetimes (seconds), so oidc-provider does not print a notice for each default.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>oidc-provider error</title></head><body>
<h1>oidc-provider error</h1><pre>${escapeHtml(JSON.stringify(out, null, 2))}</pre></body></html>`;
    },
  };

  const provider = withoutDevWarnings(() => new Provider(issuer, configuration));

  // The dev pages pull a web font from the internet: keep the browser on loopback.
  provider.use(async (ctx, next) => {
    await next();
    if (typeof ctx.body === 'string' && ctx.type === 'text/html') {
      ctx.body = ctx.body.replace(/@import url\(https?:[^)]*\);?/g, '');
      ctx.set('Content-Security-Policy', "default-src 'self'; style-src 'unsafe-inline'; form-action *");
    }
  });

  // What went wrong at the provider is the first thing to know when an OAuth test fails.
  for (const event of ['server_error', 'grant.error', 'authorization.error', 'userinfo.error']) {
    provider.on(event, (_ctx: unknown, error: Error & { error_description?: string }) => {
      console.warn(`[oidc-provider] ${event}: ${error.message} ${error.error_description ?? ''}`);
    });
  }

  const server: Server = createServer(provider.callback());
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done());
  });

  return {
    issuer,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

/**
 * Completes the provider's pages in `page` as the account `login`: fills and submits the login
 * form if it is shown, clicks "Continue" on the consent page if it is shown, and returns once the
 * browser has left the provider (its origin is the issuer's). `page` must already be on its way
 * to the provider (for instance after `page.goto` of a `/auth/v1/authorize` URL).
 */
export async function loginAtProvider(page: Page, login: string, issuer = requireIssuer()) {
  const atProvider = () => new URL(page.url()).origin === issuer;
  const loginInput = page.locator('input[name="login"]');
  const consentButton = page.getByRole('button', { name: 'Continue' });
  // At most a login page and a consent page; a session at the provider skips them.
  for (let shown = 0; shown < 2 && atProvider(); shown++) {
    const before = page.url();
    await expect(
      loginInput.or(consentButton),
      `the provider shows its login or consent page at ${before}`,
    ).toBeVisible();
    if (await loginInput.isVisible()) {
      await loginInput.fill(login);
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
    } else {
      await consentButton.click();
    }
    // Each page is a new interaction at a new address, or the redirect back to the client.
    await page.waitForURL((url) => url.href !== before, { waitUntil: 'commit' });
  }
  expect(atProvider(), `the browser left the provider, now at ${page.url()}`).toBe(false);
}

/** The issuer global-setup.ts started. */
export function requireIssuer(): string {
  const issuer = process.env.OIDC_ISSUER;
  if (!issuer) throw new Error('OIDC_ISSUER is not set: run the suite through global-setup.ts');
  return issuer;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Runs `make` with oidc-provider's start-up warnings about its development-only defaults
 * (dev interactions, in-memory adapter) silenced: they are the point here. Other warnings pass.
 */
function withoutDevWarnings<T>(make: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (String(args[0] ?? '').includes('oidc-provider WARNING')) return;
    warn(...args);
  };
  try {
    return make();
  } finally {
    console.warn = warn;
  }
}
