/**
 * The suite's public host name, and Node-side clients that reach it the way people do.
 *
 * Ferrochat runs behind support/proxy.ts at `http://ferrochat.test:<proxy port>`, a name no DNS
 * knows. Chromium maps it with `--host-resolver-rules` (`RESOLVE_PUBLIC_HOST`); Node-side clients
 * (supabase-js, raw API calls, Playwright's request API) resolve it here, keeping the `Host`
 * header a browser would send.
 *
 * Node-side clients also connect from addresses of their own (`127.0.<worker>.<n>`), one per
 * client, as separate people would: everything a browser does comes from 127.0.0.1, and
 * ferrochat's default per-address limits (30 sign-ins per 5 minutes) are meant for one person,
 * not for the whole suite. No limit is raised for the tests.
 */
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { request } from 'node:http';
import { Readable } from 'node:stream';

/** The host name ferrochat is reached at: not the address it listens on. */
export const PUBLIC_HOST = 'ferrochat.test';

/** Chromium's launch argument that maps the public host to its reverse proxy on loopback. */
export const RESOLVE_PUBLIC_HOST = `--host-resolver-rules=MAP ${PUBLIC_HOST} 127.0.0.1`;

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** `dns.lookup` that knows `ferrochat.test` is 127.0.0.1, as a hosts file would say. */
export function publicLookup(hostname: string, options: LookupOptions, callback: LookupCallback) {
  if (hostname.toLowerCase() !== PUBLIC_HOST) {
    (dns.lookup as (...args: unknown[]) => void)(hostname, options, callback);
    return;
  }
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}

let resolving = false;

/**
 * Makes every lookup of this process know `ferrochat.test`, the way an `/etc/hosts` line would:
 * for clients that take no `lookup` of their own (Playwright's request API, Node's `fetch`).
 */
export function resolvePublicHostInThisProcess() {
  if (resolving) return;
  resolving = true;
  const lookup = dns.lookup;
  const lookupAsync = dns.promises.lookup;
  const known = (hostname: string) => hostname.toLowerCase() === PUBLIC_HOST;
  const patched = (hostname: string, options: unknown, callback?: unknown) => {
    const [opts, done] =
      typeof options === 'function' ? [{}, options] : [options ?? {}, callback];
    if (!known(hostname)) {
      return (lookup as (...args: unknown[]) => void)(hostname, opts, done);
    }
    const all = typeof opts === 'object' && (opts as LookupOptions).all;
    setImmediate(() =>
      all
        ? (done as LookupCallback)(null, [{ address: '127.0.0.1', family: 4 }])
        : (done as LookupCallback)(null, '127.0.0.1', 4),
    );
  };
  (dns as { lookup: unknown }).lookup = patched;
  (dns.promises as { lookup: unknown }).lookup = (hostname: string, options?: LookupOptions) =>
    known(hostname)
      ? Promise.resolve(
          options?.all ? [{ address: '127.0.0.1', family: 4 }] : { address: '127.0.0.1', family: 4 },
        )
      : lookupAsync(hostname, options ?? {});
}

let nextClient = 0;

/**
 * A loopback address for the next Node-side client: `127.0.<10 + worker>.<1..250>`, so that
 * clients of different test workers never share one and no client is 127.0.0.1 (the browsers'
 * and the proxy's).
 */
export function nextClientAddress(): string {
  const worker = Number(process.env.TEST_WORKER_INDEX ?? 0) % 200;
  nextClient = (nextClient % 250) + 1;
  return `127.0.${10 + worker}.${nextClient}`;
}

/**
 * A `fetch` for Node-side clients: node:http with {@link publicLookup}, connecting from
 * `localAddress` (a fresh {@link nextClientAddress} by default). Redirects are not followed:
 * the auth API answers JSON, and tests that want a redirect look at it.
 */
export function publicFetch(localAddress = nextClientAddress()): typeof fetch {
  return async (input, init) => {
    const asked = input instanceof Request ? input : new Request(input, init);
    const url = new URL(asked.url);
    if (url.protocol !== 'http:') throw new TypeError(`publicFetch speaks http only: ${url}`);
    const headers: Record<string, string> = {};
    asked.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = asked.body ? Buffer.from(await asked.arrayBuffer()) : undefined;
    if (body) headers['content-length'] = String(body.length);
    return new Promise<Response>((done, fail) => {
      const outgoing = request(
        {
          host: url.hostname,
          port: url.port || 80,
          path: `${url.pathname}${url.search}`,
          method: asked.method,
          headers,
          localAddress,
          lookup: publicLookup as never,
          signal: asked.signal,
        },
        (incoming) => {
          const answer = new Headers();
          for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
            answer.append(incoming.rawHeaders[i], incoming.rawHeaders[i + 1]);
          }
          const status = incoming.statusCode ?? 502;
          const empty = [204, 205, 304].includes(status) || asked.method === 'HEAD';
          if (empty) incoming.resume();
          done(
            new Response(empty ? null : (Readable.toWeb(incoming) as ReadableStream), {
              status,
              statusText: incoming.statusMessage,
              headers: answer,
            }),
          );
        },
      );
      outgoing.on('error', fail);
      outgoing.end(body);
    });
  };
}
