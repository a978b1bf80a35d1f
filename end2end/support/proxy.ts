/**
 * The proxies of the suite's network, node:http only, bodies piped both ways (never buffered, so
 * server-sent events and other long responses pass as they come):
 *
 * - {@link startProxy}, the reverse proxy in front of ferrochat, as production has one: browsers
 *   reach the public host name (`ferrochat.test`) on its port, and ferrochat sees every request
 *   arrive from 127.0.0.1, which it is told to trust (`FERROCHAT_TRUSTED_PROXIES`). It behaves
 *   like Caddy's `reverse_proxy`: `Host` passes through unchanged, the client's address is
 *   appended to `X-Forwarded-For` (so entries a client forged stay in front of it), and
 *   `X-Forwarded-Proto` / `X-Forwarded-Host` are set.
 * - {@link startEgress}, one person's own way out to the internet: a forward proxy a browser
 *   context is configured with, which connects on from an address of that person's. Chromium
 *   cannot choose the address it connects from, so without it every browser of the suite would
 *   be one person (127.0.0.1) to ferrochat's per-address limits.
 */
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestOptions,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import { pipeline } from 'node:stream';

import { PUBLIC_HOST, publicLookup } from './public-host';

/** Headers about one connection rather than the message (RFC 9110 §7.6.1); not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface RunningProxy {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  close: () => Promise<void>;
}

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

/** The headers to send upstream: the client's, plus what a proxy says about the client. */
function forwardedHeaders(headers: IncomingHttpHeaders, peer: string): IncomingHttpHeaders {
  const forwarded = withoutHopByHop(headers);
  const earlier = headers['x-forwarded-for'];
  forwarded['x-forwarded-for'] = earlier ? `${earlier}, ${peer}` : peer;
  forwarded['x-forwarded-proto'] = 'http';
  if (headers.host) forwarded['x-forwarded-host'] = headers.host;
  return forwarded;
}

/**
 * Sends `incoming` on as `options` say, and streams the answer back to `outgoing`. An upstream
 * failure is logged (a real proxy's error log; a test that fails on it shows why): before the
 * answer's headers it becomes a 502, after them the client's connection is cut, as Caddy does, so
 * that a truncated answer never reads as a complete one (nor hangs the client).
 */
function relay(incoming: IncomingMessage, outgoing: ServerResponse, options: RequestOptions) {
  // Set when the client went away first: what that does to the upstream side is no failure.
  let clientGone = false;
  const failed = (error: Error) => {
    if (clientGone) return;
    console.error(
      `[proxy] ${options.method} ${options.path} to ${options.host}:${options.port} failed ` +
        `${outgoing.headersSent ? 'after' : 'before'} the answer's headers: ${error.message}`,
    );
  };
  const upstream = request(options, (answer) => {
    outgoing.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHop(answer.headers));
    // Each chunk as it comes: an event stream must not wait for the end.
    outgoing.flushHeaders();
    pipeline(answer, outgoing, (error) => {
      if (error) failed(error);
    });
  });
  upstream.on('error', (error) => {
    failed(error);
    if (outgoing.headersSent) {
      outgoing.destroy(error);
    } else {
      outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`upstream failed: ${error.message}`);
    }
  });
  // A client that goes away takes its upstream request with it.
  outgoing.on('close', () => {
    if (outgoing.writableFinished) return;
    clientGone = true;
    upstream.destroy();
  });
  incoming.pipe(upstream);
}

/** Serves `handle` on 127.0.0.1:`port` (0: any free port). */
async function serve(
  port: number,
  handle: (incoming: IncomingMessage, outgoing: ServerResponse) => void,
  tunnel?: (incoming: IncomingMessage, client: Socket, head: Buffer) => void,
): Promise<RunningProxy> {
  const server: Server = createServer(handle);
  // Caddy's idle timeout (5 min), not Node's 5 s: with Node's, a client that paused for 5 s
  // between two requests (a test busy computing, a machine busy elsewhere) could send its next
  // request on a connection at the moment the proxy closes it, and get ECONNRESET, a failure no
  // user behind a real proxy sees.
  server.keepAliveTimeout = 5 * 60_000;
  if (tunnel) server.on('connect', tunnel);
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
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

/**
 * Starts the reverse proxy on 127.0.0.1:`port`, in front of ferrochat at 127.0.0.1:`upstreamPorts`:
 * with more than one, requests take turns (round robin, each request on its own), as a load
 * balancer in front of several instances does.
 */
export function startProxy({
  port,
  upstreamPorts,
}: {
  port: number;
  upstreamPorts: number[];
}): Promise<RunningProxy> {
  let next = 0;
  return serve(port, (incoming, outgoing) => {
    const peer = (incoming.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const upstreamPort = upstreamPorts[next];
    next = (next + 1) % upstreamPorts.length;
    relay(incoming, outgoing, {
      host: '127.0.0.1',
      port: upstreamPort,
      // The proxy's own address: the one ferrochat trusts.
      localAddress: '127.0.0.1',
      method: incoming.method,
      path: incoming.url,
      headers: forwardedHeaders(incoming.headers, peer),
    });
  });
}

/**
 * Starts a forward proxy on a free port of 127.0.0.1 that takes requests for the public host
 * (`http://ferrochat.test:<port>/…` or a `CONNECT` tunnel to it) on from `localAddress`,
 * headers untouched. Anything else is refused: tests only talk to loopback.
 */
export function startEgress(localAddress: string): Promise<RunningProxy> {
  return serve(0, forwardTo(localAddress), tunnelFrom(localAddress));
}

/** A plain forward-proxy request (`GET http://host/path`), as Chromium sends them. */
function forwardTo(localAddress: string) {
  return (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const target = URL.canParse(incoming.url ?? '') ? new URL(incoming.url!) : undefined;
    if (target?.protocol !== 'http:' || target.hostname !== PUBLIC_HOST) {
      outgoing.writeHead(403, { 'content-type': 'text/plain' });
      outgoing.end(`this proxy only reaches http://${PUBLIC_HOST}`);
      return;
    }
    relay(incoming, outgoing, {
      host: target.hostname,
      port: target.port || 80,
      localAddress,
      lookup: publicLookup as RequestOptions['lookup'],
      method: incoming.method,
      path: `${target.pathname}${target.search}`,
      headers: withoutHopByHop(incoming.headers),
    });
  };
}

/** A `CONNECT host:port` tunnel, as Playwright's request API asks for even for http. */
function tunnelFrom(localAddress: string) {
  return (incoming: IncomingMessage, client: Socket, head: Buffer) => {
    const target = URL.canParse(`http://${incoming.url}`) ? new URL(`http://${incoming.url}`) : undefined;
    if (target?.hostname !== PUBLIC_HOST) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect({
      host: target.hostname,
      port: Number(target.port || 80),
      localAddress,
      lookup: publicLookup as never,
    });
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  };
}
