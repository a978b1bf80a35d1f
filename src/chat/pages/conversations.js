// The chat pages' second script (inlined with the page's CSP nonce, like stream.js, which it
// leaves alone): what makes working with conversations quicker with JavaScript. Everything here
// has a form that works without it.
// - Toasts: `window.ferrochatToast(text, action?)` shows a message in the page's `#toasts`
//   region (role="status", aria-live="polite"), with an optional button; other scripts may use it.
// - Delete with undo: the sidebar's delete form hides the chat at once and offers "Undo" for
//   UNDO_MS; only then is the chat deleted (or at once if the page is left meanwhile). Nothing is
//   deleted until the window has passed, so an undo has nothing to restore.
// - Copy: a "Copy" button on every message (also those streamed in later).
// - Import: a file picked in the import form fills in its JSON.
(() => {
  const $ = (id) => document.getElementById(id);
  const region = $('toasts');
  if (!region) return;
  const UNDO_MS = 8000;
  const MAX_IMPORT_BYTES = 1024 * 1024;

  const toast = (text, action) => {
    const item = document.createElement('p');
    item.className = 'toast';
    item.append(document.createTextNode(text));
    let timer = null;
    const close = () => {
      clearTimeout(timer);
      item.remove();
    };
    if (action) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'toast-action';
      button.textContent = action.label;
      button.addEventListener('click', () => {
        close();
        action.run();
      });
      item.append(' ', button);
    }
    region.append(item);
    timer = setTimeout(close, action?.ms ?? 5000);
    return close;
  };
  window.ferrochatToast = toast;

  // Delete with undo.
  const pending = new Map();
  const deleteNow = (id) => {
    const entry = pending.get(id);
    if (!entry) return;
    pending.delete(id);
    clearTimeout(entry.timer);
    const body = new URLSearchParams({ id });
    if (entry.leaving) {
      navigator.sendBeacon(entry.action, body);
      return;
    }
    fetch(entry.action, { method: 'POST', body, headers: { Accept: 'application/json' } })
      .then((response) => {
        if (!response.ok && response.status !== 404) throw new Error();
        entry.item.remove();
        if (entry.current) location.assign('/chat');
      })
      .catch(() => {
        entry.item.hidden = false;
        toast('That chat could not be deleted. Please try again.');
      });
  };
  document.addEventListener(
    'submit',
    (event) => {
      const form = event.target;
      if (!form.matches?.('.delete-form')) return;
      // Before the form's own handler: the deletion waits for the undo window.
      event.preventDefault();
      event.stopImmediatePropagation();
      const id = new FormData(form).get('id');
      const item = form.closest('.chat-item');
      if (!id || !item || pending.has(id)) return;
      const title = item.querySelector('a')?.textContent ?? 'chat';
      item.hidden = true;
      const entry = {
        item,
        action: form.action,
        current: !!item.querySelector('a[aria-current]'),
        timer: setTimeout(() => deleteNow(id), UNDO_MS),
      };
      pending.set(id, entry);
      toast(`Deleted “${title}”.`, {
        label: 'Undo',
        ms: UNDO_MS,
        run: () => {
          clearTimeout(entry.timer);
          pending.delete(id);
          item.hidden = false;
          item.querySelector('.chat-action[open]')?.removeAttribute('open');
          toast(`“${title}” was not deleted.`);
        },
      });
    },
    true,
  );
  window.addEventListener('pagehide', () => {
    for (const [id, entry] of pending) {
      entry.leaving = true;
      deleteNow(id);
    }
  });

  // Copy a message.
  const addCopy = (message) => {
    if (message.querySelector(':scope > .copy-message')) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'copy-message secondary';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', 'Copy this message');
    message.append(button);
  };
  const messages = $('chat-messages');
  if (messages) {
    messages.querySelectorAll('.message').forEach(addCopy);
    new MutationObserver((changes) => {
      for (const change of changes) {
        change.addedNodes.forEach((node) => node.matches?.('.message') && addCopy(node));
      }
    }).observe(messages, { childList: true });
    messages.addEventListener('click', (event) => {
      const button = event.target.closest?.('.copy-message');
      if (!button) return;
      const text = button.closest('.message').querySelector('.message-content')?.textContent ?? '';
      // stream.js's copy: the Clipboard API, or a selection where it is missing (plain HTTP).
      window.ferrochatCopy(text).then(
        () => {
          button.textContent = 'Copied';
          setTimeout(() => (button.textContent = 'Copy'), 2000);
        },
        () => toast('Copying needs the clipboard permission.'),
      );
    });
  }

  // Import from a file.
  const picker = $('import-file');
  const target = $('import-json');
  if (picker && target) {
    picker.closest('label').hidden = false;
    picker.addEventListener('change', async () => {
      const file = picker.files?.[0];
      if (!file) return;
      if (file.size > MAX_IMPORT_BYTES) {
        toast('That file is too big to import: the limit is 1 MB.');
        return;
      }
      target.value = await file.text();
    });
  }
  document.documentElement.dataset.conversationsReady = 'true';
})();
