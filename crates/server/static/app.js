// Progressive enhancement only: every page works without this file.
document.addEventListener('change', (e) => {
  if (e.target.matches('select[data-autosubmit]')) e.target.form.submit();
});
document.addEventListener('submit', (e) => {
  const msg = e.target.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
document.querySelectorAll('.switcher button[data-js-hide]').forEach((b) => { b.hidden = true; });
