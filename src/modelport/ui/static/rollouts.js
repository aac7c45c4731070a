/* The module page's rollouts, for its owner (or an admin): set the canary's weight, promote,
   roll back, end. Plain forms and buttons (keyboard usable); errors go to the rollout's alert. */
"use strict";
(function () {
  const { api, messageOf } = window.mp;

  function failure(result) {
    const data = result.data;
    if (result.status === 422 && data && typeof data === "object" && typeof data.message !== "string") {
      return Object.values(data).flat().join(" ");
    }
    return messageOf(result);
  }

  function setUp(head) {
    const module = encodeURIComponent(head.dataset.module);
    const base = (alias) => `/catalog/modules/${module}/rollouts/${encodeURIComponent(alias)}`;
    const slotOf = (alias) => document.getElementById(`rollout-error-${alias}`);
    const done = (result, alias) => {
      if (result.ok) { window.location.reload(); return; }
      slotOf(alias).textContent = failure(result);
    };

    document.querySelectorAll("form[data-rollout-weight]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const alias = form.dataset.rolloutWeight;
        const input = form.elements.weight;
        const weight = Number(input.value);
        input.removeAttribute("aria-invalid");
        if (input.value.trim() === "" || !(weight >= 0 && weight <= 100)) {
          slotOf(alias).textContent = "A weight is a percentage, 0 to 100.";
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        done(await api("POST", `${base(alias)}/weight`, { json: { weight } }), alias);
      });
    });

    document.querySelectorAll("[data-rollout-action]").forEach((button) => {
      button.addEventListener("click", async () => {
        const alias = button.dataset.alias;
        const action = button.dataset.rolloutAction;
        button.disabled = true;
        let result;
        if (action === "end") result = await api("DELETE", base(alias));
        else if (action === "rollback") result = await api("POST", `${base(alias)}/rollback`, { json: { reason: "rolled back from the dashboard" } });
        else result = await api("POST", `${base(alias)}/${action}`);
        button.disabled = false;
        done(result, alias);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const head = document.querySelector(".module-head[data-module]");
    if (head && document.querySelector("[data-rollout-action], [data-rollout-weight]")) setUp(head);
  });
})();
