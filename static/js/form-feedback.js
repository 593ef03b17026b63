// Form pages: the error summary takes the focus when the page opens and its links move the
// focus to the control to fix; fields with data-char-count show "n / max" as one types.
// Every page works without this file.
(function () {
  "use strict";
  if (window.studioFormFeedback) return; // included twice (base.html and a page): once is enough
  window.studioFormFeedback = true;

  // The error summary (templates/_error_summary.html) ----------------------------------------

  function focusable(element) {
    if (element.matches("input, select, textarea, button, a[href]") && !element.disabled) {
      return element;
    }
    const inside = element.querySelector(
      "input:not([type=hidden]):not(:disabled), select:not(:disabled), textarea:not(:disabled)"
    );
    if (inside) return inside;
    element.setAttribute("tabindex", "-1");
    return element;
  }

  // The label (or legend) of a control is what should be in view, above it, when it gets
  // the focus: the sticky top bar would hide it otherwise.
  function caption(control) {
    if (control.id) {
      const label = document.querySelector(`label[for="${CSS.escape(control.id)}"]`);
      if (label && label.offsetParent !== null) return label;
    }
    const group = control.closest("fieldset");
    return (group && group.querySelector("legend")) || control;
  }

  function setUpSummary(summary) {
    summary.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-error-link]");
      if (!link) return;
      const target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
      if (!target) return;
      event.preventDefault();
      const control = focusable(target);
      caption(control).scrollIntoView({ block: "center" });
      control.focus({ preventScroll: true });
    });
    summary.focus();
  }

  // Character counters ------------------------------------------------------------------------

  let counted = 0;

  function setUpCounter(field) {
    const max = Number(field.getAttribute("maxlength"));
    if (!max || field.dataset.charCountReady) return;
    field.dataset.charCountReady = "true";
    counted += 1;
    const id = field.id || `char-count-${counted}`;
    // What one sees, also the field's description (read when it gets the focus) ...
    const visible = document.createElement("div");
    visible.className = "form-text char-count";
    visible.id = `${id}-count`;
    visible.setAttribute("aria-hidden", "true");
    // ... and what a screen reader says after a pause in typing: politely, not at every key.
    const spoken = document.createElement("div");
    spoken.className = "visually-hidden";
    spoken.setAttribute("aria-live", "polite");
    spoken.setAttribute("data-char-count-status", "");
    const holder = (field.id && document.getElementById(`div_${field.id}`)) || field.parentElement;
    holder.append(visible, spoken);
    const describedBy = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    field.setAttribute("aria-describedby", [...describedBy, visible.id].join(" "));
    let timer = 0;
    const show = () => {
      const length = field.value.length;
      visible.textContent = `${length} / ${max}`;
      visible.classList.toggle("text-danger", length >= max);
    };
    field.addEventListener("input", () => {
      show();
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        spoken.textContent = `${field.value.length} of ${max} characters used`;
      }, 700);
    });
    show();
  }

  function init() {
    document.querySelectorAll("[data-char-count]").forEach(setUpCounter);
    const summary = document.querySelector("[data-error-summary]");
    if (summary) setUpSummary(summary);
  }

  if (document.readyState === "complete") init();
  else document.addEventListener("DOMContentLoaded", init);
})();
