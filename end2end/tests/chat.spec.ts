/**
 * The chat in a browser: an answer streams into the page, the chat lands in the sidebar and its
 * history survives a reload; a stop keeps the partial answer, marked stopped; rename and delete
 * (with its confirmation); another user sees the 404 page and gets 404 from the HTTP API for the
 * first user's chat; and without JavaScript the composer is a form that posts and comes back with
 * the whole answer. The model is the offline echo, which streams token by token.
 */
import type { Page } from '@playwright/test';

import {
  expectOnChatAs,
  signInInUi,
  signOutInUi,
  signedUpOnChat,
} from '../support/app';
import { test, expect } from './fixtures';

/** The offline echo's first line (src/chat/llm/offline.rs). */
const PREFACE = 'Offline echo — no model is configured, so this repeats your message:';
const NOT_FOUND = { detail: 'Chat session not found' };
const CHAT_URL = /\/chat\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the echo answers to `message`. */
function echo(message: string): string {
  return `${PREFACE}\n\n${message}`;
}

/** A message of `n` numbered words: the echo streams one word per token. */
function longMessage(n: number): string {
  return Array.from({ length: n }, (_, i) => `word${i + 1}`).join(' ');
}

function composer(page: Page) {
  return {
    input: page.getByLabel('Message', { exact: true }),
    send: page.getByRole('button', { name: 'Send', exact: true }),
    stop: page.getByRole('button', { name: 'Stop', exact: true }),
    model: page.getByLabel('Model'),
    error: page.locator('#composer-error'),
  };
}

function messages(page: Page) {
  return page.locator('#chat-messages > li');
}

function lastAnswer(page: Page) {
  return page.locator('#chat-messages > li.assistant').last();
}

/** The text of the newest answer as shown (innerText: the echo's paragraphs are rendered as
 * Markdown, and a blank line between them reads as one). */
async function lastAnswerText(page: Page): Promise<string> {
  return lastAnswer(page).locator('.message-content').innerText();
}

/** The messages on the page as [role, exact text, status]. */
async function conversation(page: Page): Promise<[string, string, string][]> {
  return messages(page).evaluateAll((items) =>
    items.map((item) => [
      item.classList.contains('user') ? 'user' : 'assistant',
      (item.querySelector('.message-content') as HTMLElement | null)?.innerText ?? '',
      item.getAttribute('data-status') ?? '',
    ]),
  ) as Promise<[string, string, string][]>;
}

/** Sends `message` with Enter and waits for the whole answer. */
async function sendAndWait(page: Page, message: string) {
  const { input } = composer(page);
  await input.fill(message);
  await input.press('Enter');
  await expect.poll(() => lastAnswerText(page)).toBe(echo(message));
  await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete');
}

/** The chat id in the page's address. */
function chatId(page: Page): string {
  return new URL(page.url()).pathname.split('/').pop()!;
}

test.describe('with JavaScript', () => {
  test('an answer streams into a new chat, which joins the sidebar and survives a reload', async ({
    page,
    consoleProblems,
  }) => {
    await signedUpOnChat(page);
    await expect(page.getByText('Not sure where to start? Try one of these:')).toBeVisible();
    const model = composer(page).model;
    await expect(model.locator('option:checked')).toHaveText('Echo (offline) — not an AI');

    // Every distinct text the answer shows, recorded in the page as the DOM changes.
    await page.evaluate(() => {
      const states: string[] = [];
      (window as unknown as { answerStates: string[] }).answerStates = states;
      const list = document.getElementById('chat-messages')!;
      new MutationObserver(() => {
        const answer = list.querySelector<HTMLElement>('li.assistant:last-child .message-content');
        const text = answer?.innerText ?? '';
        if (text && states[states.length - 1] !== text) states.push(text);
      }).observe(list, { subtree: true, childList: true, characterData: true });
    });

    const question = 'Please say "hello" back to me, word by word';
    const { input, send, stop } = composer(page);
    await input.fill(question);
    await input.press('Enter');
    // While it streams: no second send, a stop button.
    await expect(send).toBeDisabled();
    await expect(stop).toBeVisible();
    await expect(page).toHaveURL(CHAT_URL);
    await expect.poll(() => lastAnswerText(page)).toBe(echo(question));
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete');
    await expect(stop).toBeHidden();
    await expect(input).toHaveValue('');
    // Send waits for the next words (chat-ui.spec.ts).
    await expect(send).toBeDisabled();
    await expect(page.getByText('Not sure where to start?')).toHaveCount(0);

    const states = await page.evaluate(
      () => (window as unknown as { answerStates: string[] }).answerStates,
    );
    // Streamed, not shown whole: at least two partial answers before the last one. How many of
    // the ~20 words show as separate states depends on the machine (a busy browser renders several
    // tokens in one frame: 10 states were seen on a loaded CI run), so this counts no more.
    expect(
      states.length,
      `the answer grew in steps: ${JSON.stringify(states)}`,
    ).toBeGreaterThanOrEqual(3);
    expect(states[states.length - 1]).toBe(echo(question));
    for (const state of states) expect(echo(question).startsWith(state)).toBe(true);

    const id = chatId(page);
    const current = page.locator('#chat-list a[aria-current="page"]');
    await expect(current).toHaveText(question);
    await expect(current).toHaveAttribute('href', `/chat/${id}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(question);

    await page.reload();
    expect(await conversation(page)).toEqual([
      ['user', question, 'complete'],
      ['assistant', echo(question), 'complete'],
    ]);
    await expect(page.locator('#chat-list a[aria-current="page"]')).toHaveText(question);
    await expect(page).toHaveTitle(`${question} · ferrochat`);

    // A second message in the same chat streams too, and the history keeps both exchanges.
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await sendAndWait(page, 'And a second one');
    await expect(page).toHaveURL(`/chat/${id}`);
    await page.reload();
    expect((await conversation(page)).map(([role, text]) => [role, text])).toEqual([
      ['user', question],
      ['assistant', echo(question)],
      ['user', 'And a second one'],
      ['assistant', echo('And a second one')],
    ]);
    expect(consoleProblems).toEqual([]);
  });

  test('stop keeps the partial answer, marked stopped, after a reload too; Esc stops as well', async ({
    page,
  }) => {
    await signedUpOnChat(page);
    const question = longMessage(200);
    const { input, stop, send } = composer(page);
    await input.fill(question);
    await input.press('Enter');
    await expect.poll(() => lastAnswerText(page)).toContain('word3 ');
    await stop.click();
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'stopped');
    await expect(lastAnswer(page).locator('.message-status')).toHaveText('Stopped');
    await expect(stop).toBeHidden();
    await input.fill('Next');
    await expect(send).toBeEnabled();
    const partial = await lastAnswerText(page);
    expect(partial.length).toBeLessThan(echo(question).length);
    expect(echo(question).startsWith(partial)).toBe(true);

    await page.reload();
    expect(await conversation(page)).toEqual([
      ['user', question, 'complete'],
      ['assistant', partial, 'stopped'],
    ]);
    await expect(lastAnswer(page).locator('.message-status')).toHaveText('Stopped');

    // Esc in the composer stops the next answer.
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await input.fill(question);
    await input.press('Enter');
    await expect.poll(() => lastAnswerText(page)).toContain('word3 ');
    await input.press('Escape');
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'stopped');
    const second = await lastAnswerText(page);
    expect(second.length).toBeLessThan(echo(question).length);
    await page.reload();
    expect((await conversation(page)).map(([, , status]) => status)).toEqual([
      'complete',
      'stopped',
      'complete',
      'stopped',
    ]);
  });

  test('a second send while an answer streams is refused in words', async ({ page }) => {
    await signedUpOnChat(page);
    await sendAndWait(page, 'First');
    const id = chatId(page);
    // Another client (a second tab, say) starts a long answer in the same chat.
    const other = page.request.post(`/api/sessions/${id}`, {
      data: { messages: [{ role: 'user', content: longMessage(200) }] },
    });
    await expect
      .poll(async () => (await (await page.request.get(`/api/sessions/${id}`)).json()).length)
      .toBe(4);
    const { input } = composer(page);
    await input.fill('Me too');
    await input.press('Enter');
    await expect(composer(page).error).toHaveText(
      'An answer is still being written in this chat. Stop it or wait for it to finish.',
    );
    // Nothing of the refused message stays on the page; its text is given back.
    await expect(input).toHaveValue('Me too');
    await expect(messages(page)).toHaveCount(2);
    expect((await page.request.post(`/api/sessions/${id}/stop`)).status()).toBe(200);
    await other;
  });

  test('rename and delete, with a confirmation, from the sidebar', async ({ page }) => {
    await signedUpOnChat(page);
    await sendAndWait(page, 'Plans for the trip');
    const id = chatId(page);
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    const sidebar = page.getByRole('complementary', { name: 'Your chats' });

    await sidebar.getByText('Rename', { exact: true }).click();
    const title = sidebar.getByLabel('New title');
    await expect(title).toHaveValue('Plans for the trip');
    await title.fill('   ');
    await sidebar.getByRole('button', { name: 'Save' }).click();
    await expect(sidebar.getByRole('alert')).toHaveText('A title needs at least one character.');
    await title.fill('  Trip to   Lisbon ');
    await sidebar.getByRole('button', { name: 'Save' }).click();
    await expect(page.locator('#chat-list a[aria-current="page"]')).toHaveText('Trip to Lisbon');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Trip to Lisbon');
    const listed = await (await page.request.get('/api/sessions')).json();
    expect(listed.map((s: { id: string; title: string }) => [s.id, s.title])).toEqual([
      [id, 'Trip to Lisbon'],
    ]);

    await sidebar.getByText('Delete', { exact: true }).click();
    await expect(
      sidebar.getByText('Delete “Trip to Lisbon” and all of its messages?'),
    ).toBeVisible();
    await sidebar.getByRole('button', { name: 'Delete for good' }).click();
    // With JavaScript the deletion waits for its undo window (chat-conversations.spec.ts).
    await expect(page).toHaveURL(/\/chat$/, { timeout: 20_000 });
    await expect(sidebar.getByText('No chats yet.')).toBeVisible();
    await expect(page.locator('#chat-list li')).toHaveCount(0);
    expect(await (await page.request.get('/api/sessions')).json()).toEqual([]);
    const gone = await page.goto(`/chat/${id}`);
    expect(gone?.status()).toBe(404);
  });

  test("another user gets the 404 page and 404 from the API for the first user's chat", async ({
    page,
  }) => {
    const ada = await signedUpOnChat(page);
    const question = 'My private question';
    await composer(page).input.fill(question);
    await composer(page).input.press('Enter');
    await expect.poll(() => lastAnswerText(page)).toBe(echo(question));
    const id = chatId(page);
    const adaMessages = await (await page.request.get(`/api/sessions/${id}`)).json();
    expect(adaMessages.map((m: { content: string }) => m.content)).toEqual([
      question,
      echo(question),
    ]);
    await signOutInUi(page);

    await signedUpOnChat(page);
    const response = await page.goto(`/chat/${id}`);
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    await expect(page.getByText(question)).toHaveCount(0);
    const unknown = await page.goto(`/chat/${crypto.randomUUID()}`);
    expect(unknown?.status()).toBe(404);

    const calls = [
      page.request.get(`/api/sessions/${id}`),
      page.request.post(`/api/sessions/${id}`, {
        data: { sessionId: id, messages: [{ role: 'user', content: 'Let me in' }] },
      }),
      page.request.patch(`/api/sessions/${id}/title`, { data: { title: 'Mine now' } }),
      page.request.delete(`/api/sessions/${id}`),
      page.request.post(`/api/sessions/${id}/stop`),
    ];
    for (const call of calls) {
      const reply = await call;
      expect(reply.status(), reply.url()).toBe(404);
      expect(await reply.json()).toEqual(NOT_FOUND);
    }
    expect(await (await page.request.get('/api/sessions')).json()).toEqual([]);

    await signOutInUi(page);
    await signInInUi(page, ada);
    await expectOnChatAs(page, ada.email);
    expect(await (await page.request.get(`/api/sessions/${id}`)).json()).toEqual(adaMessages);
    const listed = await (await page.request.get('/api/sessions')).json();
    expect(listed.map((s: { id: string; title: string }) => [s.id, s.title])).toEqual([
      [id, question],
    ]);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the composer posts, and the page comes back with the whole answer', async ({ page }) => {
    await signedUpOnChat(page, { js: false });
    // An example prompt fills the composer.
    await page.getByRole('link', { name: 'Write a haiku about the first snow of the year.' }).click();
    await expect(composer(page).input).toHaveValue(
      'Write a haiku about the first snow of the year.',
    );

    await composer(page).input.fill('Hello without scripts');
    await composer(page).send.click();
    await expect(page).toHaveURL(CHAT_URL);
    expect(await conversation(page)).toEqual([
      ['user', 'Hello without scripts', 'complete'],
      ['assistant', echo('Hello without scripts'), 'complete'],
    ]);
    await expect(page.locator('#chat-list a[aria-current="page"]')).toHaveText(
      'Hello without scripts',
    );
    const url = page.url();

    await composer(page).input.fill('A second message');
    await composer(page).send.click();
    await expect(page).toHaveURL(url);
    expect(await conversation(page)).toEqual([
      ['user', 'Hello without scripts', 'complete'],
      ['assistant', echo('Hello without scripts'), 'complete'],
      ['user', 'A second message', 'complete'],
      ['assistant', echo('A second message'), 'complete'],
    ]);

    // A blank message comes back refused, in words.
    await composer(page).input.fill('   ');
    await composer(page).send.click();
    await expect(composer(page).error).toHaveText('Type a message first.');
    await expect(messages(page)).toHaveCount(4);
  });

  test('rename and delete work as plain posts', async ({ page }) => {
    await signedUpOnChat(page, { js: false });
    await composer(page).input.fill('To be renamed');
    await composer(page).send.click();
    await expect(page).toHaveURL(CHAT_URL);
    const sidebar = page.getByRole('complementary', { name: 'Your chats' });
    await sidebar.getByText('Rename', { exact: true }).click();
    await sidebar.getByLabel('New title').fill('Renamed');
    await sidebar.getByRole('button', { name: 'Save' }).click();
    await expect(page.locator('#chat-list a[aria-current="page"]')).toHaveText('Renamed');
    await sidebar.getByText('Delete', { exact: true }).click();
    await sidebar.getByRole('button', { name: 'Delete for good' }).click();
    await expect(page).toHaveURL(/\/chat$/);
    await expect(sidebar.getByText('No chats yet.')).toBeVisible();
  });
});
