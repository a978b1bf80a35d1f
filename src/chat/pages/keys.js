// The chat pages' keys and focus (inlined with the CSP nonce; see composer.rs):
// - Ctrl/Cmd+K focuses the sidebar's search box (`#chat-search-input`, search.rs), opening the
//   drawer first on a narrow screen; without a search box the browser keeps the key.
// - Ctrl/Cmd+Shift+O starts a new chat.
// - Esc closes the open drawer, else stops the answer being written.
// - The composer has focus when a chat page opens (where there is a real keyboard: on a touch
//   screen that would open the on-screen keyboard over the page).
(() => {
  const $ = (id) => document.getElementById(id);
  const drawer = $('chat-drawer');
  const input = $('composer-input');

  document.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    const command = (event.ctrlKey || event.metaKey) && !event.altKey;
    const key = event.key.toLowerCase();
    if (command && !event.shiftKey && key === 'k') {
      const search = $('chat-search-input');
      if (!search) return;
      event.preventDefault();
      if (drawer && !search.checkVisibility({ visibilityProperty: true })) drawer.checked = true;
      search.focus();
      search.select?.();
    } else if (command && event.shiftKey && key === 'o') {
      event.preventDefault();
      location.assign('/chat');
    } else if (event.key === 'Escape') {
      const stop = $('composer-stop');
      // (The switch is there on narrow screens only.)
      if (drawer?.checked && drawer.checkVisibility()) {
        drawer.checked = false;
        // Back to the switch that opened it (its label shows the focus ring).
        drawer.focus();
      } else if (stop && !stop.hidden) {
        stop.click();
      }
    }
  });

  if (input && matchMedia('(pointer: fine)').matches) input.focus({ preventScroll: true });
})();
