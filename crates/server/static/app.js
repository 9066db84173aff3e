// Progressive enhancement only: every page works without this file.
document.addEventListener('change', (e) => {
  if (e.target.matches('select[data-autosubmit]')) e.target.form.submit();
});
document.addEventListener('submit', (e) => {
  const msg = e.target.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
document.querySelectorAll('.switcher button[data-js-hide]').forEach((b) => { b.hidden = true; });

// A form marked data-once is sent once: a second click or Enter while the page loads does
// nothing. (The reply form also carries an idempotency key, so a resubmission is one reply.)
document.addEventListener('submit', (e) => {
  const form = e.target;
  if (e.defaultPrevented || !form.hasAttribute('data-once')) return;
  if (form.dataset.sending) { e.preventDefault(); return; }
  form.dataset.sending = '1';
  // After this event, so the click that submitted the form still counts.
  setTimeout(() => form.querySelectorAll('button[type="submit"]').forEach((b) => { b.disabled = true; }), 0);
});
// Back to a page kept in memory: its forms can be sent again (with the same idempotency key).
window.addEventListener('pageshow', (e) => {
  if (!e.persisted) return;
  document.querySelectorAll('form[data-once]').forEach((f) => {
    delete f.dataset.sending;
    f.querySelectorAll('button[type="submit"]').forEach((b) => { b.disabled = false; });
  });
});

// ---- Inbox: keyboard shortcuts, saved-reply picker, presence ----
(() => {
  const inbox = document.querySelector('[data-inbox]');
  if (!inbox) return;
  const help = document.getElementById('shortcut-help');
  const typing = (el) => !!(el && el.closest && el.closest('input, textarea, select, [contenteditable="true"]'));
  const showHelp = (on) => { if (help) help.hidden = !on; };

  function move(step) {
    const links = [...document.querySelectorAll('#conv-list a.conv-link')];
    if (!links.length) return;
    const at = links.findIndex((a) => a.getAttribute('aria-current') === 'true');
    const next = at < 0 ? (step > 0 ? 0 : links.length - 1) : at + step;
    if (next >= 0 && next < links.length) window.location.assign(links[next].href);
  }
  function submit(id) {
    const form = document.getElementById(id);
    if (form) form.requestSubmit();
  }

  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typing(e.target)) {
      if (e.key === 'Escape') e.target.blur();
      return;
    }
    switch (e.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'a': submit('assign-me'); break;
      case 'e': submit('close-form'); break;
      case 'r': {
        const box = document.getElementById('reply-body');
        if (!box) return;
        box.scrollIntoView({ block: 'center' });
        box.focus();
        break;
      }
      case '?': showHelp(help && help.hidden); break;
      case 'Escape': showHelp(false); break;
      default: return;
    }
    e.preventDefault();
  });
  document.addEventListener('click', (e) => {
    if (e.target.closest('[data-close-help]') || e.target === help) showHelp(false);
  });

  // The open conversation's row in view.
  const current = document.querySelector('#conv-list a.conv-link[aria-current="true"]');
  if (current) current.scrollIntoView({ block: 'nearest' });

  // Picking a saved reply puts its text, filled in for this customer, in the box to edit.
  const picker = document.getElementById('saved-reply');
  if (picker) {
    const box = document.querySelector(picker.getAttribute('data-fill'));
    let filled = '';
    picker.addEventListener('change', () => {
      const opt = picker.selectedOptions[0];
      const text = opt ? opt.getAttribute('data-body') || '' : '';
      if (!box) return;
      if (box.value.trim() && box.value !== filled && !window.confirm('Replace what you wrote with the saved reply?')) return;
      box.value = text;
      filled = text;
      box.focus();
    });
  }

  // A reply that could not be sent comes back in the box (the page after a form is a new one).
  const replyForm = document.getElementById('reply-form');
  const replyBox = document.getElementById('reply-body');
  const convId = document.getElementById('conversation')?.getAttribute('data-conversation');
  if (replyForm && replyBox && convId && window.sessionStorage) {
    const key = `sb-draft:${convId}`;
    const draft = sessionStorage.getItem(key);
    if (document.querySelector('main > .flash.error') && draft && !replyBox.value) replyBox.value = draft;
    else sessionStorage.removeItem(key);
    replyForm.addEventListener('submit', () => { if (replyBox.value.trim()) sessionStorage.setItem(key, replyBox.value); });
  }

  // Presence: say every 10 s that this person is viewing (or writing a reply to) the open
  // conversation, and show who else is.
  const pane = document.getElementById('conversation');
  const url = pane && pane.getAttribute('data-presence-url');
  if (!url) return;
  const csrf = pane.getAttribute('data-csrf') || '';
  const canReply = pane.getAttribute('data-can-reply') === 'true';
  const reply = document.getElementById('reply-body');
  const shown = document.getElementById('presence');
  function render(others) {
    if (!shown) return;
    shown.replaceChildren(...others.map((p) => {
      const s = document.createElement('span');
      s.className = `who ${p.state === 'replying' ? 'replying' : 'viewing'}`;
      s.title = p.email;
      s.textContent = `${p.name || p.email} is ${p.state}`;
      return s;
    }));
  }
  let timer;
  async function beat() {
    clearTimeout(timer);
    if (document.visibilityState !== 'hidden') {
      const writing = canReply && reply && (document.activeElement === reply || reply.value.trim() !== '');
      try {
        const res = await fetch(url, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
          body: JSON.stringify({ state: writing ? 'replying' : 'viewing' }),
        });
        if (res.ok) render((await res.json()).others || []);
      } catch (_) { /* offline for a moment: the next beat tries again */ }
    }
    timer = setTimeout(beat, 10_000);
  }
  if (reply) reply.addEventListener('focus', () => beat());
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') beat(); });
  beat();
})();
