/**
 * The server's dev mailbox: without SMTP, ferrochat writes each email to
 * `<FERROCHAT_DATA_DIR>/mail/<nanos>-<to>.eml` as `To:`, `Subject:`, a blank line, the text and
 * the link on a line of its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from '@playwright/test';

/** The data directory global-setup.ts gave the suite's server. */
export function dataDir(): string {
  const dir = process.env.FERROCHAT_DATA_DIR;
  if (!dir) throw new Error('FERROCHAT_DATA_DIR is not set: run the suite through global-setup.ts');
  return dir;
}

export interface Mail {
  file: string;
  to: string;
  subject: string;
  text: string;
  /** The first line of the body that starts with `http`. */
  link: string | undefined;
}

function parse(file: string): Mail {
  const raw = readFileSync(file, 'utf8');
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const header = (name: string) =>
    head
      .split(/\r?\n/)
      .find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))
      ?.slice(name.length + 1)
      .trim() ?? '';
  const text = rest.join('\n\n');
  const link = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => line.startsWith('http'));
  return { file, to: header('To'), subject: header('Subject'), text, link };
}

/** Every message in the mailbox addressed to `to` (case-insensitive), oldest first. */
export function mailTo(to: string, dir = dataDir()): Mail[] {
  const mailDir = join(dir, 'mail');
  let names: string[];
  try {
    names = readdirSync(mailDir).filter((name) => name.endsWith('.eml'));
  } catch {
    return [];
  }
  return names
    .sort()
    .map((name) => parse(join(mailDir, name)))
    .filter((mail) => mail.to.toLowerCase() === to.toLowerCase());
}

/** Waits (bounded) until `to` has a message, and returns the newest. */
export async function waitForMail(to: string, timeoutMs = 10_000, dir = dataDir()): Promise<Mail> {
  let newest: Mail | undefined;
  await expect
    .poll(
      () => {
        newest = mailTo(to, dir).at(-1);
        return newest !== undefined;
      },
      { message: `an email to ${to} in ${join(dir, 'mail')}`, timeout: timeoutMs },
    )
    .toBe(true);
  return newest!;
}
