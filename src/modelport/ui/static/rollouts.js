/* The module page's rollouts, for its owner (or an admin): start one (PUT .../rollouts/{alias},
   the API's 422s shown next to the fields they name), set the canary's weight, promote, roll
   back, end. Plain forms and buttons (keyboard usable); errors go to the rollout's alert. */
"use strict";
(function () {
  const { api, messageOf, failureOf: failure } = window.mp;

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

  /** The "Start a rollout" form: its fields become RolloutSpec's JSON (the error-rate margin,
      given in percent, as a fraction); a 422's messages go next to the fields they name
      (ids rs-err-<field>, "policy.x" as "policy-x"), the rest to the form's alert. */
  function setUpStart(form, head) {
    const module = encodeURIComponent(head.dataset.module);
    const field = (id) => document.getElementById(id);
    const general = field("rs-error");
    const aliases = JSON.parse(form.dataset.aliases || "{}");
    const alias = field("rs-alias");
    const primary = field("rs-primary");
    const canary = field("rs-canary");

    // until a primary is chosen, it follows the alias typed: where it points now, else latest
    let chosen = false;
    primary.addEventListener("change", () => { chosen = true; });
    canary.addEventListener("change", () => { chosen = true; });
    alias.addEventListener("input", () => {
      if (chosen) return;
      const wanted = aliases[alias.value.trim()] || form.dataset.latest;
      if ([...primary.options].some((o) => o.value === wanted)) primary.value = wanted;
      if (canary.value === primary.value) {
        const other = [...canary.options].find((o) => o.value !== primary.value);
        if (other) canary.value = other.value;
      }
    });

    function clear() {
      form.querySelectorAll(".error").forEach((node) => { node.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    }

    function show(errors) {
      const rest = [];
      let marked = 0;
      for (const [key, messages] of Object.entries(errors)) {
        const slotId = "rs-err-" + key.replace(/\./g, "-");
        const slot = form.querySelector("#" + CSS.escape(slotId));
        const text = [].concat(messages).join(" ");
        if (!slot) { rest.push(key + ": " + text); continue; }
        slot.textContent = text;
        const control = form.querySelector('[aria-describedby~="' + CSS.escape(slotId) + '"]');
        if (control) control.setAttribute("aria-invalid", "true");
        marked += 1;
      }
      general.textContent = (marked ? "Check the fields marked above. " : "") + rest.join(" ");
      const first = form.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear();
      const problems = {};
      const number = (id, key, required) => {
        const raw = field(id).value.trim();
        if (raw === "") {
          if (required) problems[key] = ["Give a number."];
          return null;
        }
        return Number(raw);
      };
      const name = alias.value.trim();
      if (!name) problems.alias = ["Name the alias, e.g. stable."];
      const weight = number("rs-weight", "weight", true);
      const windowSeconds = number("rs-window", "policy.window_seconds", true);
      const minRequests = number("rs-min", "policy.min_requests", true);
      const margin = number("rs-margin", "policy.error_rate_margin", true);
      if (margin !== null && !(margin >= 0 && margin <= 100)) {
        problems["policy.error_rate_margin"] = ["A margin is a percentage, 0 to 100."];
      }
      const p95 = number("rs-p95", "policy.p95_margin_ms", false);
      if (Object.keys(problems).length) { show(problems); return; }
      const sticky = field("rs-sticky").value.trim();
      const body = {
        primary: primary.value,
        canary: canary.value,
        weight,
        shadow: field("rs-shadow").value || null,
        sticky_header: sticky || null,
        policy: {
          enabled: field("rs-enabled").checked,
          window_seconds: windowSeconds,
          min_requests: minRequests,
          error_rate_margin: margin / 100,
          p95_margin_ms: p95,
        },
      };
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      const result = await api("PUT", `/catalog/modules/${module}/rollouts/${encodeURIComponent(name)}`, { json: body });
      button.disabled = false;
      if (result.ok) { window.location.reload(); return; }
      const data = result.data;
      if (result.status === 422 && data && typeof data === "object" && typeof data.message !== "string") show(data);
      else general.textContent = messageOf(result);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const head = document.querySelector(".module-head[data-module]");
    if (!head) return;
    if (document.querySelector("[data-rollout-action], [data-rollout-weight]")) setUp(head);
    const start = document.getElementById("rollout-start-form");
    if (start) setUpStart(start, head);
  });
})();
