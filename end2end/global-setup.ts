import { freePort, startFerrochat } from './support/ferrochat';
import { PUBLIC_HOST } from './support/public-host';
import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, startOidcProvider } from './support/oidc-provider';

/**
 * Runs the release build of ferrochat (what scripts/build-site.sh made) for the whole
 * suite where users live: behind a reverse proxy (support/proxy.ts) at the public URL
 * `http://ferrochat.test:<proxy port>`, with a real OpenID Connect provider beside it
 * (support/oidc-provider.ts) as its `oidc` sign-in provider, which knows only the public callback.
 * Hands them to the tests through FERROCHAT_URL (the public URL), FERROCHAT_APP_URL (the listen
 * address, which no browser should ever see) and OIDC_ISSUER, and the server's data directory
 * (its dev mailbox is `<dir>/mail`) through FERROCHAT_DATA_DIR; returns the teardown.
 */
export default async function globalSetup() {
  const publicPort = await freePort();
  let oidcPort = await freePort();
  while (oidcPort === publicPort) oidcPort = await freePort();
  const url = `http://${PUBLIC_HOST}:${publicPort}`;

  const oidc = await startOidcProvider({
    port: oidcPort,
    redirectUris: [`${url}/auth/v1/callback`],
  });
  let server;
  try {
    server = await startFerrochat({
      publicPort,
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
  process.env.FERROCHAT_APP_URL = server.appUrl;
  process.env.FERROCHAT_DATA_DIR = server.dataDir;
  process.env.OIDC_ISSUER = oidc.issuer;
  return async () => {
    await server.stop();
    await oidc.close();
  };
}
