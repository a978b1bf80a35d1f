/**
 * Starting and stopping ferrochat's release binary behind its reverse proxy, for global-setup.ts
 * (the suite's server) and for tests that need a server of their own with other settings (say a
 * short token lifetime).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { startProxy } from './proxy';
import { PUBLIC_HOST } from './public-host';

/** The repository root (where `target/` is). */
export const repoRoot = resolve(__dirname, '..', '..');

/** A port the OS says is free right now on loopback. */
export function freePort(): Promise<number> {
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

export interface RunningFerrochat {
  /** The public URL, `http://ferrochat.test:<proxy port>`, without a trailing slash. */
  url: string;
  /** Where ferrochat itself listens, `http://127.0.0.1:<port>`: no browser is ever sent there. */
  appUrl: string;
  /** Its fresh data directory (database, dev mailbox `mail/`), shared by its instances. */
  dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its data directory. */
  stop: () => Promise<void>;
}

export interface StartOptions {
  /** Settings added to (or overriding) the defaults below. */
  env?: Record<string, string>;
  /** The port ferrochat listens on; a free one by default. */
  port?: number;
  /** The port of its reverse proxy, part of the public URL; a free one by default. */
  publicPort?: number;
  readyTimeoutMs?: number;
  /**
   * How many instances run behind the proxy, which sends requests to them in turns; by default
   * `FERROCHAT_E2E_INSTANCES`, else 1. They share the data directory and the database: with
   * `DATABASE_URL=postgres://…` in the environment, that Postgres database.
   */
  instances?: number;
}

/**
 * Runs the release build (`target/release/ferrochat`, or `FERROCHAT_BIN`) on loopback with a
 * fresh data directory behind support/proxy.ts, and resolves once `/readyz` answers through the
 * proxy. The defaults are where users live: the public URL `http://ferrochat.test:<proxy port>`
 * (not the listen address), the proxy trusted for `X-Forwarded-For`, ES256 tokens, and every
 * rate limit at its default.
 */
export async function startFerrochat(options: StartOptions = {}): Promise<RunningFerrochat> {
  const binary = process.env.FERROCHAT_BIN ?? join(repoRoot, 'target/release/ferrochat');
  const instances = options.instances ?? Number(process.env.FERROCHAT_E2E_INSTANCES ?? '1');
  const port = options.port ?? (await freePort());
  let publicPort = options.publicPort ?? (await freePort());
  while (publicPort === port) publicPort = await freePort();
  const ports = [port];
  while (ports.length < instances) {
    const another = await freePort();
    if (another !== publicPort && !ports.includes(another)) ports.push(another);
  }
  const appUrl = `http://127.0.0.1:${port}`;
  const url = `http://${PUBLIC_HOST}:${publicPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrochat-e2e-'));
  const start = (listenPort: number) =>
    spawn(binary, [], {
      cwd: repoRoot,
      env: {
        ...process.env,
        LEPTOS_SITE_ADDR: `127.0.0.1:${listenPort}`,
        LEPTOS_SITE_ROOT: join(repoRoot, 'target/site'),
        LEPTOS_ENV: 'PROD',
        FERROCHAT_DATA_DIR: dataDir,
        FERROCHAT_SITE_URL: url,
        // The proxy connects from 127.0.0.1.
        FERROCHAT_TRUSTED_PROXIES: '127.0.0.1',
        FERROCHAT_JWT_ALGORITHM: 'ES256',
        RUST_LOG: process.env.RUST_LOG ?? 'warn',
        ...options.env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  const servers: ChildProcess[] = [];
  const proxy = await startProxy({ port: publicPort, upstreamPorts: ports });
  const stop = async () => {
    await proxy.close();
    await Promise.all(
      servers.map(async (server) => {
        if (server.exitCode === null && server.signalCode === null) {
          const exited = new Promise((done) => server.once('exit', done));
          server.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
          if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
        }
      }),
    );
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    // One after the other, as a rolling deploy starts them: the first creates the schema.
    for (const listenPort of ports) {
      const server = start(listenPort);
      servers.push(server);
      await waitForReady(`http://127.0.0.1:${listenPort}/readyz`, server, options.readyTimeoutMs ?? 30_000);
    }
    // Through the proxy, from the direct address (the public name is unknown to Node's fetch).
    await waitForReady(`http://127.0.0.1:${publicPort}/readyz`, servers[0], options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, appUrl, dataDir, stop };
}

/** The API keys `ferrochat keys` prints for a server. */
export interface ApiKeys {
  anon: string;
  serviceRole: string;
}

/**
 * Runs `ferrochat keys` with the settings of the server at the public `url` whose data directory
 * is `dataDir` (the suite's by default), as an operator would, and reads the printed keys.
 */
export function apiKeys(
  url = process.env.FERROCHAT_URL,
  dataDir = process.env.FERROCHAT_DATA_DIR,
): ApiKeys {
  if (!url || !dataDir) throw new Error('no server: run the suite through global-setup.ts');
  const binary = process.env.FERROCHAT_BIN ?? join(repoRoot, 'target/release/ferrochat');
  const printed = execFileSync(binary, ['keys'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      FERROCHAT_DATA_DIR: dataDir,
      FERROCHAT_SITE_URL: url,
      FERROCHAT_JWT_ALGORITHM: 'ES256',
      RUST_LOG: 'warn',
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const key = (label: string) => {
    const line = printed.split('\n').find((l) => l.startsWith(`${label}: `));
    if (!line) throw new Error(`\`ferrochat keys\` printed no ${label}: ${printed}`);
    return line.slice(label.length + 2).trim();
  };
  return { anon: key('anon key'), serviceRole: key('service_role key') };
}
