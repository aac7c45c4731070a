/* The "My data" page: list, download, delete; uploads through datafield.js (chunked, resumable). */
"use strict";
(function () {
  const { el, api, messageOf } = window.mp;
  function size(bytes) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit ? value.toFixed(1) + " " + units[unit] : value + " B";
  }

  function dataPath(name) { return "/data/" + name.split("/").map(encodeURIComponent).join("/"); }

  async function load(box) {
    const result = await api("GET", "/data/");
    if (!result.ok) { box.replaceChildren(el("p", { class: "error-box" }, messageOf(result))); return; }
    const { files, used, quota } = result.data;
    const summary = el("p", { class: "hint", id: "data-usage" },
      `${files.length} file${files.length === 1 ? "" : "s"}, ${size(used)} used` + (quota === null ? "" : ` of ${size(quota)}`));
    if (!files.length) {
      box.replaceChildren(summary, el("p", { class: "empty" }, "No files yet: upload one above."));
      return;
    }
    box.replaceChildren(summary, el("div", { class: "table-box" }, el("table", { class: "data-files" },
      el("thead", {}, el("tr", {}, ["Name", "Size", "Changed", "Train on it as", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, files.map((f) => el("tr", {},
        el("td", {}, el("a", { href: (document.body.dataset.base || "") + dataPath(f.name), download: f.name.split("/").pop() }, f.name)),
        el("td", { class: "num" }, size(f.size)),
        el("td", {}, new Date(f.modified).toLocaleString()),
        el("td", {}, el("code", {}, "data://" + f.name)),
        el("td", {}, el("button", { type: "button", "aria-label": `Delete ${f.name}`, onclick: async () => {
          if (!window.confirm(`Delete ${f.name}?`)) return;
          const answer = await api("DELETE", dataPath(f.name));
          if (!answer.ok) window.alert(messageOf(answer));
          load(box);
        } }, "Delete"))))))));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("data-files");
    const form = document.getElementById("data-form");
    if (!box || !form) return;
    load(box);
    const input = form.elements.file;
    const bar = document.getElementById("data-progress");
    const status = document.getElementById("data-status");
    const error = document.getElementById("err-file");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      if (!input.files.length) {
        error.textContent = "Choose a file to upload.";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      for (const file of input.files) {
        const name = (form.elements.folder.value.trim().replace(/^\/+|\/+$/g, "") + "/" + file.name).replace(/^\//, "");
        bar.hidden = false;
        bar.value = 0;
        try {
          await window.mpData.upload(file, name, (sent, total) => {
            bar.max = total || 1;
            bar.value = sent;
            status.textContent = `Uploading ${file.name}: ${size(sent)} of ${size(total)}`;
          });
        } catch (err) {
          error.textContent = err.message;
          input.setAttribute("aria-invalid", "true");
          status.textContent = "";
          return;
        }
        status.textContent = `Uploaded ${file.name}: train on it as data://${name}`;
      }
      form.reset();
      load(box);
    });
  });
})();
