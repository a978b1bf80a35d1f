// Following the conversation (inlined into the chat pages with the CSP nonce; see composer.rs).
// The window keeps the newest words in view while an answer streams, unless the person scrolled
// up to read: then it stays where they are and "Jump to latest" appears above the composer; a
// click on it, or scrolling back to the bottom, follows again. It watches the messages' list, so
// it does not depend on how stream.js writes an answer.
(() => {
  const $ = (id) => document.getElementById(id);
  const list = $('chat-messages');
  const jump = $('jump-latest');
  if (!list || !jump) return;
  const page = document.scrollingElement;
  // How near the bottom still counts as at the bottom, in CSS pixels.
  const SLACK = 48;
  let following = true;
  let lastTop = page.scrollTop;

  const atBottom = () => page.scrollHeight - page.scrollTop - page.clientHeight <= SLACK;
  const toBottom = () => {
    page.scrollTop = page.scrollHeight;
  };
  const showJump = () => {
    jump.hidden = atBottom();
  };

  // A move up is the person's: the list growing or this script scrolling only moves down. The
  // wheel, a touch or a key says so before the window moves, so a word arriving in between
  // does not pull the window back down.
  // (Not in a form field: the composer scrolls inside itself, and its keys move its caret.)
  const leaveIf = (event, up) => {
    if (up && !event.target.closest?.('input, textarea, select')) following = false;
  };
  addEventListener('wheel', (event) => leaveIf(event, event.deltaY < 0), { passive: true });
  // A finger moving down the screen scrolls the page up.
  let touchY = 0;
  const fingerY = (event) => event.touches[0].clientY;
  addEventListener('touchstart', (event) => (touchY = fingerY(event)), { passive: true });
  addEventListener('touchmove', (event) => leaveIf(event, fingerY(event) > touchY), { passive: true });
  addEventListener('keydown', (event) => leaveIf(event, ['PageUp', 'ArrowUp', 'Home'].includes(event.key)));
  addEventListener(
    'scroll',
    () => {
      const top = page.scrollTop;
      if (top < lastTop) following = false;
      if (atBottom()) following = true;
      lastTop = top;
      showJump();
    },
    { passive: true },
  );
  new MutationObserver(() => {
    if (following) toBottom();
    showJump();
  }).observe(list, { childList: true, subtree: true, characterData: true });
  jump.addEventListener('click', () => {
    following = true;
    toBottom();
    showJump();
    // The button is gone now: the composer is where the person goes on from.
    $('composer-input')?.focus({ preventScroll: true });
  });

  // A chat opens at its newest messages, unless the address points somewhere in it (and a
  // reload does not put the window back where it was, later, over this).
  history.scrollRestoration = 'manual';
  if (!location.hash) toBottom();
  showJump();
})();
