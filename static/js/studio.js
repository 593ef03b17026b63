// PaaS Studio: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Key/value editors: add and remove rows.
  function setUpKeyValue(editor) {
    const rows = editor.querySelector(".kv-rows");
    const template = editor.querySelector("template[data-kv-template]");
    const add = editor.querySelector("[data-kv-add]");
    let counter = rows.children.length;
    editor.querySelectorAll("[data-kv-remove]").forEach((b) => (b.hidden = false));
    add.hidden = false;
    add.addEventListener("click", () => {
      counter += 1;
      const html = template.innerHTML.replaceAll("__n__", String(counter));
      rows.insertAdjacentHTML("beforeend", html);
      rows.lastElementChild.querySelector("input").focus();
    });
    rows.addEventListener("click", (event) => {
      const button = event.target.closest("[data-kv-remove]");
      if (!button) return;
      const row = button.closest(".kv-row");
      if (rows.children.length === 1) {
        row.querySelectorAll("input").forEach((input) => (input.value = ""));
        row.querySelector("input").focus();
        return;
      }
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      (next && next.querySelector("input") ? next.querySelector("input") : add).focus();
    });
  }

  // Sharing: the project picker matters only for Selected Projects, and can be searched.
  function setUpSharing(form) {
    const picker = form.querySelector("[data-project-picker]");
    if (!picker) return;
    const radios = form.querySelectorAll('input[name="sharing"]');
    const filter = picker.querySelector("[data-picker-filter]");
    const empty = picker.querySelector("[data-picker-empty]");
    const options = picker.querySelectorAll("[data-picker-option]");
    function sync() {
      const selected = form.querySelector('input[name="sharing"]:checked');
      const on = selected && selected.value === "selected";
      picker.disabled = !on;
      picker.classList.toggle("opacity-50", !on);
    }
    radios.forEach((r) => r.addEventListener("change", sync));
    sync();
    if (filter) {
      filter.hidden = options.length < 2;
      filter.addEventListener("input", () => {
        const words = filter.value.trim().toLowerCase();
        let shown = 0;
        options.forEach((option) => {
          const match = !words || option.dataset.search.includes(words);
          option.hidden = !match;
          shown += match ? 1 : 0;
        });
        if (empty) empty.hidden = shown > 0;
      });
    }
  }

  // Delete: the button wakes up once the unique name is typed exactly.
  function setUpConfirm(form) {
    const expected = form.dataset.confirmDelete;
    const input = form.querySelector('input[name="confirm"]');
    const button = form.querySelector("[data-confirm-button]");
    if (!input || !button) return;
    const sync = () => {
      const ok = input.value === expected;
      button.disabled = !ok;
      button.setAttribute("aria-disabled", String(!ok));
    };
    input.addEventListener("input", sync);
    sync();
  }

  // Icons that fail to load fall back to the service type's symbol.
  function setUpIcons(root) {
    root.querySelectorAll("img[data-fallback]").forEach((img) => {
      const holder = img.parentElement;
      const fallBack = () => {
        img.remove();
        const icon = holder && holder.querySelector(".icon-fallback");
        if (icon) icon.classList.remove("d-none");
      };
      if (img.complete && img.naturalWidth === 0) fallBack();
      else img.addEventListener("error", fallBack, { once: true });
    });
  }

  // Input Settings: restricted values matter only when override is Restricted.
  function setUpOverride(row) {
    const select = row.querySelector('select[name$="-override"]');
    const values = row.querySelector("[data-restricted-values]");
    if (!select || !values) return;
    const sync = () => {
      const textarea = values.querySelector("textarea");
      const show = select.value === "restricted" || (textarea && textarea.value.trim() !== "");
      values.hidden = !show;
    };
    select.addEventListener("change", sync);
    sync();
  }

  // Forms that ask first ("Revoke the key …?"): the question is the form's data-confirm.
  function setUpAsk(form) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // Read-only fields worth copying (a new API key) select themselves when focused.
  function setUpSelectOnFocus(input) {
    input.addEventListener("focus", () => input.select());
  }

  // Copy buttons: data-copy names the element whose text goes to the clipboard.
  function setUpCopy(button) {
    if (button.dataset.copyBound) return;
    button.dataset.copyBound = "true";
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.querySelector("[data-copy-label]").textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
      }
    });
  }

  function init(root) {
    root.querySelectorAll("[data-input-setting]").forEach(setUpOverride);
    root.querySelectorAll("[data-kv-editor]").forEach(setUpKeyValue);
    root.querySelectorAll("[data-sharing-form]").forEach(setUpSharing);
    root.querySelectorAll("[data-confirm-delete]").forEach(setUpConfirm);
    root.querySelectorAll("form[data-confirm]").forEach(setUpAsk);
    root.querySelectorAll("[data-select-on-focus]").forEach(setUpSelectOnFocus);
    root.querySelectorAll("[data-copy]").forEach(setUpCopy);
    setUpIcons(root);
  }

  // After Back or Forward, htmx puts back its copy of the page, whose search boxes hold what
  // was typed later; make the filters say what the restored URL (and so the results) say.
  function syncFiltersWithUrl(root) {
    const params = new URLSearchParams(window.location.search);
    root.querySelectorAll('form[role="search"]').forEach((form) => {
      form.querySelectorAll("input[name], select[name]").forEach((control) => {
        if (control.type !== "hidden") control.value = params.get(control.name) || "";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:historyRestore", () => {
    init(document);
    syncFiltersWithUrl(document);
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    setUpIcons(event.detail.target);
    document.querySelectorAll("[data-copy]").forEach(setUpCopy);
  });
})();
