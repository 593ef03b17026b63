// Leaving a wizard step or edit section with unsaved changes asks first.
//
// The forms watched carry data-leave-guard; what they hold when the page opens is the saved
// state, unless the attribute says "unsaved" (a refused save came back with what was typed).
// A link away (menu, step, breadcrumb, Cancel) opens the page's #leave-dialog (a Bootstrap
// modal; the browser's confirm without it); reload and closing the tab get the browser's own
// question (beforeunload). Submitting the form asks nothing. Every page works without this file.
(function () {
  "use strict";
  if (window.studioLeaveGuard) return; // included twice (base.html and a page): once is enough
  window.studioLeaveGuard = true;

  const SKIPPED_TYPES = ["submit", "button", "reset", "image", "file"];
  let leaving = false; // the form is being sent, or the admin chose to leave
  const watched = new Map(); // form -> what it held when the page opened

  function blank(row) {
    return Array.from(row.querySelectorAll("input")).every((input) => input.value === "");
  }

  // What a form would send, as text; empty key/value rows do not count (Add label alone is
  // no change), nor does the CSRF token.
  function state(form) {
    const entries = [];
    Array.from(form.elements).forEach((element) => {
      if (!element.name || element.matches(":disabled")) return;
      if (SKIPPED_TYPES.includes(element.type) || element.name === "csrfmiddlewaretoken") return;
      const row = element.closest(".kv-row");
      if (row && blank(row)) return;
      if ((element.type === "checkbox" || element.type === "radio") && !element.checked) return;
      if (element.type === "select-multiple") {
        Array.from(element.selectedOptions).forEach((o) => entries.push([element.name, o.value]));
        return;
      }
      entries.push([element.name, element.value]);
    });
    return JSON.stringify(entries);
  }

  function unsaved() {
    if (leaving) return false;
    for (const [form, initial] of watched) {
      if (!form.isConnected) continue;
      if (form.dataset.leaveGuard === "unsaved" || state(form) !== initial) return true;
    }
    return false;
  }

  function go(url) {
    leaving = true;
    window.location.assign(url);
  }

  // The in-page question for a link; focus starts on "Stay on this page" and comes back to
  // the link when the admin stays.
  function ask(link) {
    const dialog = document.querySelector("[data-leave-dialog]");
    if (!dialog || !window.bootstrap || !window.bootstrap.Modal) {
      const text = dialog ? dialog.querySelector(".modal-body").textContent.trim() : "";
      if (window.confirm(text || "Leave without saving? What you changed is not saved.")) {
        go(link.href);
      }
      return;
    }
    const modal = window.bootstrap.Modal.getOrCreateInstance(dialog);
    dialog.querySelector("[data-leave-go]").onclick = () => {
      modal.hide();
      go(link.href);
    };
    dialog.addEventListener(
      "shown.bs.modal",
      () => dialog.querySelector("[data-leave-stay]").focus(),
      { once: true }
    );
    dialog.addEventListener(
      "hidden.bs.modal",
      () => {
        if (!leaving && link.isConnected) link.focus();
      },
      { once: true }
    );
    modal.show();
  }

  function leavesThePage(link, event) {
    if (event.defaultPrevented || event.button !== 0) return false;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
    if (link.hasAttribute("download")) return false;
    if (link.target && link.target !== "_self") return false;
    const url = new URL(link.href, window.location.href);
    const here = new URL(window.location.href);
    // A link to a place on this very page (the error summary's) leaves nothing.
    const samePage = url.origin === here.origin && url.pathname === here.pathname &&
      url.search === here.search;
    if (samePage && url.hash) return false;
    return url.protocol === "http:" || url.protocol === "https:";
  }

  function watch(form) {
    if (watched.has(form)) return;
    watched.set(form, state(form));
    form.addEventListener("submit", (event) => {
      if (!event.defaultPrevented) leaving = true;
    });
  }

  function init() {
    document.querySelectorAll("form[data-leave-guard]").forEach(watch);
    if (!watched.size) return;
    document.addEventListener("click", (event) => {
      const link = event.target.closest && event.target.closest("a[href]");
      if (!link || !leavesThePage(link, event) || !unsaved()) return;
      event.preventDefault();
      ask(link);
    });
    window.addEventListener("beforeunload", (event) => {
      if (!unsaved()) return;
      event.preventDefault();
      event.returnValue = ""; // older browsers need it set to ask
    });
    // Back to this page from the browser's cache: the page is being used again.
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) leaving = false;
    });
  }

  // After studio.js has set the page up (it disables the sharing picker, for one), so that
  // what the form holds then is what counts as unchanged.
  if (document.readyState === "complete") init();
  else document.addEventListener("DOMContentLoaded", init);
})();
