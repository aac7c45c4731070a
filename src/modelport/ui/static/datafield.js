/* A train argument that takes data: one control offering "upload a file" (chunked, resumable,
 * with progress), "choose from my data" and the module's demo data. The value sent to the
 * train route is ``data://<name>`` (a file of the user's data area) or the demo value.
 *
 * The data area's API (under the platform's base path):
 *   GET  {base}/data/        → {"files": [{"name", "size", "modified"}], "used": int, "quota": int|null}
 *   PUT  {base}/data/{name}  one chunk of at most 8 MiB; ``Content-Range: bytes START-END/TOTAL``
 *        unless the file is one chunk → {"name", "size", "complete": bool, "offset": int};
 *        409 {"offset": N} → resume from N; no body and ``Content-Range: bytes <star>/TOTAL``
 *        asks where an upload stands (a file of several chunks asks first: it resumes one cut
 *        short).
 */
"use strict";
(function () {
  const { el, api, base } = window.mp;

  const CHUNK = 8 * 1024 * 1024;
  const SCHEME = "data://";

  /** Whether an argument takes data: it carries ``x-modelport-data`` or is a binary file. */
  function isDataField(s) {
    const ext = s["x-modelport-data"];
    return (ext !== null && typeof ext === "object" && !Array.isArray(ext)) || ext === true || (s.type === "string" && s.format === "binary");
  }

  function size(bytes) {
    if (bytes === null || bytes === undefined) return "";
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }

  /** One PUT of ``blob`` to the data area, reporting bytes sent; resolves {status, data}. */
  function put(name, blob, range, onProgress) {
    return new Promise((done) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", `${base}/data/${encodeURIComponent(name)}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      if (range) xhr.setRequestHeader("Content-Range", range);
      xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
        done({ status: xhr.status, data });
      });
      xhr.addEventListener("error", () => done({ status: 0, data: { message: "The server could not be reached." } }));
      xhr.addEventListener("abort", () => done({ status: 0, data: { message: "The upload was stopped." } }));
      xhr.send(blob);
    });
  }

  const messageOf = (answer) => (answer.data && typeof answer.data.message === "string" ? answer.data.message
    : answer.data && typeof answer.data === "object" ? Object.values(answer.data).flat().join(" ") : `HTTP ${answer.status}`);

  /**
   * Upload ``file`` as ``name`` in chunks, resuming where the server says (409 {"offset"});
   * ``onProgress(sent, total)``. Resolves the last answer's data, or throws Error(message).
   */
  async function upload(file, name, onProgress) {
    const total = file.size;
    let offset = 0, conflicts = 0, last = null;
    if (total > CHUNK) {  // an upload cut short goes on where the server stands
      const where = await put(name, new Blob([]), `bytes */${total}`, () => {});
      const have = where.data && where.data.offset;
      if (where.status >= 200 && where.status < 300 && Number.isInteger(have) && have > 0 && have < total) {
        offset = have;
        onProgress(offset, total);
      }
    }
    for (;;) {
      const end = Math.min(offset + CHUNK, total);
      const range = total > CHUNK ? `bytes ${offset}-${Math.max(end - 1, offset)}/${total}` : null;
      const answer = await put(name, file.slice(offset, end), range, (loaded) => onProgress(offset + loaded, total));
      if (answer.status === 409 && answer.data && Number.isInteger(answer.data.offset) && conflicts < 5) {
        conflicts++;
        offset = answer.data.offset;  // the server has the file up to here: go on from there
        if (offset >= total) return answer.data;
        continue;
      }
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(answer.status === 0 ? messageOf(answer) : `the upload failed (HTTP ${answer.status}): ${messageOf(answer)}`);
      }
      last = answer.data || {};
      if (last.complete || end >= total) return last;
      offset = Number.isInteger(last.offset) ? last.offset : end;
      onProgress(offset, total);
    }
  }

  /**
   * The control for argument ``spec.name``: {node, read()}. ``spec``: {name, schema, label,
   * required, hints, types (media types), accept (the file input's filter)}.
   */
  function control(spec) {
    const { name, schema, label, required } = spec;
    const ext = (schema["x-modelport-data"] && typeof schema["x-modelport-data"] === "object") ? schema["x-modelport-data"] : {};
    const demo = ext.demo ?? null;
    const id = "arg-" + name, hintId = "hint-" + name, errId = "err-" + name, legendId = "legend-" + name;
    const hints = [...(spec.hints || [])];
    if (spec.types && spec.types.length) hints.push("accepts " + spec.types.join(", "));
    let uploaded = null, uploading = false;

    const choice = (value, text) => {
      const radio = el("input", { type: "radio", name: `${name}-source`, id: `${id}-source-${value}`, value });
      return { radio, node: el("div", { class: "check" }, radio, el("label", { for: radio.id }, text)) };
    };
    const choices = {
      upload: choice("upload", "Upload a file"),
      mine: choice("mine", "Choose from my data"),
      demo: demo !== null ? choice("demo", `Demo data (${demo})`) : null,
    };

    // upload a file
    const file = el("input", { type: "file", id: `${id}-file`, accept: spec.accept, "aria-describedby": `${id}-upload-status ${errId}` });
    const bar = el("progress", { id: `${id}-progress`, max: 1, value: 0, hidden: true, "aria-label": `Upload of ${name}` });
    const upStatus = el("p", { class: "hint", id: `${id}-upload-status`, role: "status", "aria-live": "polite" });
    const uploadPanel = el("div", { class: "data-panel", "data-panel": "upload" },
      el("label", { for: file.id }, "File to upload"), file, el("div", { class: "progress-row" }, bar), upStatus);

    // choose from my data
    const select = el("select", { id: `${id}-mine`, "aria-describedby": `${id}-mine-status ${errId}` });
    const mineStatus = el("p", { class: "hint", id: `${id}-mine-status`, role: "status", "aria-live": "polite" }, "Loading your data…");
    const minePanel = el("div", { class: "data-panel", "data-panel": "mine" },
      el("label", { for: select.id }, "Your file"), select, mineStatus);

    const demoPanel = demo !== null ? el("div", { class: "data-panel", "data-panel": "demo" },
      el("p", { class: "hint" }, `The module's demo data ("${demo}"): nothing to upload.`)) : null;

    const group = el("div", { role: "radiogroup", id, class: "data-choices", "aria-labelledby": legendId, "aria-describedby": [hints.length ? hintId : null, errId].filter(Boolean).join(" ") },
      Object.values(choices).filter(Boolean).map((c) => c.node));
    const node = el("fieldset", { class: "field data-field", "data-arg": name },
      el("legend", { id: legendId }, label, required ? el("span", { class: "req" }, " (required)") : null),
      hints.length ? el("p", { class: "hint", id: hintId }, hints.join(" · ")) : null,
      group, uploadPanel, minePanel, demoPanel,
      el("p", { class: "error", id: errId }));

    const panels = { upload: uploadPanel, mine: minePanel, demo: demoPanel };
    const current = () => Object.entries(choices).find(([, c]) => c && c.radio.checked)?.[0] || null;
    const show = () => { for (const [key, panel] of Object.entries(panels)) if (panel) panel.hidden = current() !== key; };
    for (const c of Object.values(choices)) if (c) c.radio.addEventListener("change", show);

    function fill(files, chosen) {
      select.replaceChildren(
        el("option", { value: "" }, files.length ? "— choose a file —" : "(no files yet)"),
        ...files.map((f) => el("option", { value: f.name, selected: f.name === chosen || null }, `${f.name} (${size(f.size)})`)));
    }

    async function refresh(chosen) {
      const answer = await api("GET", "/data/");
      if (!answer.ok || !answer.data || !Array.isArray(answer.data.files)) {
        fill([], null);
        select.disabled = true;
        mineStatus.textContent = answer.status === 401 ? "Sign in to use your data."
          : `Your data area is not available here (${answer.data && answer.data.message ? answer.data.message : "HTTP " + answer.status}).`;
        return [];
      }
      select.disabled = false;
      const { files, used, quota } = answer.data;
      fill(files, chosen);
      mineStatus.textContent = `${files.length} file${files.length === 1 ? "" : "s"}, ${size(used)} used` + (quota ? ` of ${size(quota)}` : "") + ".";
      return files;
    }

    file.addEventListener("change", async () => {
      const chosen = file.files[0];
      uploaded = null;
      if (!chosen) return;
      uploading = true;
      bar.hidden = false;
      bar.value = 0;
      upStatus.textContent = `Uploading ${chosen.name} (${size(chosen.size)})…`;
      try {
        const done = await upload(chosen, chosen.name, (sent, total) => {
          bar.value = total ? sent / total : 1;
          upStatus.textContent = `Uploading ${chosen.name}: ${total ? Math.floor((sent / total) * 100) : 100}%`;
        });
        uploaded = done.name || chosen.name;
        bar.value = 1;
        upStatus.textContent = `Uploaded ${uploaded} (${size(done.size ?? chosen.size)}): it is in your data now.`;
        refresh(uploaded);
      } catch (err) {
        upStatus.textContent = `${chosen.name}: ${err.message}`;
      } finally {
        uploading = false;
      }
    });

    refresh(null).then((files) => {
      const start = demo !== null ? "demo" : files.length ? "mine" : "upload";
      choices[start].radio.checked = true;
      show();
    });
    show();

    function read() {
      const source = current();
      if (source === "demo") return demo;
      if (source === "mine") {
        if (!select.value) { if (required) throw { field: name, message: "Choose one of your files." }; return undefined; }
        return SCHEME + select.value;
      }
      if (source === "upload") {
        if (uploading) throw { field: name, message: "The upload is not finished yet: wait for it, then start again." };
        if (!uploaded) { if (required) throw { field: name, message: "Choose a file to upload." }; return undefined; }
        return SCHEME + uploaded;
      }
      if (required) throw { field: name, message: "Choose where the data comes from." };
      return undefined;
    }
    return { node, read };
  }

  window.mpData = { isDataField, control, upload, CHUNK };
})();
