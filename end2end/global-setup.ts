import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, startOidcProvider } from './support/oidc-provider';

const root = resolve(__dirname, '..');

/** A port the OS says is free right now on loopback. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function waitForReady(url: string, server: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`ferrochat exited early with ${server.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ferrochat was not ready at ${url} within ${timeoutMs} ms`);
}

/**
 * Runs the release build of ferrochat (what `cargo leptos build --release` made) for the whole
 * suite, with a real OpenID Connect provider beside it (support/oidc-provider.ts) as its `oidc`
 * sign-in provider. Hands both to the tests through FERROCHAT_URL and OIDC_ISSUER; returns the
 * teardown, which stops both.
 */
export default async function globalSetup() {
  const binary = process.env.FERROCHAT_BIN ?? join(root, 'target/release/ferrochat');
  const port = await freePort();
  let oidcPort = await freePort();
  while (oidcPort === port) oidcPort = await freePort();
  const url = `http://127.0.0.1:${port}`;

  const oidc = await startOidcProvider({
    port: oidcPort,
    redirectUris: [`${url}/auth/v1/callback`],
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrochat-e2e-'));
  const server = spawn(binary, [], {
    cwd: root,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: join(root, 'target/site'),
      LEPTOS_ENV: 'PROD',
      FERROCHAT_DATA_DIR: dataDir,
      FERROCHAT_SITE_URL: url,
      FERROCHAT_JWT_ALGORITHM: 'ES256',
      FERROCHAT_OIDC_ISSUER: oidc.issuer,
      FERROCHAT_OIDC_CLIENT_ID: OIDC_CLIENT_ID,
      FERROCHAT_OIDC_CLIENT_SECRET: OIDC_CLIENT_SECRET,
      // Every test signs up and in from 127.0.0.1: the per-IP sign-in limit (30 per five
      // minutes by default) would throttle the suite, not a person.
      FERROCHAT_RATE_LIMIT_SIGN_IN: '10000',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  const teardown = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((done) => server.once('exit', done));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    await oidc.close();
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await waitForReady(`${url}/readyz`, server, 30_000);
  } catch (error) {
    await teardown();
    throw error;
  }
  process.env.FERROCHAT_URL = url;
  process.env.OIDC_ISSUER = oidc.issuer;
  return teardown;
}
