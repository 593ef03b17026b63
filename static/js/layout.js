// PaaS Studio: layout on narrow screens (base.html). Every page works without this file.
(function () {
  "use strict";

  // The project menu's toggle: Bootstrap's offcanvas opens and closes the panel (Escape, the
  // close button, a click beside it); this keeps the toggle's aria-expanded saying whether it
  // is open.
  function setUpMenuToggle() {
    const menu = document.getElementById("project-menu");
    if (!menu) return;
    const toggles = document.querySelectorAll('[data-bs-toggle="offcanvas"][aria-controls="project-menu"]');
    const say = (open) => toggles.forEach((t) => t.setAttribute("aria-expanded", String(open)));
    menu.addEventListener("show.bs.offcanvas", () => say(true));
    menu.addEventListener("hidden.bs.offcanvas", () => say(false));
  }

  // A table wider than the screen scrolls inside its box (.table-responsive): while it does,
  // the box takes keyboard focus, so arrow keys scroll it, and is named after its table.
  function nameOf(box) {
    const caption = box.querySelector("caption");
    const heading = box.closest("section, .card, fieldset");
    const title = heading && heading.querySelector("h2, h3, h4, legend");
    return ((caption || title || {}).textContent || "Table").trim().replace(/\s+/g, " ");
  }

  function syncScrollBoxes(root) {
    root.querySelectorAll(".table-responsive").forEach((box) => {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", nameOf(box));
        box.dataset.scrollBox = "true";
      } else if (!scrolls && box.dataset.scrollBox) {
        ["tabindex", "role", "aria-label", "data-scroll-box"].forEach((a) => box.removeAttribute(a));
      }
    });
  }

  let pending = 0;
  function later() {
    window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(() => syncScrollBoxes(document));
  }

  document.addEventListener("DOMContentLoaded", () => {
    setUpMenuToggle();
    syncScrollBoxes(document);
  });
  window.addEventListener("resize", later);
  document.addEventListener("htmx:afterSettle", later);
})();
