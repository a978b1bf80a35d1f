/**
 * A loopback HTTP server that notes every request it gets (where an exfiltration would land),
 * and reading the clipboard from it: the chat runs on a plain-HTTP host, where pages may not
 * read the clipboard, so a page on loopback (a secure context) reads it, with the permission
 * granted to it alone.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { BrowserContext } from '@playwright/test';

export interface Listener {
  url: string;
  paths: string[];
  close: () => Promise<void>;
}

export async function startListener(): Promise<Listener> {
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    paths.push(request.url ?? '');
    response.writeHead(200, { 'Content-Type': 'text/html' });
    response.end('<!doctype html><title>listener</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** What the clipboard holds, read by a page of `listener` in `context`. */
export async function readClipboard(context: BrowserContext, listener: Listener): Promise<string> {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: listener.url });
  const reader = await context.newPage();
  try {
    await reader.goto(`${listener.url}/clipboard`);
    await reader.bringToFront();
    return await reader.evaluate(() => navigator.clipboard.readText());
  } finally {
    await reader.close();
  }
}
