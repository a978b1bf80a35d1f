// The composer, improved (inlined into /chat and /chat/:id after stream.js, with the page's CSP
// nonce; see composer.rs). Without it the composer is a plain form and the server refuses a
// blank or too long message in words.
// - The box grows with its text: CSS `field-sizing: content` where the browser has it, else here.
// - Near the limit (the server's, the textarea's maxlength) a counter says how much room is left.
// - Send is disabled while the box is blank (only whitespace counts as blank) or over the limit,
//   and while an answer streams (stream.js shows Stop then).
// - The draft is kept per person and chat in localStorage, across reloads; sending clears it.
(() => {
  const $ = (id) => document.getElementById(id);
  const main = $('chat-main');
  const input = $('composer-input');
  const send = $('composer-send');
  const stop = $('composer-stop');
  const count = $('composer-count');
  if (!main || !input || !send || !stop || !count) return;
  const LIMIT = input.maxLength;
  // The counter appears when a tenth of the room is left.
  const NEAR = Math.floor(LIMIT * 0.9);
  const grows = CSS.supports('field-sizing', 'content');
  // The chat's id comes from the address: stream.js moves /chat to /chat/{id} once a new chat exists.
  const draftKey = () => {
    const chat = location.pathname.split('/')[2] || 'new';
    return `ferrochat:draft:${main.dataset.user}:${chat}`;
  };
  // Storage can be off or full (private windows): the draft is then simply not kept.
  const store = (key, text) => {
    try {
      if (text) localStorage.setItem(key, text);
      else localStorage.removeItem(key);
    } catch {}
  };
  const stored = (key) => {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  };
  const characters = (n) => `${n.toLocaleString('en')} character${n === 1 ? '' : 's'}`;

  const update = () => {
    const text = input.value;
    // The server counts characters (code points), as this does; maxlength counts UTF-16 units.
    const chars = text.length > NEAR ? [...text].length : text.length;
    const over = chars > LIMIT;
    count.hidden = chars < NEAR;
    count.classList.toggle('form-error', over);
    count.textContent = over
      ? `${characters(chars - LIMIT)} over the limit of ${LIMIT.toLocaleString('en')}`
      : `${characters(LIMIT - chars)} left`;
    const streaming = !stop.hidden;
    send.disabled = streaming || over || !text.trim();
    if (!grows) {
      input.style.height = 'auto';
      input.style.height = `${input.scrollHeight + input.offsetHeight - input.clientHeight}px`;
    }
    // While an answer streams the box holds what comes next: kept too.
    store(draftKey(), text);
  };

  if (!input.value) input.value = stored(draftKey()) ?? '';
  input.addEventListener('input', update);
  // stream.js empties the box when it sends, gives the text back when the server refuses it, and
  // shows Stop while the answer streams: the send state and the draft follow Stop's changes.
  new MutationObserver(update).observe(stop, { attributes: true, attributeFilter: ['hidden'] });
  update();
})();
