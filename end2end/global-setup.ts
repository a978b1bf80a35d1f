import { freePort, startFerrochat } from './support/ferrochat';
import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, startOidcProvider } from './support/oidc-provider';

/**
 * Runs the release build of ferrochat (what `cargo leptos build --release` made) for the whole
 * suite, with a real OpenID Connect provider beside it (support/oidc-provider.ts) as its `oidc`
 * sign-in provider. Hands both to the tests through FERROCHAT_URL and OIDC_ISSUER, and the
 * server's data directory (its dev mailbox is `<dir>/mail`) through FERROCHAT_DATA_DIR; returns
 * the teardown, which stops both.
 */
export default async function globalSetup() {
  const port = await freePort();
  let oidcPort = await freePort();
  while (oidcPort === port) oidcPort = await freePort();
  const url = `http://127.0.0.1:${port}`;

  const oidc = await startOidcProvider({
    port: oidcPort,
    redirectUris: [`${url}/auth/v1/callback`],
  });
  let server;
  try {
    server = await startFerrochat({
      port,
      env: {
        FERROCHAT_OIDC_ISSUER: oidc.issuer,
        FERROCHAT_OIDC_CLIENT_ID: OIDC_CLIENT_ID,
        FERROCHAT_OIDC_CLIENT_SECRET: OIDC_CLIENT_SECRET,
      },
    });
  } catch (error) {
    await oidc.close();
    throw error;
  }
  process.env.FERROCHAT_URL = server.url;
  process.env.FERROCHAT_DATA_DIR = server.dataDir;
  process.env.OIDC_ISSUER = oidc.issuer;
  return async () => {
    await server.stop();
    await oidc.close();
  };
}
