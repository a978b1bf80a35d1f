/**
 * Working with conversations in a browser: the sidebar's search finds a word that is only in a
 * message body and marks it; a chat exported as JSON imports back as a new chat with the same
 * messages (and the Markdown export downloads); regenerate and edit the last message; copy a
 * message; delete with an undo. The model is the offline echo. No console errors anywhere.
 */
import { readFile } from 'node:fs/promises';

import type { Page } from '@playwright/test';

import { signedUpOnChat } from '../support/app';
import { readClipboard, startListener } from '../support/loopback-page';
import { test, expect } from './fixtures';

/** The offline echo's first line (src/chat/llm/offline.rs). */
const PREFACE = 'Offline echo — no model is configured, so this repeats your message:';
const CHAT_URL = /\/chat\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function echo(message: string): string {
  return `${PREFACE}\n\n${message}`;
}

async function signUp(page: Page) {
  await signedUpOnChat(page);
  await ready(page);
}

/** Both page scripts have run and the islands have hydrated. */
async function ready(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('html')).toHaveAttribute('data-chat-ready', 'true');
  await expect(page.locator('html')).toHaveAttribute('data-conversations-ready', 'true');
}

function lastAnswer(page: Page) {
  return page.locator('#chat-messages > li.assistant').last();
}

/** Sends `message` and waits for the whole answer. */
async function sendAndWait(page: Page, message: string, shown = message) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(message);
  await input.press('Enter');
  // `shown`: the message as the rendered answer shows it, where it has Markdown.
  await expect(lastAnswer(page).locator('.message-content')).toHaveText(echo(shown));
  await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete');
}

/** The messages on the page as [role, exact text]. */
async function conversation(page: Page): Promise<[string, string][]> {
  return page.locator('#chat-messages > li').evaluateAll((items) =>
    items.map((item) => [
      item.classList.contains('user') ? 'user' : 'assistant',
      (item.querySelector('.message-content') as HTMLElement | null)?.innerText ?? '',
    ]),
  ) as Promise<[string, string][]>;
}

function chatId(page: Page): string {
  return new URL(page.url()).pathname.split('/').pop()!;
}

test('search finds a word that is only in a message body, and marks it', async ({
  page,
  consoleProblems,
}) => {
  await signUp(page);
  // A title is the message's first 60 characters: the word is past them.
  const question = 'Tell me about the small marsupials that live on Rottnest, the quokka';
  await sendAndWait(page, question);
  const id = chatId(page);
  await page.goto('/chat');
  await ready(page);
  await sendAndWait(page, 'Something else entirely');
  await expect(page.locator('#chat-list a').first()).not.toContainText('quokka');

  const search = page.getByRole('searchbox', { name: 'Search your chats' });
  await search.fill('QUOKKA');
  await search.press('Enter');
  await expect(page).toHaveURL(/\?q=QUOKKA$/);
  await ready(page);
  const results = page.locator('#search-results');
  await expect(results.getByRole('status')).toHaveText('1 chat matches “QUOKKA”.');
  const hits = results.getByRole('link');
  await expect(hits).toHaveCount(1);
  await expect(hits).toHaveAttribute('href', `/chat/${id}`);
  // The first message that matched (the question), its word marked; the title did not match.
  await expect(hits.locator('mark')).toHaveText(['quokka']);
  await expect(page.getByRole('searchbox', { name: 'Search your chats' })).toHaveValue('QUOKKA');
  await hits.click();
  await expect(page).toHaveURL(`/chat/${id}`);
  await ready(page);

  // Query syntax is just text.
  await page.goto('/chat?q=' + encodeURIComponent('"NEAR( quokka* -:'));
  await ready(page);
  await expect(page.locator('#search-results').getByRole('link')).toHaveCount(0);
  expect(consoleProblems).toEqual([]);
});

test('a chat exported as JSON imports back as a new chat; Markdown downloads', async ({
  page,
  consoleProblems,
}) => {
  await signUp(page);
  const question = 'Export **me** with <b>markup</b> and `code`';
  await sendAndWait(page, question, 'Export me with <b>markup</b> and code');
  const id = chatId(page);
  await page.reload();
  await ready(page);
  const original = await conversation(page);
  const sidebar = page.getByRole('complementary', { name: 'Your chats' });

  const markdown = page.waitForEvent('download');
  await sidebar.getByRole('link', { name: 'Markdown' }).click();
  const md = await markdown;
  expect(md.suggestedFilename()).toBe('chat-export-me-with-b-markup-b-and-code.md');
  const mdText = await readFile((await md.path())!, 'utf8');
  expect(mdText.startsWith(`# ${question}\n`)).toBe(true);
  expect(mdText).toContain(`## You\n\n${question}\n\n## Answer (offline-echo)\n\n`);

  const json = page.waitForEvent('download');
  await sidebar.getByRole('link', { name: 'JSON' }).click();
  const download = await json;
  expect(download.suggestedFilename()).toBe('chat-export-me-with-b-markup-b-and-code.json');
  const file = (await download.path())!;
  const exported = JSON.parse(await readFile(file, 'utf8'));
  expect(exported.format).toBe('ferrochat.chat');
  expect(JSON.stringify(exported)).not.toContain(id);

  await sidebar.getByText('Import a chat').click();
  await sidebar.getByLabel('JSON export file').setInputFiles(file);
  await expect(sidebar.getByLabel('Paste a JSON export')).not.toHaveValue('');
  await sidebar.getByRole('button', { name: 'Import', exact: true }).click();
  // The page is on a chat already: wait for the move to another one, not for any chat URL.
  await page.waitForURL((url) => CHAT_URL.test(url.href) && !url.pathname.endsWith(id));
  await ready(page);
  expect(await conversation(page)).toEqual(original);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(question);
  expect(await (await page.request.get('/api/sessions')).json()).toHaveLength(2);

  // A file that is not an export is refused with a reason, and nothing is stored.
  await sidebar.getByText('Import a chat').click();
  await sidebar.getByLabel('Paste a JSON export').fill('{"format":"something else"}');
  await sidebar.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(sidebar.getByRole('alert')).toHaveText('That JSON is not a ferrochat chat export.');
  expect(await (await page.request.get('/api/sessions')).json()).toHaveLength(2);
  // The refused import's 400, which the browser logs itself; nothing else.
  expect(consoleProblems).toEqual([
    'error: Failed to load resource: the server responded with a status of 400 (Bad Request)',
  ]);
});

test('regenerate the last answer, edit the last message, copy a message', async ({
  page,
  context,
  consoleProblems,
}) => {
  await signUp(page);
  await sendAndWait(page, 'First question');
  await sendAndWait(page, 'Second question');
  await page.reload();
  await ready(page);
  const before = await conversation(page);

  await page.getByRole('button', { name: 'Regenerate' }).click();
  await expect(page.locator('#chat-messages > li')).toHaveCount(4);
  await ready(page);
  expect(await conversation(page)).toEqual(before);

  await page.getByText('Edit your last message').click();
  await page.getByLabel('Your message').fill('Second question, edited');
  await page.getByRole('button', { name: 'Save and resend' }).click();
  await expect(lastAnswer(page).locator('.message-content')).toHaveText(
    echo('Second question, edited'),
  );
  await ready(page);
  expect(await conversation(page)).toEqual([
    ['user', 'First question'],
    ['assistant', echo('First question')],
    ['user', 'Second question, edited'],
    ['assistant', echo('Second question, edited')],
  ]);

  const first = page.locator('#chat-messages > li').first();
  await first.getByRole('button', { name: 'Copy this message' }).click();
  await expect(first.getByRole('button', { name: 'Copy this message' })).toHaveText('Copied');
  const listener = await startListener();
  try {
    expect(await readClipboard(context, listener)).toBe('First question');
  } finally {
    await listener.close();
  }
  expect(consoleProblems).toEqual([]);
});

test('delete waits for its undo window; undo keeps the chat', async ({ page, consoleProblems }) => {
  test.setTimeout(60_000);
  await signUp(page);
  await sendAndWait(page, 'Keep me around');
  await page.reload();
  await ready(page);
  const sidebar = page.getByRole('complementary', { name: 'Your chats' });
  const item = page.locator('#chat-list li', { hasText: 'Keep me around' });

  await sidebar.getByText('Delete', { exact: true }).click();
  await sidebar.getByRole('button', { name: 'Delete for good' }).click();
  await expect(item).toBeHidden();
  const toasts = page.locator('#toasts');
  await expect(toasts).toHaveAttribute('role', 'status');
  await expect(toasts).toHaveAttribute('aria-live', 'polite');
  await expect(toasts).toContainText('Deleted “Keep me around”.');
  await toasts.getByRole('button', { name: 'Undo' }).click();
  await expect(item).toBeVisible();
  await expect(toasts).toContainText('“Keep me around” was not deleted.');
  // Past the undo window, the chat is still there.
  await page.waitForTimeout(9_000);
  expect(await (await page.request.get('/api/sessions')).json()).toHaveLength(1);

  await sidebar.getByText('Delete', { exact: true }).click();
  await sidebar.getByRole('button', { name: 'Delete for good' }).click();
  await expect(page).toHaveURL(/\/chat$/, { timeout: 20_000 });
  expect(await (await page.request.get('/api/sessions')).json()).toEqual([]);
  expect(consoleProblems).toEqual([]);
});
