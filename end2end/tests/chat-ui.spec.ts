/**
 * The chat's composer, keys, focus and small-screen layout (issue #11, "Working with
 * conversations"): the box grows, a counter appears near the server's limit, Send waits for
 * words, the draft of each chat survives a reload and goes once sent; the window follows a
 * streaming answer unless the person scrolled up, and "Jump to latest" follows again; Ctrl/Cmd+K,
 * Ctrl/Cmd+Shift+O, Esc, Enter and Shift+Enter; labels, the live region, focus rings and where
 * focus goes; at 375 px wide nothing scrolls sideways, the composer is in reach and the sidebar is
 * a drawer (with and without JavaScript); and no chat page logs an error or a hydration warning.
 * The model is the offline echo, which streams one word per token.
 */
import type { ConsoleMessage, Page } from '@playwright/test';

import { signOutInUi, signedUpOnChat } from '../support/app';
import { test, expect, waitForHydration } from './fixtures';

/** The offline echo's first line (src/chat/llm/offline.rs). */
const PREFACE = 'Offline echo — no model is configured, so this repeats your message:';
const CHAT_URL = /\/chat\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The server's limit (MAX_MESSAGE_CHARS in src/chat/types.rs). */
const LIMIT = 32_000;
/** A phone's viewport, as the issue asks. */
const PHONE = { width: 375, height: 700 };

function echo(message: string): string {
  return `${PREFACE}\n\n${message}`;
}

/** `n` numbered lines: a tall answer (two tokens a line). */
function lines(n: number): string {
  return Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n');
}

function composer(page: Page) {
  return {
    input: page.getByRole('textbox', { name: 'Message', exact: true }),
    send: page.getByRole('button', { name: 'Send', exact: true }),
    stop: page.getByRole('button', { name: 'Stop', exact: true }),
    count: page.locator('#composer-count'),
    jump: page.getByRole('button', { name: 'Jump to latest' }),
  };
}

function lastAnswer(page: Page) {
  return page.locator('#chat-messages > li.assistant').last();
}

/** The newest answer's text as shown (innerText: answers are rendered Markdown). */
async function lastAnswerText(page: Page): Promise<string> {
  return lastAnswer(page).locator('.message-content').innerText();
}

/** `text` with its white space collapsed, as rendered Markdown shows a paragraph's line breaks. */
function shown(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

async function sendAndWait(page: Page, message: string) {
  await composer(page).input.fill(message);
  await composer(page).input.press('Enter');
  await expect.poll(async () => shown(await lastAnswerText(page))).toBe(shown(echo(message)));
  await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete');
}

/** Sets the box's text as a paste would, past maxlength too (it limits typing, not scripts). */
async function setText(page: Page, text: string) {
  await composer(page).input.evaluate((box: HTMLTextAreaElement, value) => {
    box.value = value;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

/** The window's scroll position: how far from the bottom, and from the top. */
async function scrollState(page: Page) {
  return page.evaluate(() => {
    const root = document.scrollingElement!;
    return {
      top: root.scrollTop,
      fromBottom: root.scrollHeight - root.scrollTop - root.clientHeight,
    };
  });
}

/** Whether the page scrolls sideways: the document is wider than the window. */
async function horizontalOverflow(page: Page) {
  return page.evaluate(() => ({
    scrollWidth: document.scrollingElement!.scrollWidth,
    innerWidth: window.innerWidth,
  }));
}

/** The draft entries in localStorage, as key → text. */
async function drafts(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() =>
    Object.fromEntries(
      Object.entries(localStorage).filter(([key]) => key.startsWith('ferrochat:draft:')),
    ),
  );
}

/** The sidebar's search box (src/chat/pages/search.rs). */
function searchBox(page: Page) {
  return page.getByRole('searchbox', { name: 'Search your chats', exact: true });
}

test.describe('with JavaScript', () => {
  // Each test signs up and waits for whole answers, some of them long.
  test.describe.configure({ timeout: 60_000 });
  test('the composer grows, counts near the limit, and Send waits for words', async ({ page }) => {
    await signedUpOnChat(page);
    const { input, send, count } = composer(page);
    await expect(input).toBeFocused();
    // Blank, then only whitespace: nothing to send.
    await expect(send).toBeDisabled();
    await input.fill('  \n\t  ');
    await expect(send).toBeDisabled();
    await input.fill('Hi');
    await expect(send).toBeEnabled();
    await expect(count).toBeHidden();

    // It grows with its text, up to a point, then scrolls inside.
    const height = async () => (await input.boundingBox())!.height;
    const small = await height();
    await input.fill(lines(8));
    const taller = await height();
    expect(taller).toBeGreaterThan(small + 50);
    await input.fill(lines(200));
    const capped = await height();
    const viewport = page.viewportSize()!.height;
    expect(capped).toBeLessThanOrEqual(viewport * 0.4 + 1);
    expect(await input.evaluate((box) => box.scrollHeight > box.clientHeight)).toBe(true);
    await input.fill('');
    expect(await height()).toBeLessThanOrEqual(small + 1);

    // The counter: from nine tenths of the limit on, in characters as the server counts them.
    await setText(page, 'x'.repeat(28_799));
    await expect(count).toBeHidden();
    await setText(page, 'x'.repeat(28_800));
    await expect(count).toBeVisible();
    await expect(count).toHaveText('3,200 characters left');
    await expect(input).toHaveAttribute('aria-describedby', 'composer-count');
    await setText(page, 'x'.repeat(LIMIT - 1));
    await expect(count).toHaveText('1 character left');
    await setText(page, 'x'.repeat(LIMIT));
    await expect(count).toHaveText('0 characters left');
    await expect(send).toBeEnabled();
    await setText(page, 'x'.repeat(LIMIT + 1));
    await expect(count).toHaveText('1 character over the limit of 32,000');
    await expect(send).toBeDisabled();
    // An emoji is one character to the server, two UTF-16 units to JavaScript.
    await setText(page, '😀'.repeat(30_000));
    await expect(count).toHaveText('2,000 characters left');
    await expect(send).toBeEnabled();

    // The server agrees: 30,000 emoji are accepted, one character over the limit is refused.
    await send.click();
    await expect(page).toHaveURL(CHAT_URL);
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
    await setText(page, 'x'.repeat(LIMIT + 1));
    await input.press('Enter');
    await expect(page.locator('#composer-error')).toHaveText(
      'That message is too long: the limit is 32000 characters.',
    );
    await expect(input).toHaveValue('x'.repeat(LIMIT + 1));
    await expect(page.locator('#chat-messages > li')).toHaveCount(2);
  });

  test('the draft of each chat survives a reload, is gone once sent, and is not the next person’s', async ({
    page,
  }) => {
    await signedUpOnChat(page);
    const { input } = composer(page);
    await input.fill('A draft for a new chat');
    // A fresh navigation, not a reload: the browser's own form restoration plays no part.
    await page.goto('/chat');
    await expect(input).toHaveValue('A draft for a new chat');

    await input.press('Enter');
    await expect(page).toHaveURL(CHAT_URL);
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete');
    await expect(input).toHaveValue('');
    expect(await drafts(page)).toEqual({});
    const chat = page.url();
    await page.goto(chat);
    await expect(input).toHaveValue('');

    // Each chat keeps its own.
    await input.fill('Half a thought for this chat');
    await page.goto('/chat');
    await expect(input).toHaveValue('');
    await input.fill('Something else entirely');
    await page.goto(chat);
    await expect(input).toHaveValue('Half a thought for this chat');
    await page.reload();
    expect(Object.values(await drafts(page))).toContain('Half a thought for this chat');
    await expect(input).toHaveValue('Half a thought for this chat');
    await page.goto('/chat');
    await expect(input).toHaveValue('Something else entirely');

    // A refused message stays a draft; a sent one does not.
    await page.goto(chat);
    await setText(page, 'x'.repeat(LIMIT + 1));
    await input.press('Enter');
    await expect(page.locator('#composer-error')).toHaveText(
      'That message is too long: the limit is 32000 characters.',
    );
    await page.goto(chat);
    await expect(input).toHaveValue('x'.repeat(LIMIT + 1));
    await sendAndWait(page, 'Sent at last');
    await page.goto(chat);
    await expect(input).toHaveValue('');
    expect(Object.values(await drafts(page))).toEqual(['Something else entirely']);

    // Someone else signing in on the same browser does not see it.
    await signOutInUi(page);
    await signedUpOnChat(page);
    await expect(composer(page).input).toHaveValue('');
  });

  test('the window follows the answer; scrolled up, “Jump to latest” follows again', async ({
    page,
  }) => {
    await page.setViewportSize({ width: 900, height: 600 });
    await signedUpOnChat(page);
    const { input, jump } = composer(page);
    await input.fill(lines(150));
    await input.press('Enter');
    await expect.poll(() => lastAnswerText(page)).toContain('line 20\n');
    // Following: the newest words stay at the bottom of the window.
    await expect.poll(async () => (await scrollState(page)).fromBottom).toBeLessThanOrEqual(48);
    await expect(jump).toBeHidden();

    // The person scrolls up to read: the window stays, the button appears.
    await page.mouse.move(450, 300);
    await page.mouse.wheel(0, -400);
    await expect(jump).toBeVisible();
    const readingAt = (await scrollState(page)).top;
    const seen = (await lastAnswerText(page)).length;
    await expect.poll(async () => (await lastAnswerText(page)).length).toBeGreaterThan(seen + 100);
    expect((await scrollState(page)).top).toBe(readingAt);
    expect((await scrollState(page)).fromBottom).toBeGreaterThan(100);
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'streaming');

    // The button goes to the bottom and follows again, as the answer goes on.
    await jump.click();
    await expect(jump).toBeHidden();
    await expect(input).toBeFocused();
    const after = (await lastAnswerText(page)).length;
    await expect.poll(async () => (await lastAnswerText(page)).length).toBeGreaterThan(after + 100);
    expect((await scrollState(page)).fromBottom).toBeLessThanOrEqual(48);
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
    expect((await scrollState(page)).fromBottom).toBeLessThanOrEqual(48);

    // A chat opens at its newest messages, with the button where it is not.
    await page.reload();
    await expect.poll(async () => (await scrollState(page)).fromBottom).toBeLessThanOrEqual(48);
    await expect(jump).toBeHidden();
    await page.evaluate(() => window.scrollTo(0, 0));
    await expect(jump).toBeVisible();
    // Scrolling back down by hand hides it too.
    await page.evaluate(() => window.scrollTo(0, document.scrollingElement!.scrollHeight));
    await expect(jump).toBeHidden();
  });

  test('keys: Enter, Shift+Enter, Ctrl/Cmd+K, Ctrl/Cmd+Shift+O, Esc; focus goes back to the composer', async ({
    page,
  }) => {
    await signedUpOnChat(page);
    const { input, stop, send } = composer(page);
    await expect(input).toBeFocused();

    // Shift+Enter starts a new line, Enter sends; focus comes back once the answer is written.
    await input.pressSequentially('first line');
    await input.press('Shift+Enter');
    await input.pressSequentially('second line');
    await expect(input).toHaveValue('first line\nsecond line');
    await expect(page.locator('#chat-messages > li')).toHaveCount(0);
    await input.press('Enter');
    await expect.poll(async () => shown(await lastAnswerText(page))).toBe(shown(echo('first line\nsecond line')));
    await expect(input).toBeFocused();
    const chat = page.url();

    // Records whether the page took a key away from the browser.
    await page.evaluate(() => {
      const w = window as unknown as { taken: string[] };
      w.taken = [];
      window.addEventListener('keydown', (event) => {
        if (event.defaultPrevented) w.taken.push(event.key);
      });
    });
    const taken = () => page.evaluate(() => (window as unknown as { taken: string[] }).taken);

    // Ctrl/Cmd+K: the sidebar's search box.
    const search = searchBox(page);
    await input.press('Control+k');
    await expect(search).toBeFocused();
    await input.focus();
    await input.press('Meta+k');
    await expect(search).toBeFocused();
    expect(await taken()).toEqual(['k', 'k']);

    // Esc stops the answer wherever focus is.
    await input.fill(lines(150));
    await input.press('Enter');
    await expect.poll(() => lastAnswerText(page)).toContain('line 3\n');
    await page.getByRole('heading', { level: 1 }).click();
    await expect(input).not.toBeFocused();
    await page.keyboard.press('Escape');
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'stopped');
    await expect(stop).toBeHidden();
    await expect(input).toBeFocused();
    // Nothing to stop: Esc does nothing harmful.
    await page.keyboard.press('Escape');
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'stopped');

    // Ctrl/Cmd+Shift+O: a new chat, with the composer focused.
    await page.keyboard.press('Control+Shift+O');
    await expect(page).toHaveURL(/\/chat$/);
    await expect(composer(page).input).toBeFocused();
    await expect(page.locator('#chat-messages > li')).toHaveCount(0);
    await page.goto(chat);
    await page.keyboard.press('Meta+Shift+O');
    await expect(page).toHaveURL(/\/chat$/);
    await expect(send).toBeDisabled();
  });

  test('labels, roles, the live region, the skeleton and visible focus rings', async ({ page }) => {
    await signedUpOnChat(page);
    const { input, send } = composer(page);
    await expect(page.getByRole('complementary', { name: 'Your chats' })).toBeVisible();
    await expect(page.getByRole('combobox', { name: 'Model' })).toBeVisible();
    const log = page.getByRole('log');
    await expect(log).toHaveAttribute('aria-live', 'polite');
    await expect(log).toHaveAttribute('id', 'chat-messages');

    // The answer is held back from screen readers until it is whole; until its first word a
    // skeleton shows. The streaming request is held for a moment to see it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/api\/sessions\/[^/]+$/, async (route) => {
      await held;
      await route.continue();
    });
    await input.fill('Hello there');
    await input.press('Enter');
    const answer = lastAnswer(page);
    await expect(answer).toHaveAttribute('aria-busy', 'true');
    const skeleton = () =>
      answer
        .locator('.message-content')
        .evaluate((content) => getComputedStyle(content, '::before').content);
    expect(await skeleton()).toBe('""');
    release();
    await expect.poll(async () => shown(await lastAnswerText(page))).toBe(shown(echo('Hello there')));
    await expect(answer).toHaveAttribute('data-status', 'complete');
    await expect(answer).not.toHaveAttribute('aria-busy');
    expect(await skeleton()).toBe('none');

    // A keyboard user sees where focus is.
    const ring = (locator: ReturnType<Page['locator']>) =>
      locator.evaluate((node) => {
        const style = getComputedStyle(node);
        return `${style.outlineStyle} ${style.outlineWidth}`;
      });
    await page.getByRole('link', { name: 'New chat' }).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'New chat' })).toBeFocused();
    expect(await ring(page.getByRole('link', { name: 'New chat' }))).toBe('solid 2px');
    await input.fill('Ready');
    await input.press('Tab');
    await expect(page.getByRole('combobox', { name: 'Model' })).toBeFocused();
    expect(await ring(page.getByRole('combobox', { name: 'Model' }))).toBe('solid 2px');
    await send.focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    await expect(send).toBeFocused();
    expect(await ring(send)).toBe('solid 2px');
  });

  test('at 375 px: no sideways scroll, the composer in reach, the sidebar a drawer', async ({
    page,
  }) => {
    await signedUpOnChat(page);
    const url = `https://example.test/${'a'.repeat(300)}`;
    await sendAndWait(page, `See ${url}`);
    await sendAndWait(page, lines(40));
    await page.setViewportSize(PHONE);
    await page.reload();
    await waitForHydration(page);

    // Wide content the renderer makes (a code block, a table): it scrolls inside its own box.
    await lastAnswer(page)
      .locator('.message-content')
      .evaluate((content) => {
        const pre = document.createElement('pre');
        pre.textContent = `fn main() { println!("${'wide '.repeat(60)}"); }`;
        pre.style.whiteSpace = 'pre';
        const table = document.createElement('table');
        const row = table.insertRow();
        for (let i = 0; i < 12; i++) row.insertCell().textContent = `column_heading_${i}`;
        content.append(pre, table);
      });
    expect(await horizontalOverflow(page)).toEqual({ scrollWidth: 375, innerWidth: 375 });
    for (const selector of ['pre', 'table']) {
      const box = lastAnswer(page).locator(`.message-content ${selector}`);
      const sizes = await box.evaluate((node) => ({
        scrolls: node.scrollWidth > node.clientWidth,
        right: node.getBoundingClientRect().right,
      }));
      expect(sizes.scrolls, selector).toBe(true);
      expect(sizes.right, selector).toBeLessThanOrEqual(375);
    }

    // The composer stays in reach wherever the page is scrolled.
    const { input, send } = composer(page);
    for (const to of ['top', 'bottom']) {
      await page.evaluate(
        (where) =>
          window.scrollTo(0, where === 'top' ? 0 : document.scrollingElement!.scrollHeight),
        to,
      );
      await expect(input, to).toBeInViewport();
      await expect(send, to).toBeInViewport();
    }
    await input.fill('Typing on a phone');
    await expect(send).toBeEnabled();

    // The sidebar is a drawer: closed, then opened by "Chats" (in reach at the bottom of a long
    // chat too), closed by the shade or Esc.
    const sidebar = page.getByRole('complementary', { name: 'Your chats' });
    const opener = page.locator('label.drawer-open');
    await expect(sidebar).toBeHidden();
    await expect(opener).toBeInViewport();
    await opener.click();
    await expect(sidebar).toBeInViewport();
    await expect(sidebar.getByRole('link', { name: 'New chat' })).toBeVisible();
    expect(await horizontalOverflow(page)).toEqual({ scrollWidth: 375, innerWidth: 375 });
    await page.mouse.click(360, 350);
    await expect(sidebar).toBeHidden();
    await opener.click();
    await expect(sidebar).toBeInViewport();
    await page.keyboard.press('Escape');
    await expect(sidebar).toBeHidden();
    await expect(page.locator('#chat-drawer')).toBeFocused();
    // From the keyboard: the switch opens it, and Tab goes on into it.
    await page.keyboard.press('Space');
    await expect(sidebar).toBeInViewport();
    await page.keyboard.press('Tab');
    await expect(sidebar.locator(':focus')).toHaveCount(1);
    await page.keyboard.press('Escape');
    await expect(sidebar).toBeHidden();
    // Ctrl/Cmd+K opens the drawer to reach the search box in it.
    const search = searchBox(page);
    await composer(page).input.press('Control+k');
    await expect(sidebar).toBeInViewport();
    await expect(search).toBeFocused();
    await sidebar.getByRole('link', { name: 'New chat' }).click();
    await expect(page).toHaveURL(/\/chat$/);
    await expect(sidebar).toBeHidden();

    // Back on a wide screen the sidebar is a column again, without a drawer's switch.
    await page.setViewportSize({ width: 1100, height: 700 });
    await expect(sidebar).toBeVisible();
    await expect(opener).toBeHidden();
  });

  test('no console errors and no hydration warnings on any chat page', async ({ page }) => {
    const problems: string[] = [];
    const notFoundPages = new Set<string>();
    const record = (message: ConsoleMessage) => {
      const text = message.text();
      // The 404 page's own status, which the browser logs as a failed load of that document.
      const ownStatus =
        notFoundPages.has(message.location().url) && text.includes('status of 404');
      if (ownStatus) return;
      if (['error', 'warning'].includes(message.type()) || /hydrat/i.test(text)) {
        problems.push(`${page.url()} ${message.type()}: ${text}`);
      }
    };
    page.on('console', record);
    page.on('pageerror', (error) => problems.push(`${page.url()} pageerror: ${error.message}`));

    await signedUpOnChat(page);
    // /chat, then an answer streaming into it.
    await sendAndWait(page, 'Is everything quiet?');
    const chat = page.url();
    // /chat/:id, hydrated.
    await page.goto(chat);
    await waitForHydration(page);
    // /chat/:id while an answer is being written, and one streaming into the open page.
    const id = new URL(chat).pathname.split('/').pop()!;
    const other = page.request.post(`/api/sessions/${id}`, {
      data: { messages: [{ role: 'user', content: lines(100) }] },
    });
    await expect
      .poll(async () => (await (await page.request.get(`/api/sessions/${id}`)).json()).length)
      .toBe(4);
    await page.goto(chat);
    await waitForHydration(page);
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'streaming');
    expect((await page.request.post(`/api/sessions/${id}/stop`)).status()).toBe(200);
    await other;
    await page.goto(chat);
    await waitForHydration(page);
    await composer(page).input.fill(lines(60));
    await composer(page).input.press('Enter');
    await expect.poll(() => lastAnswerText(page)).toContain('line 2\n');
    await page.keyboard.press('Escape');
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'stopped');
    // An example prompt, older messages, a phone's width.
    await page.goto('/chat?prompt=Hello');
    await waitForHydration(page);
    await page.setViewportSize(PHONE);
    await page.goto(chat);
    await waitForHydration(page);
    await page.locator('label.drawer-open').click();
    // A chat that is not there: the 404 page.
    const missing = `/chat/${crypto.randomUUID()}`;
    notFoundPages.add(new URL(missing, chat).href);
    const response = await page.goto(missing);
    expect(response?.status()).toBe(404);
    await waitForHydration(page);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();

    expect(problems).toEqual([]);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('at 375 px the drawer opens and closes, and the composer sends', async ({ page }) => {
    await signedUpOnChat(page, { js: false });
    await page.setViewportSize(PHONE);
    const sidebar = page.getByRole('complementary', { name: 'Your chats' });
    await expect(sidebar).toBeHidden();
    await page.locator('label.drawer-open').click();
    await expect(sidebar).toBeInViewport();
    await page.mouse.click(360, 350);
    await expect(sidebar).toBeHidden();

    // Send is a plain form button here: the server says what is wrong with a blank message.
    const { input, send } = composer(page);
    await expect(send).toBeEnabled();
    await expect(input).toBeInViewport();
    await input.fill('Hello from a phone');
    await send.click();
    await expect(page).toHaveURL(CHAT_URL);
    await expect(lastAnswer(page).locator('.message-content')).toHaveText(
      echo('Hello from a phone'),
    );
    expect(await horizontalOverflow(page)).toEqual({ scrollWidth: 375, innerWidth: 375 });
    await page.locator('label.drawer-open').click();
    await expect(sidebar.getByRole('link', { name: 'Hello from a phone' })).toBeInViewport();
  });
});
