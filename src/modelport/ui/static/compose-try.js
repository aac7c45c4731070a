/* The pipeline composer's try-it form: built from a checked document's inputs schema, posted as
 * multipart/form-data to /pipelines/try; shows the answer and each step's Server-Timing. */
"use strict";
(function () {
  const { api, el } = window.mp;
  const S = window.mpSchema;
  const $ = (id) => document.getElementById(id);

  function field(id, labelText, control, extra) {
    return el("div", { class: "field" }, el("label", { for: id }, labelText), control, extra);
  }

  /** The form of a pipeline's inputs (a checked document's ``inputs`` JSON schema). */
  function tryForm(schema) {
    const form = $("try-form");
    const required = schema.required || [];
    const rows = Object.entries(schema.properties || {}).map(([name, sub], k) => {
      const id = "try-" + k;
      const kind = S.plain(sub).type;
      let control;
      if (S.isFile(S.plain(sub))) control = el("input", { id, name, type: "file" });
      else if (kind === "integer" || kind === "number") control = el("input", { id, name, type: "number", step: kind === "integer" ? 1 : "any" });
      else if (kind === "boolean") control = el("select", { id, name }, el("option", { value: "" }, "—"), el("option", { value: "true" }, "true"), el("option", { value: "false" }, "false"));
      else control = el("input", { id, name, autocomplete: "off" });
      if (required.includes(name)) control.required = true;
      return field(id, [name, required.includes(name) ? el("span", { class: "req" }, " (required)") : null], control,
        el("p", { class: "hint" }, S.describe(sub)));
    });
    const run = el("button", { type: "submit", class: "primary", id: "try-button" }, "Try it");
    form.replaceChildren(...rows, el("div", { class: "actions" }, run));
  }

  /** Run the document on the form's values; ``composer``: {documentOf, failureOf, say}. */
  async function tryIt(event, composer) {
    const { documentOf, failureOf, say } = composer;
    event.preventDefault();
    const form = event.target, box = $("try-result");
    const body = new FormData();
    body.append("document", JSON.stringify(documentOf()));
    for (const control of form.querySelectorAll("input, select")) {
      if (control.type === "file") { for (const file of control.files) body.append(control.name, file, file.name); }
      else if (control.value !== "") body.append(control.name, control.value);
    }
    const button = $("try-button");
    button.disabled = true;
    box.replaceChildren(el("p", { class: "loading" }, "Running the pipeline…"));
    const result = await api("POST", "/pipelines/try", { body });
    button.disabled = false;
    if (!result.ok) {
      const data = result.data || {};
      if (typeof data.step === "string") {
        const where = data.item !== null && data.item !== undefined ? ` (item ${data.item})` : "";
        box.replaceChildren(el("p", { class: "error-box" }, `Step ${data.step}${where} failed (HTTP ${result.status}): ${data.message}`),
          data.detail ? el("pre", {}, JSON.stringify(data.detail, null, 2)) : null);
        box.focus();
        say("The pipeline failed.");
        return;
      }
      failureOf(box, result, "The try was refused");
      return;
    }
    const shown = [el("p", { class: "ok" }, "✓ The pipeline answered:")];
    if (result.data !== null) {
      shown.push(el("pre", { id: "try-answer", tabindex: "0" }, JSON.stringify(result.data, null, 2)));
    } else {
      const blob = await result.response.blob();
      const url = URL.createObjectURL(blob);
      shown.push(blob.type.startsWith("image/") ? el("img", { src: url, alt: "The pipeline's answer", class: "answer-image" })
        : el("a", { href: url, download: "answer" }, `Download the answer (${blob.size} bytes, ${blob.type || "a file"})`));
    }
    const timing = timings(result.response.headers.get("server-timing") || "");
    if (timing.length) {
      shown.push(el("table", { class: "timings" }, el("caption", {}, "Time per step (Server-Timing)"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "step"), el("th", { scope: "col" }, "ms"), el("th", { scope: "col" }, "answered by"))),
        el("tbody", {}, timing.map((t) => el("tr", {}, el("th", { scope: "row" }, t.name), el("td", {}, t.ms), el("td", {}, t.desc))))));
    }
    box.replaceChildren(...shown);
    box.focus();
    say("The pipeline answered.");
  }

  function timings(header) {
    const found = [];
    for (const m of header.matchAll(/\s*([^;,\s]+);dur=([\d.]+)(?:;desc="([^"]*)")?/g)) {
      found.push({ name: m[1], ms: m[2], desc: m[3] || "" });
    }
    return found;
  }

  window.mpComposeTry = { tryForm, tryIt };
})();
