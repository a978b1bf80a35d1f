/**
 * Starting and stopping ferrochat's release binary, for global-setup.ts (the suite's server) and
 * for tests that need a server of their own with other settings (say a short token lifetime).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  /** Its fresh data directory (database, dev mailbox `mail/`). */
  dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its data directory. */
  stop: () => Promise<void>;
}

export interface StartOptions {
  /** Settings added to (or overriding) the defaults below. */
  env?: Record<string, string>;
  /** A port to listen on; a free one by default. */
  port?: number;
  readyTimeoutMs?: number;
}

/**
 * Runs the release build (`target/release/ferrochat`, or `FERROCHAT_BIN`) on loopback with a
 * fresh data directory, and resolves once `/readyz` answers. The defaults are the suite's: ES256
 * tokens, the site URL of the listener, and a sign-in rate limit no test run reaches (every test
 * signs in from 127.0.0.1: the default per-IP limit would throttle the suite, not a person).
 */
export async function startFerrochat(options: StartOptions = {}): Promise<RunningFerrochat> {
  const binary = process.env.FERROCHAT_BIN ?? join(repoRoot, 'target/release/ferrochat');
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrochat-e2e-'));
  const server = spawn(binary, [], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: join(repoRoot, 'target/site'),
      LEPTOS_ENV: 'PROD',
      FERROCHAT_DATA_DIR: dataDir,
      FERROCHAT_SITE_URL: url,
      FERROCHAT_JWT_ALGORITHM: 'ES256',
      FERROCHAT_RATE_LIMIT_SIGN_IN: '10000',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((done) => server.once('exit', done));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await waitForReady(`${url}/readyz`, server, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, dataDir, stop };
}
