// The chat page's script (inlined into /chat and /chat/:id with the page's CSP nonce, nowhere
// else: see composer.rs for why it is not a WASM island). It takes over the composer form:
// sends the message to POST /api/sessions/{id} (same-origin, so the session cookie authenticates
// it and the cross-site guard lets it through) and reads the answer as the Vercel AI data stream
// v1 (src/chat/data_stream.rs), one `<code>:<JSON>` line per part. With `?render=html` the server
// also sends the answer's finished blocks as sanitised HTML (src/chat/render): those are shown as
// they come, the unfinished rest as plain text, and the whole answer's HTML replaces both at the
// end. Without it, the form posts and the page comes back with the whole answer.
(() => {
  const $ = (id) => document.getElementById(id);
  const main = $('chat-main');
  const form = $('composer');
  const input = $('composer-input');
  if (!main || !form || !input) return;
  let session = main.dataset.session || null;
  let streaming = false;
  const BUSY = main.dataset.busy;
  const LOST = 'The connection was lost before the answer was finished. What arrived is kept.';
  const FAILED = 'Something went wrong on our side. Please try again.';
  // The server's words for a message over the limit (src/chat/types.rs), which it counts in
  // characters; a script or a paste can put more into the textarea than its maxlength allows.
  const TOO_LONG = () => `That message is too long: the limit is ${input.maxLength} characters.`;
  const tooLong = (text) => text.length > input.maxLength && [...text].length > input.maxLength;

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const showError = (text) => {
    const slot = $('composer-error');
    slot.textContent = text;
    slot.hidden = !text;
  };
  const setStreaming = (on) => {
    streaming = on;
    $('composer-send').disabled = on;
    $('composer-stop').hidden = !on;
    $('chat-examples')?.remove();
    $('last-turn')?.remove();
  };
  const message = (role, author, text, status) => {
    const item = el('li', `message ${role}`);
    item.dataset.status = status;
    // Screen readers wait for the whole answer instead of reading every piece (the list is live).
    if (status === 'streaming') item.setAttribute('aria-busy', 'true');
    item.append(el('span', 'message-author', author), el('div', 'message-content', text));
    return item;
  };
  // A UUID v4. (crypto.randomUUID exists only in secure contexts: not on a plain-HTTP host.)
  const newId = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  // The server's rule for a chat's title (title_from_message in src/chat/types.rs).
  const titleOf = (text) => {
    const line = text.split(/\s+/).filter(Boolean).join(' ');
    const chars = [...line];
    if (chars.length <= 60) return line || 'New chat';
    let cut = chars.slice(0, 60).join('');
    const space = cut.lastIndexOf(' ');
    if (space > 30) cut = cut.slice(0, space);
    return `${cut}…`;
  };
  // A chat started on /chat exists once its answer starts: the address, the heading and the
  // sidebar say so, and the next messages go to it.
  const showNewChat = (id, first) => {
    session = id;
    history.replaceState(null, '', `/chat/${id}`);
    const title = titleOf(first);
    $('chat-title').textContent = title;
    $('no-chats')?.remove();
    const link = el('a', '', title);
    link.href = `/chat/${id}`;
    link.setAttribute('aria-current', 'page');
    const item = el('li', 'chat-item');
    item.append(link);
    $('chat-list').prepend(item);
  };
  // FastAPI's {"detail": …}: a string, or a validation error's list.
  const refusal = async (response) => {
    if (response.status === 401) return 'Please sign in to continue.';
    // The body limit is far above the message limit: it can only be a message too long.
    if (response.status === 413) return TOO_LONG();
    try {
      const { detail } = await response.json();
      return typeof detail === 'string' ? detail : detail[0].msg;
    } catch {
      return FAILED;
    }
  };

  // Streams the answer into `answer`; resolves to how it ended: [status, note].
  const stream = async (id, content, answer, started) => {
    const response = await fetch(`/api/sessions/${id}?render=html`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        model: $('composer-model').value,
        messages: [{ role: 'user', content }],
      }),
    });
    if (!response.ok) throw new Error(await refusal(response));
    started();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const target = answer.querySelector('.message-content');
    target.classList.add('markdown');
    // The text not rendered yet, as text: an open code fence or formula never shows as markup.
    const tail = el('div', 'stream-tail');
    const tailText = document.createTextNode('');
    tail.append(tailText);
    target.append(tail);
    let pending = '';
    let error = null;
    let status = null;
    let finished = false;
    // Ends when the server closes the stream, after its finish part.
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch {
        return ['error', LOST];
      }
      if (chunk.done) break;
      pending += chunk.value;
      let end;
      while ((end = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        const code = line.slice(0, line.indexOf(':'));
        const value = JSON.parse(line.slice(code.length + 1));
        if (code === '0') {
          // One update per text part: the answer grows on screen as it is written.
          tailText.appendData(value);
        } else if (code === '2') {
          for (const data of value) {
            if (data.status) status = data.status;
            if (data.final) target.innerHTML = data.html;
            else if (data.html !== undefined) {
              tail.insertAdjacentHTML('beforebegin', data.html);
              tailText.deleteData(0, data.consumed);
            }
          }
        }
        else if (code === '3') error = value;
        else if (code === 'd') finished = true;
      }
    }
    if (error) return ['error', error];
    if (status === 'stopped') return ['stopped', 'Stopped'];
    if (status === 'error') return ['error', FAILED];
    return finished ? ['complete', null] : ['error', LOST];
  };

  const send = (content) => {
    if (streaming) return showError(BUSY);
    if (!content.trim()) return showError('Type a message first.');
    // Refused here rather than sent: megabytes would only come back refused (HTTP 413).
    if (tooLong(content)) return showError(TOO_LONG());
    const id = session || newId();
    const isNew = !session;
    showError('');
    const question = message('user', 'You', content, 'complete');
    const answer = message('assistant', 'Answer', '', 'streaming');
    $('chat-messages').append(question, answer);
    input.value = '';
    setStreaming(true);
    stream(id, content, answer, () => isNew && showNewChat(id, content))
      .then(([status, note]) => {
        answer.dataset.status = status;
        answer.removeAttribute('aria-busy');
        if (note) answer.append(el('p', `message-status${status === 'error' ? ' message-error' : ''}`, note));
        if (status === 'error') {
          const retry = el('button', 'retry', 'Retry');
          retry.type = 'button';
          retry.dataset.retry = content;
          answer.append(retry);
        }
      })
      .catch((refused) => {
        // Nothing was stored: take the exchange off the page and give the text back.
        question.remove();
        answer.remove();
        input.value = content;
        showError(refused instanceof TypeError ? 'Could not reach the server: the network request failed' : refused.message);
      })
      .finally(() => {
        setStreaming(false);
        input.focus();
      });
  };
  const stop = () => {
    if (streaming && session) fetch(`/api/sessions/${session}/stop`, { method: 'POST' });
  };

  // The composer and the retry forms of failed answers.
  main.addEventListener('submit', (event) => {
    // Other forms of the conversation (regenerate, edit) post as they are.
    if (!event.target.closest('#composer, .retry-form')) return;
    event.preventDefault();
    send(String(new FormData(event.target).get('content') ?? ''));
  });
  // (Esc, which stops an answer anywhere on the page, is in keys.js.)
  main.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target === input && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // A code block's copy button (src/chat/render/highlight.rs). The Clipboard API exists only in
  // secure contexts; on a plain-HTTP host a hidden textarea's selection is copied instead.
  const copyText = async (text) => {
    if (window.isSecureContext && navigator.clipboard) return navigator.clipboard.writeText(text);
    const focused = document.activeElement;
    const area = el('textarea', 'visually-hidden');
    area.value = text;
    document.body.append(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    focused?.focus();
    if (!copied) throw new Error('copy refused');
  };
  // Shared with conversations.js (a message's Copy button).
  window.ferrochatCopy = copyText;
  const copyCode = (button) => {
    copyText(button.closest('.code-block').querySelector('code').textContent).then(
      () => (button.textContent = 'Copied'),
      () => (button.textContent = 'Copy failed'),
    );
    setTimeout(() => (button.textContent = 'Copy'), 2000);
  };
  main.addEventListener('click', (event) => {
    if (event.target.id === 'composer-stop') stop();
    else if (event.target.classList.contains('code-copy')) copyCode(event.target);
    else if (event.target.dataset.retry !== undefined) send(event.target.dataset.retry);
  });
  document.documentElement.dataset.chatReady = 'true';
})();
