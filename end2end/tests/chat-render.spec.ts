/**
 * Answers rendered on the server (src/chat/render), in a browser: a table, highlighted Rust
 * with a copy button that puts the code on the clipboard, inline and display math as MathML;
 * hostile payloads rendered inert, a remote image fetched only once the reader clicks its
 * link; a 5 MB message refused in words with nothing stored. The model is the offline echo,
 * which answers with the message itself, so a message is the answer's Markdown.
 */
import type { Page } from '@playwright/test';

import { signedUpOnChat } from '../support/app';
import { readClipboard, startListener } from '../support/loopback-page';
import { test, expect } from './fixtures';

// The echo streams these long answers a word at a time, and five megabytes in a textarea make
// every step slower: three times the usual time.
test.slow();

async function signUp(page: Page) {
  await signedUpOnChat(page);
  await expect(page.locator('html')).toHaveAttribute('data-chat-ready', 'true');
}

function lastAnswer(page: Page) {
  return page.locator('#chat-messages > li.assistant').last();
}

/** Sends `message` with Enter and waits until its answer is complete. */
async function sendAndWait(page: Page, message: string) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(message);
  await input.press('Enter');
  await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete');
}

const RUST = 'fn main() {\n    let answer = 42; // the answer\n    println!("{answer}");\n}';

const RICH = [
  '| Crate | Use |',
  '|---|---|',
  '| serde | JSON |',
  '| tokio | async |',
  '',
  '```rust',
  RUST,
  '```',
  '',
  'Euler: $e^{i\\pi} + 1 = 0$ and \\(a^2 + b^2\\).',
  '',
  '$$\\int_0^1 x\\,dx = \\frac{1}{2}$$',
  '',
  '\\[',
  '\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}',
  '\\]',
  '',
  'It costs $5 and $10.',
].join('\n');

/** What the rendered answer shows, checked after streaming and again after a reload. */
async function expectRich(page: Page) {
  const answer = lastAnswer(page);
  await expect(answer.locator('table th')).toHaveText(['Crate', 'Use']);
  await expect(answer.locator('table td')).toHaveText(['serde', 'JSON', 'tokio', 'async']);
  await expect(answer.locator('.code-language')).toHaveText('rust');
  const keyword = answer.locator('pre code span.hl-storage', { hasText: /^fn$/ });
  await expect(keyword).toHaveCount(1);
  const comment = answer.locator('pre code span.hl-comment.hl-line');
  await expect(comment).toContainText('the answer');
  // Highlighted: the keyword, the comment and plain code have three different colours.
  const colours = await Promise.all(
    [keyword, comment, answer.locator('pre code')].map((l) =>
      l.evaluate((node) => getComputedStyle(node).color),
    ),
  );
  expect(new Set(colours).size, colours.join(' / ')).toBe(3);
  await expect(answer.locator('math')).toHaveCount(4);
  await expect(answer.locator('math[display="block"]')).toHaveCount(2);
  await expect(answer.locator('math mfrac')).toHaveCount(2);
  await expect(answer.locator('math msup').first()).toBeVisible();
  await expect(answer.locator('p', { hasText: 'It costs' })).toHaveText('It costs $5 and $10.');
}

test('an answer shows a table, highlighted Rust that copies, and math as MathML', async ({
  page,
  context,
  consoleProblems,
}) => {
  const listener = await startListener();
  try {
    await signUp(page);
    await sendAndWait(page, RICH);
    await expectRich(page);

    // Exactly "Copy": the code block's button, not the message's "Copy this message".
    const copy = lastAnswer(page).getByRole('button', { name: 'Copy', exact: true });
    await copy.click();
    await expect(lastAnswer(page).locator('.code-copy')).toHaveText('Copied');
    expect((await readClipboard(context, listener)).trimEnd()).toBe(RUST);
    await expect(lastAnswer(page).locator('.code-copy')).toHaveText('Copy');

    // A saved answer is rendered the same way on the server.
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-chat-ready', 'true');
    await expectRich(page);
    expect(consoleProblems).toEqual([]);
  } finally {
    await listener.close();
  }
});

test('hostile payloads are inert, and a remote image is fetched only when clicked', async ({
  page,
  consoleProblems,
}) => {
  const listener = await startListener();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  try {
    await signUp(page);
    const leak = `${listener.url}/leak?secret=1`;
    const hostile = [
      `<img src=${listener.url}/img onerror="window.pwned='img'">`,
      `<script>window.pwned='script'</script>`,
      `[js link](javascript:window.pwned='link')`,
      `[JS link](JaVaScRiPt&#58;window.pwned='entity')`,
      `[vb link](vbscript:msgbox(1))`,
      `![leak](${leak})`,
      `<a href="data:text/html,<script>alert(1)</script>">data link</a>`,
      `[md data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
      `<svg onload="window.pwned='svg'"><script>window.pwned='svg script'</script></svg>`,
      `<iframe src="${listener.url}/frame"></iframe>`,
      `<style>body { display: none }</style>`,
      `<form action="${listener.url}/form"><button>Submit</button></form>`,
    ].join('\n\n');

    const inert = async () => {
      const answer = lastAnswer(page).locator('.message-content');
      // Raw HTML is shown as the text it is.
      await expect(answer).toContainText(`<script>window.pwned='script'</script>`);
      await expect(answer).toContainText('<svg onload=');
      for (const tag of ['img', 'script', 'svg', 'iframe', 'style', 'form', 'object', 'embed']) {
        await expect(answer.locator(tag), tag).toHaveCount(0);
      }
      await expect(answer.locator('[onerror], [onload], [onclick], [style]')).toHaveCount(0);
      for (const name of ['js link', 'JS link', 'vb link', 'md data link']) {
        const link = answer.getByText(name, { exact: true });
        await expect(link, name).toHaveCount(1);
        expect(await link.getAttribute('href'), name).toBeNull();
      }
      // Every link left goes to the web, in a new tab, without referrer or opener.
      const links = await answer.locator('a[href]').evaluateAll((nodes) =>
        nodes.map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel')]),
      );
      expect(links).toEqual([[leak, '_blank', 'noopener noreferrer nofollow']]);
      expect(await page.evaluate(() => (window as unknown as { pwned?: string }).pwned)).toBeUndefined();
    };

    await sendAndWait(page, hostile);
    await inert();
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-chat-ready', 'true');
    await inert();
    // Give a late request time to arrive: none may have reached the listener.
    await page.waitForTimeout(300);
    expect(listener.paths).toEqual([]);

    // The image is a link that says where it would be fetched from; a click opens it.
    const image = lastAnswer(page).getByRole('link', { name: 'Show image from 127.0.0.1: leak' });
    const popup = page.waitForEvent('popup');
    await image.click();
    await (await popup).waitForLoadState();
    // (The new tab also asks the listener for its favicon.)
    await expect.poll(() => listener.paths.filter((path) => path !== '/favicon.ico')).toEqual([
      '/leak?secret=1',
    ]);
    expect(dialogs).toEqual([]);
    expect(consoleProblems).toEqual([]);
  } finally {
    await listener.close();
  }
});

test('a 5 MB message is refused in words, given back, and nothing is stored', async ({
  page,
  consoleProblems,
}) => {
  await signUp(page);
  const input = page.getByLabel('Message', { exact: true });
  const huge = 'x'.repeat(5 * 1024 * 1024);
  // Typed text stops at the textarea's limit; a script (or a paste handler) can go past it.
  await input.evaluate((node, value) => ((node as HTMLTextAreaElement).value = value), huge);
  await input.press('Enter');
  await expect(page.locator('#composer-error')).toHaveText(
    'That message is too long: the limit is 32000 characters.',
  );
  // The text is given back whole; then the page is lightened for the checks that follow.
  expect(await input.evaluate((node) => (node as HTMLTextAreaElement).value === 'x'.repeat(5 * 1024 * 1024))).toBe(true);
  await input.fill('');
  await expect(page.locator('#chat-messages > li')).toHaveCount(0);
  await expect(page).toHaveURL(/\/chat$/);
  const sessions = await page.request.get('/api/sessions');
  expect(sessions.status()).toBe(200);
  expect(await sessions.json()).toEqual([]);
  // 413 is a refused request, which Chromium logs on its own.
  expect(consoleProblems.filter((p) => !p.includes('413'))).toEqual([]);
});
