// churnlens CSM page: small progressive enhancements; every page works without them.
"use strict";

// A click anywhere on an account's row opens it, as its link does (keyboard users tab to
// the link itself). Clicks on controls, and clicks that end a text selection, are left alone.
document.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-href]");
  if (!row || event.target.closest("a, button, input, select, label, summary")) return;
  if (String(window.getSelection()).length > 0) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  window.location.assign(row.dataset.href);
});

// Filter forms leave empty fields out of the URL, so a shared link says only what is set.
for (const form of document.querySelectorAll("form[data-drop-empty]")) {
  form.addEventListener("submit", () => {
    for (const field of form.elements) {
      if (field.name && field.value === "") field.disabled = true;
    }
  });
}
// Coming back to the page (back button) re-enables the fields disabled above.
window.addEventListener("pageshow", () => {
  for (const field of document.querySelectorAll("form[data-drop-empty] [disabled]")) {
    field.disabled = false;
  }
});

// On a phone the filters start folded away (unless some are set), so the list comes first.
if (window.matchMedia("(max-width: 720px)").matches) {
  for (const panel of document.querySelectorAll("details[data-close-on-phone]")) {
    panel.open = false;
  }
}
