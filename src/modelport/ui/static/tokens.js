/* The API tokens page: create (the secret shown once), list and revoke, over /auth/tokens. */
"use strict";
(function () {
  const { el, api, messageOf, showFieldErrors } = window.mp;

  function when(value) { return value ? new Date(value).toLocaleString() : "—"; }

  async function load(box) {
    const result = await api("GET", "/auth/tokens");
    if (!result.ok) { box.replaceChildren(el("p", { class: "error-box" }, messageOf(result))); return; }
    const tokens = Array.isArray(result.data) ? result.data : result.data.tokens || [];
    if (!tokens.length) { box.replaceChildren(el("p", { class: "empty" }, "No tokens yet.")); return; }
    box.replaceChildren(el("table", { class: "tokens" },
      el("thead", {}, el("tr", {}, ["Name", "Scopes", "Created", "Expires", "Last used", "State", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, tokens.map((t) => {
        const state = t.revoked_at ? "revoked" : t.expires_at && new Date(t.expires_at) < new Date() ? "expired" : "active";
        if (state === "active" && t.id === box.dataset.current) {
          // revoking the session this page runs on would sign out without saying so
          return el("tr", { class: "current" }, el("td", {}, t.name, el("span", { class: "hint" }, " (this browser)")),
            el("td", {}, (t.scopes || []).join(", ")), el("td", {}, when(t.created_at)), el("td", {}, when(t.expires_at)),
            el("td", {}, when(t.last_used_at)), el("td", {}, state), el("td", {}, "Sign out to end it"));
        }
        const revoke = state === "active" ? el("button", { type: "button", "aria-label": `Revoke token ${t.name}`, onclick: async () => {
          const answer = await api("DELETE", `/auth/tokens/${encodeURIComponent(t.id)}`);
          if (!answer.ok) window.alert(messageOf(answer));
          load(box);
        } }, "Revoke") : null;
        return el("tr", {}, el("td", {}, t.name), el("td", {}, (t.scopes || []).join(", ")), el("td", {}, when(t.created_at)),
          el("td", {}, when(t.expires_at)), el("td", {}, when(t.last_used_at)), el("td", {}, state), el("td", {}, revoke));
      }))));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("tokens");
    const form = document.getElementById("token-form");
    if (!box || !form) return;
    load(box);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = form.elements.name.value.trim();
      const scopes = Array.from(form.querySelectorAll('input[name="scopes"]:checked')).map((c) => c.value);
      const days = Number(form.elements.expires_in_days.value) || null;
      const general = document.getElementById("token-error");
      if (!name) { showFieldErrors(form, { name: ["Give the token a name."] }, general); return; }
      const result = await api("POST", "/auth/tokens", { json: { name, scopes, expires_in_days: days } });
      if (!result.ok) {
        if (result.status === 422 && result.data && !result.data.message) showFieldErrors(form, result.data, general);
        else general.textContent = messageOf(result);
        return;
      }
      const shown = document.getElementById("new-token");
      const value = document.getElementById("new-token-value");
      value.value = result.data.token;
      shown.hidden = false;
      value.focus();
      value.select();
      form.reset();
      load(box);
    });
  });
})();
