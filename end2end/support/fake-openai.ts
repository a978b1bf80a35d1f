/**
 * A tiny OpenAI-compatible model provider on loopback whose answers break off: it answers
 * `POST /v1/chat/completions` with `text/event-stream`, writes one `data:` event per token in
 * OpenAI's chunk shape, then destroys the connection without `[DONE]` or a `finish_reason`, as a
 * provider that crashes (or a network that drops) mid-answer does.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BrokenOffProvider {
  /** `http://127.0.0.1:<port>/v1`, what `OPENAI_BASE_URL` is set to. */
  baseUrl: string;
  /** The JSON bodies of the completion requests it received, in order. */
  requests: Record<string, unknown>[];
  close: () => Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    request.on('error', fail);
  });
}

/** `data: {json}\n\n` with one token, as OpenAI writes each chunk of a streamed answer. */
function tokenEvent(token: string): string {
  return `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: token }, finish_reason: null }] })}\n\n`;
}

/** Starts a provider that writes `tokens` and then cuts every answer's connection. */
export async function startBrokenOffProvider(tokens: string[]): Promise<BrokenOffProvider> {
  const requests: Record<string, unknown>[] = [];
  const server = createServer(async (request, response) => {
    // The whole request is read first: closing a socket with unread data would reset it, and
    // the tokens already sent could be lost on the way instead of arriving before the cut.
    const body = await readBody(request);
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    requests.push(JSON.parse(body) as Record<string, unknown>);
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (tokens.length === 0) response.socket?.destroy();
    tokens.forEach((token, index) => {
      const last = index === tokens.length - 1;
      // Once the last event is handed to the kernel, the connection goes, mid-body.
      response.write(tokenEvent(token), last ? () => response.socket?.destroy() : undefined);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
