/* modelport dashboard: shared helpers (no framework, no build step). */
"use strict";
(function () {
  const body = document.body;
  const base = body.dataset.base || "";
  const ui = body.dataset.ui || base + "/dashboard";

  /** Create an element: el("p", {class: "x"}, "text", child, ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** fetch() returning {ok, status, data, response}; data is parsed JSON when the body is JSON. */
  async function api(method, path, options) {
    const init = Object.assign({ method, headers: { Accept: "application/json" } }, options || {});
    if (init.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(init.json);
      delete init.json;
    }
    let response;
    try {
      response = await fetch(path.startsWith("http") ? path : base + path, init);
    } catch (err) {
      return { ok: false, status: 0, data: { message: "The server could not be reached: " + err.message } };
    }
    const type = response.headers.get("content-type") || "";
    let data = null;
    if (type.includes("json")) {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    return { ok: response.ok, status: response.status, data, response };
  }

  /** A readable message from an error answer. */
  function messageOf(result) {
    const data = result.data;
    if (data && typeof data.message === "string") return data.message;
    if (data && typeof data === "object") {
      return Object.entries(data).map(([k, v]) => k + ": " + [].concat(v).join(" ")).join("; ");
    }
    return "The request failed (HTTP " + result.status + ").";
  }

  /** A 422's messages (any field) as one line, or the failure's message. */
  function failureOf(result) {
    const data = result.data;
    if (result.status === 422 && data && typeof data === "object" && typeof data.message !== "string") {
      return Object.values(data).flat().join(" ");
    }
    return messageOf(result);
  }

  /**
   * Show a 422 body's messages next to their fields (ids err-<name>); the rest in fallback.
   * Returns whether every message found its field.
   */
  function showFieldErrors(form, errors, fallback, prefixes) {
    clearErrors(form);
    const rest = [];
    for (const [key, messages] of Object.entries(errors || {})) {
      let name = key;
      for (const prefix of prefixes || []) if (name.startsWith(prefix)) name = name.slice(prefix.length);
      const slot = document.getElementById("err-" + name);
      const text = [].concat(messages).join(" ");
      if (slot && form.contains(slot)) {
        slot.textContent = text;
        const control = form.querySelector('[aria-describedby~="err-' + CSS.escape(name) + '"]');
        if (control) control.setAttribute("aria-invalid", "true");
      } else {
        rest.push(key + ": " + text);
      }
    }
    if (fallback) fallback.textContent = rest.join(" ");
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
    return rest.length === 0;
  }

  function clearErrors(form) {
    form.querySelectorAll(".error").forEach((node) => { node.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  window.mp = { base, ui, el, api, messageOf, failureOf, showFieldErrors, clearErrors };

  // Sign out: POST /auth/logout answers 204 (no page to show), so go to the catalog afterwards,
  // which then offers to sign in again.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-sign-out")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    const result = await api("POST", "/auth/logout");
    if (!result.ok && result.status !== 401) {
      if (button) button.disabled = false;
      window.alert(messageOf(result));
      return;
    }
    window.location.assign(ui + "/");
  });
})();
