/**
 * The starter's chat API from Node, read the way its frontend reads it: the answer's body goes
 * through the Vercel AI SDK's own data stream parser (`processDataStream` of `@ai-sdk/ui-utils`,
 * what `useChat({ streamProtocol: 'data' })` runs), not through a parser of ours. No browser.
 */
import { randomUUID } from 'node:crypto';

import { processDataStream } from '@ai-sdk/ui-utils';

import { startBrokenOffProvider } from '../support/fake-openai';
import { startFerrochat } from '../support/ferrochat';
import { publicFetch } from '../support/public-host';
import { ferrochatUrl, newClient, randomEmail, randomPassword, UUID } from '../support/supabase';
import { test, expect } from './fixtures';

/** The offline echo's first line (src/chat/llm/offline.rs); a blank line and the message follow. */
const OFFLINE_PREFACE = 'Offline echo — no model is configured, so this repeats your message:';

/**
 * A message the starter's unescaped stream could not carry: quotes, a backslash, a newline, and
 * text beyond ASCII (an accent, CJK, an emoji outside the BMP).
 */
const TRICKY_MESSAGE = 'Say "hi" \\ twice\nthen stop: café, 日本語, 🦀';

/** The offline echo's pause between tokens (FERROCHAT_OFFLINE_TOKEN_DELAY_MS's default). */
const OFFLINE_TOKEN_DELAY_MS = 30;

/** RFC 3339 in UTC, milliseconds at most, as docs/API.md promises. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** A person signed up through supabase-js, and their own client of the chat API. */
async function signUp(url = ferrochatUrl()) {
  const { data, error } = await newClient({ url }).auth.signUp({
    email: randomEmail(),
    password: randomPassword(),
  });
  expect(error).toBeNull();
  expect(data.session, 'autoconfirm is on: sign-up signs in').not.toBeNull();
  return { userId: data.user!.id, api: chatApi(url, data.session!.access_token) };
}

/**
 * Requests to `/api…` on the server at `url`, with `token` as the bearer (none if null), from a
 * loopback address of this client's own, through the public host as people reach it. A `body`
 * goes as JSON (the starter's API), a `form` form-encoded (the pages' server functions, POST).
 */
function chatApi(url: string, token: string | null) {
  const send = publicFetch();
  return (
    path: string,
    {
      method,
      body,
      form,
    }: { method?: string; body?: unknown; form?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(form).toString();
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return send(`${url}${path}`, {
      method: method ?? (form === undefined ? 'GET' : 'POST'),
      headers,
      body: payload,
    });
  };
}

/** The starter frontend's body for sending `content` to session `sessionId`. */
function sendBody(sessionId: string, content: string, model: string) {
  return { sessionId, model, messages: [{ role: 'user', content }] };
}

/** What the SDK's parser made of an answer's stream. */
interface ParsedStream {
  /** Every part's kind, in order (`start_step`, `text`, `data`, `error`, `finish_step`, `finish_message`). */
  kinds: string[];
  texts: string[];
  /** When each text part was handed to `onTextPart` (performance.now()). */
  textTimes: number[];
  messageIds: string[];
  data: unknown[];
  errors: string[];
  /** The finish reasons of the finish-message parts. */
  finishReasons: string[];
}

/** Reads a whole response body with the SDK's `processDataStream`. */
async function parseDataStream(response: Response): Promise<ParsedStream> {
  const parsed: ParsedStream = {
    kinds: [],
    texts: [],
    textTimes: [],
    messageIds: [],
    data: [],
    errors: [],
    finishReasons: [],
  };
  expect(response.body, 'a streamed body').not.toBeNull();
  await processDataStream({
    stream: response.body!,
    onStartStepPart: ({ messageId }) => {
      parsed.kinds.push('start_step');
      parsed.messageIds.push(messageId);
    },
    onTextPart: (text) => {
      parsed.kinds.push('text');
      parsed.texts.push(text);
      parsed.textTimes.push(performance.now());
    },
    onDataPart: (data) => {
      parsed.kinds.push('data');
      parsed.data.push(data);
    },
    onErrorPart: (error) => {
      parsed.kinds.push('error');
      parsed.errors.push(error);
    },
    onFinishStepPart: () => {
      parsed.kinds.push('finish_step');
    },
    onFinishMessagePart: ({ finishReason }) => {
      parsed.kinds.push('finish_message');
      parsed.finishReasons.push(finishReason);
    },
  });
  return parsed;
}

/** A stored message, exactly the starter's fields. */
function storedMessage(sessionId: string, role: string, content: string, id: unknown = expect.stringMatching(UUID)) {
  return {
    id,
    chat_session_id: sessionId,
    role,
    content,
    created_at: expect.stringMatching(TIMESTAMP),
  };
}

test.describe('the chat API read with the Vercel AI SDK', () => {
  test('an answer streams in several text parts that the SDK joins into exactly the stored answer', async () => {
    const { api } = await signUp();
    const sessionId = randomUUID();

    const response = await api(`/api/sessions/${sessionId}`, {
      method: 'POST',
      body: sendBody(sessionId, TRICKY_MESSAGE, 'offline-echo'),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-vercel-ai-data-stream')).toBe('v1');
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const parsed = await parseDataStream(response);

    const answer = `${OFFLINE_PREFACE}\n\n${TRICKY_MESSAGE}`;
    // The echo sends one word (with the space after it) per token.
    const words = answer.split(/(?<=\s)(?=\S)/u);
    expect(parsed.texts).toEqual(words);
    expect(parsed.texts.join('')).toBe(answer);
    // Streamed through the proxy as they were written, not in one piece at the end.
    const spread = parsed.textTimes[parsed.textTimes.length - 1] - parsed.textTimes[0];
    expect(spread).toBeGreaterThan(((words.length - 1) * OFFLINE_TOKEN_DELAY_MS) / 2);
    expect(parsed.kinds).toEqual([
      'start_step',
      ...words.map(() => 'text'),
      'finish_step',
      'finish_message',
    ]);
    expect(parsed.finishReasons).toEqual(['stop']);
    expect(parsed.errors).toEqual([]);
    expect(parsed.data).toEqual([]);
    expect(parsed.messageIds).toEqual([expect.stringMatching(UUID)]);

    const messages = await api(`/api/sessions/${sessionId}`);
    expect(messages.status).toBe(200);
    expect(await messages.json()).toStrictEqual([
      storedMessage(sessionId, 'user', TRICKY_MESSAGE),
      storedMessage(sessionId, 'assistant', answer, parsed.messageIds[0]),
    ]);

    const sessions = await api('/api/sessions');
    expect(sessions.status).toBe(200);
    expect(await sessions.json()).toStrictEqual([
      {
        id: sessionId,
        title: 'Say "hi" \\ twice then stop: café, 日本語, 🦀',
        created_at: expect.stringMatching(TIMESTAMP),
        updated_at: expect.stringMatching(TIMESTAMP),
      },
    ]);
  });

  test('without a token the API answers 401, and another user gets 404 for every route of my session', async () => {
    const owner = await signUp();
    const sessionId = randomUUID();
    const sent = await owner.api(`/api/sessions/${sessionId}`, {
      method: 'POST',
      body: sendBody(sessionId, 'mine alone', 'offline-echo'),
    });
    expect((await parseDataStream(sent)).finishReasons).toEqual(['stop']);
    const ownersChat = [
      storedMessage(sessionId, 'user', 'mine alone'),
      storedMessage(sessionId, 'assistant', `${OFFLINE_PREFACE}\n\nmine alone`),
    ];

    const anonymous = chatApi(ferrochatUrl(), null);
    for (const [method, path] of [
      ['GET', '/api/sessions'],
      ['GET', `/api/sessions/${sessionId}`],
      ['POST', `/api/sessions/${randomUUID()}`],
    ]) {
      const body = method === 'POST' ? sendBody(sessionId, 'hello', 'offline-echo') : undefined;
      const refused = await anonymous(path, { method, body });
      expect(refused.status, `${method} ${path}`).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(await refused.json()).toStrictEqual({ detail: 'Not authenticated' });
    }
    const forged = await chatApi(ferrochatUrl(), 'not-a-jwt')('/api/sessions');
    expect(forged.status).toBe(401);
    expect(await forged.json()).toStrictEqual({ detail: 'Invalid or expired token' });

    // Another person, with a valid token of their own, tries every route on the owner's id.
    const other = await signUp();
    for (const [method, path, body] of [
      ['GET', `/api/sessions/${sessionId}`, undefined],
      ['POST', `/api/sessions/${sessionId}`, sendBody(sessionId, 'let me in', 'offline-echo')],
      ['PATCH', `/api/sessions/${sessionId}/title`, { title: 'Mine now' }],
      ['POST', `/api/sessions/${sessionId}/stop`, undefined],
      ['DELETE', `/api/sessions/${sessionId}`, undefined],
    ] as const) {
      const theirs = await other.api(path, { method, body });
      expect(theirs.status, `${method} ${path}`).toBe(404);
      expect(await theirs.json()).toStrictEqual({ detail: 'Chat session not found' });
    }
    // Their own list is empty and deleting "all" of theirs leaves the owner's chat alone.
    expect(await (await other.api('/api/sessions')).json()).toStrictEqual([]);
    const wiped = await other.api('/api/empty-sessions', { method: 'DELETE' });
    expect(wiped.status).toBe(200);

    // The owner's chat is untouched: its title, the question and the whole answer.
    const list = await (await owner.api('/api/sessions')).json();
    expect(list).toStrictEqual([
      {
        id: sessionId,
        title: 'mine alone',
        created_at: expect.stringMatching(TIMESTAMP),
        updated_at: expect.stringMatching(TIMESTAMP),
      },
    ]);
    expect(await (await owner.api(`/api/sessions/${sessionId}`)).json()).toStrictEqual(ownersChat);
  });

  test('a provider that breaks off mid-answer gives an error part in plain words, and the partial answer is kept with status error', async () => {
    const tokens = ['Once ', 'upon a "time" \\ ', 'in Zürich\n', '🦀 '];
    const provider = await startBrokenOffProvider(tokens);
    const server = await startFerrochat({
      env: { OPENAI_BASE_URL: provider.baseUrl, FERROCHAT_MODELS: 'fake-model' },
    });
    try {
      const { api } = await signUp(server.url);
      const sessionId = randomUUID();

      const response = await api(`/api/sessions/${sessionId}`, {
        method: 'POST',
        body: sendBody(sessionId, 'Tell me a story', 'fake-model'),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-vercel-ai-data-stream')).toBe('v1');
      const parsed = await parseDataStream(response);

      const partial = tokens.join('');
      const lost =
        'The connection to the model was lost before the answer was complete. Please try again.';
      expect(parsed.texts.join('')).toBe(partial);
      expect(parsed.errors).toEqual([lost]);
      expect(parsed.data).toEqual([[{ status: 'error' }]]);
      expect(parsed.finishReasons).toEqual(['error']);
      expect(parsed.kinds[0]).toBe('start_step');
      expect(parsed.kinds.slice(1, -4).every((kind) => kind === 'text')).toBe(true);
      expect(parsed.kinds.slice(-4)).toEqual(['error', 'data', 'finish_step', 'finish_message']);

      expect(provider.requests).toHaveLength(1);
      expect(provider.requests[0]).toMatchObject({
        model: 'fake-model',
        stream: true,
        messages: [{ role: 'user', content: 'Tell me a story' }],
      });

      // The starter's shape has no status: the partial text is what it shows.
      const messages = await api(`/api/sessions/${sessionId}`);
      expect(messages.status).toBe(200);
      expect(await messages.json()).toStrictEqual([
        storedMessage(sessionId, 'user', 'Tell me a story'),
        storedMessage(sessionId, 'assistant', partial, parsed.messageIds[0]),
      ]);
      // The pages' read of the same chat (a server function, with the same bearer token)
      // shows how the answer ended, and why.
      const opened = await api('/api/chat/open', { form: { id: sessionId } });
      expect(opened.status).toBe(200);
      const view = (await opened.json()) as { messages: Record<string, unknown>[] };
      expect(
        view.messages.map(({ id, role, content, status, model, error }) => ({
          id,
          role,
          content,
          status,
          model,
          error,
        })),
      ).toStrictEqual([
        {
          id: expect.stringMatching(UUID),
          role: 'user',
          content: 'Tell me a story',
          status: 'complete',
          model: null,
          error: null,
        },
        {
          id: parsed.messageIds[0],
          role: 'assistant',
          content: partial,
          status: 'error',
          model: 'fake-model',
          error: lost,
        },
      ]);

      // Nobody else reads it, by either door.
      const other = await signUp(server.url);
      const theirs = await other.api(`/api/sessions/${sessionId}`);
      expect(theirs.status).toBe(404);
      expect(await theirs.json()).toStrictEqual({ detail: 'Chat session not found' });
      const theirView = await other.api('/api/chat/open', { form: { id: sessionId } });
      expect(theirView.status).toBe(404);
      expect(await theirView.json()).toBe('NotFound');
    } finally {
      await server.stop();
      await provider.close();
    }
  });
});
