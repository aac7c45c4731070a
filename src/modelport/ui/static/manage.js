/* The module page, for its owner (or an admin): yank and unyank versions, set, move and remove aliases. */
"use strict";
(function () {
  const { api, failureOf: failure } = window.mp;

  function setUp(head) {
    const module = encodeURIComponent(head.dataset.module);
    const versionsError = document.getElementById("versions-error");
    const done = (result, slot) => {
      if (result.ok) { window.location.reload(); return; }
      if (slot) slot.textContent = failure(result);
    };

    document.querySelectorAll("form[data-yank]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const slot = form.querySelector(".error");
        const input = form.elements.reason;
        const reason = input.value.trim();
        slot.textContent = "";
        input.removeAttribute("aria-invalid");
        if (!reason) {
          slot.textContent = "Give a reason: it is shown next to the version.";
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        const version = encodeURIComponent(form.dataset.yank);
        const result = await api("POST", `/catalog/modules/${module}/versions/${version}/yank`, { json: { reason } });
        if (!result.ok) input.setAttribute("aria-invalid", "true");
        done(result, slot);
      });
    });

    document.querySelectorAll("[data-unyank]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        const version = encodeURIComponent(button.dataset.unyank);
        const result = await api("DELETE", `/catalog/modules/${module}/versions/${version}/yank`);
        button.disabled = false;
        done(result, versionsError);
      });
    });

    document.querySelectorAll("[data-remove-alias]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        const alias = encodeURIComponent(button.dataset.removeAlias);
        const result = await api("DELETE", `/catalog/modules/${module}/aliases/${alias}`);
        button.disabled = false;
        done(result, document.getElementById("alias-error"));
      });
    });

    const aliasForm = document.getElementById("alias-form");
    if (aliasForm) {
      aliasForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const slot = document.getElementById("alias-error");
        const input = aliasForm.elements.alias;
        const alias = input.value.trim();
        slot.textContent = "";
        if (!alias) { slot.textContent = "Name the alias, e.g. stable."; input.focus(); return; }
        const result = await api("PUT", `/catalog/modules/${module}/aliases/${encodeURIComponent(alias)}`,
          { json: { version: aliasForm.elements.version.value } });
        done(result, slot);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const head = document.querySelector(".module-head[data-module]");
    if (head && (document.querySelector("[data-yank], [data-unyank], #alias-form"))) setUp(head);
  });
})();
