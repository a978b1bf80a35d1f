/**
 * Guest chat in a browser: "Try it without an account" on the login page opens the chat as a
 * guest with its quota in sight; once the quota is spent, sending is refused with words a person
 * understands; adding an email address and a password on the account page keeps the chats, and
 * signing in later with that address shows them. The model is the offline echo.
 */
import type { Page } from '@playwright/test';

import { newCredentials, open, signInInUi, signOutInUi } from '../support/app';
import { test, expect } from './fixtures';

/** The offline echo's first line (src/chat/llm/offline.rs). */
const PREFACE = 'Offline echo — no model is configured, so this repeats your message:';
const QUOTA = 10;

function banner(page: Page) {
  return page.getByTestId('guest-banner');
}

/** Sends `message` with Enter and waits for the whole answer. */
async function sendAndWait(page: Page, message: string) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(message);
  await input.press('Enter');
  const answer = page.locator('#chat-messages > li.assistant').last();
  // innerText: the answer is rendered Markdown (a paragraph per line of the echo).
  await expect
    .poll(() => answer.locator('.message-content').innerText())
    .toBe(`${PREFACE}\n\n${message}`);
  await expect(answer).toHaveAttribute('data-status', 'complete');
}

test('guest chat: quota reached, then an email and password keep the chats', async ({
  page,
  consoleProblems,
}) => {
  test.setTimeout(120_000);
  await open(page, '/login');
  await page.getByRole('button', { name: 'Try it without an account' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await expect(page.getByTestId('signed-in-email')).toHaveText('a guest');
  await expect(banner(page)).toHaveText(
    'Guest — 10 messages left. Add an email to keep your chats. Add an email and password',
  );
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');

  for (let n = 1; n <= QUOTA; n++) await sendAndWait(page, `guest message ${n}`);
  const chatUrl = page.url();

  // The next one is refused, and says why and what to do.
  const input = page.getByLabel('Message', { exact: true });
  await input.fill('one more');
  await input.press('Enter');
  await expect(page.locator('#composer-error')).toContainText(
    'Guests can send 10 messages. Add an email address and a password on your account page',
  );
  await page.reload();
  await expect(banner(page)).toContainText(
    'Guest — you have sent all 10 messages a guest can send.',
  );
  await expect(page.locator('#chat-messages > li.user')).toHaveCount(QUOTA);

  // Add an email and a password from the banner's link.
  await banner(page).getByRole('link', { name: 'Add an email and password' }).click();
  await expect(page).toHaveURL(/\/account#add-email$/);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const person = newCredentials();
  const form = page.locator('#add-email');
  await form.getByLabel('Email', { exact: true }).fill(person.email);
  await form.getByLabel('Password', { exact: true }).fill(person.password);
  await form.getByLabel('Confirm password', { exact: true }).fill(person.password);
  await form.getByRole('button', { name: 'Save email and password' }).click();
  await expect(page).toHaveURL(/\/account\?notice=email-added$/);
  await expect(
    page.getByText('Your email address and password are saved. Your chats are yours to keep.'),
  ).toBeVisible();
  await expect(page.getByTestId('account-email')).toHaveText(person.email);
  await expect(page.locator('#add-email')).toHaveCount(0);

  // The chat is still there, and sending works again.
  await page.goto(chatUrl);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(banner(page)).toHaveCount(0);
  await expect(page.locator('#chat-messages > li.user')).toHaveCount(QUOTA);
  await sendAndWait(page, 'now with an account');

  // Signing in later with the address shows the same chat.
  await signOutInUi(page);
  await signInInUi(page, person);
  await expect(page).toHaveURL(/\/chat$/);
  await expect(page.getByTestId('signed-in-email')).toHaveText(person.email);
  await expect(page.locator('#chat-list a')).toHaveCount(1);
  await page.locator('#chat-list a').first().click();
  await expect(page).toHaveURL(chatUrl);
  await expect(page.locator('#chat-messages > li.user')).toHaveCount(QUOTA + 1);
  expect(consoleProblems.filter((problem) => !problem.includes('403'))).toEqual([]);
});
