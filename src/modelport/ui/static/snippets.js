/*
 * "Call it from code": curl and Python snippets built from the model's OpenAPI document, that run
 * as printed. Each argument takes its example (else its default); the snippet holds the required
 * arguments and those whose value differs from the server's default: an example the form starts
 * with, or what the user changed in the try-it form on the same page (followed as they type).
 * Files are named by their declared media type (image/png -> image.png, application/zip ->
 * data.zip ...), so the reader knows what to put there.
 */
"use strict";
(function () {
  const forms = window.mpForms;
  if (!window.mp || !forms) return;

  /** A file name for each media type, by what the file holds. */
  const FILE_NAMES = {
    "image/png": "image.png", "image/jpeg": "image.jpg", "image/gif": "image.gif", "image/webp": "image.webp",
    "image/tiff": "image.tif", "image/bmp": "image.bmp", "application/zip": "data.zip",
    "application/x-zip-compressed": "data.zip", "application/gzip": "data.tar.gz", "application/x-tar": "data.tar",
    "application/x-ndjson": "records.ndjson", "application/ndjson": "records.ndjson", "application/jsonl": "records.jsonl",
    "application/json": "data.json", "text/csv": "data.csv", "text/plain": "text.txt", "application/pdf": "document.pdf",
    "application/x-npz": "data.npz", "application/x-numpy": "data.npy", "application/x-netcdf": "data.nc",
    "application/x-hdf5": "data.h5", "audio/wav": "audio.wav", "audio/x-wav": "audio.wav", "audio/mpeg": "audio.mp3",
    "video/mp4": "video.mp4", "application/xml": "data.xml", "text/xml": "data.xml", "application/yaml": "data.yaml",
  };
  const FAMILY_NAMES = { image: "image.png", audio: "audio.wav", video: "video.mp4", text: "text.txt" };
  /** Extensions for the answers a model may give (curl -o, Python write_bytes). */
  const RESULT_EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf", "application/zip": "zip", "text/csv": "csv" };

  /** The file a snippet names for an argument: by its declared media type, else by its name. */
  function fileName(name, types) {
    for (const type of types) {
      const base = type.split(";")[0].trim().toLowerCase();
      if (FILE_NAMES[base]) return FILE_NAMES[base];
      const [family, sub] = base.split("/");
      if (sub === "*" && FAMILY_NAMES[family]) return FAMILY_NAMES[family];
    }
    return `${name}.bin`;
  }

  /** Distinct names for several file arguments of the same type (image.png, image-2.png). */
  function distinct(name, used) {
    if (!used.has(name)) { used.add(name); return name; }
    const dot = name.indexOf(".");
    const [stem, ext] = dot < 0 ? [name, ""] : [name.slice(0, dot), name.slice(dot)];
    for (let n = 2; ; n++) {
      const candidate = `${stem}-${n}${ext}`;
      if (!used.has(candidate)) { used.add(candidate); return candidate; }
    }
  }

  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const isFileSchema = (doc, s) => forms.isFile(s) || (s.type === "array" && s.items && forms.isFile(forms.resolve(doc, s.items)));

  /** A value for a required argument without example or default (the reader replaces it). */
  function placeholder(s) {
    if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
    if (s.type === "integer" || s.type === "number") return s.minimum ?? s.exclusiveMinimum ?? 1;
    if (s.type === "boolean") return false;
    if (s.type === "array") return [];
    if (s.type === "object") return {};
    return "text";
  }

  /** What the form's control for ``name`` holds now, as the form would send it; undefined if empty. */
  function formValue(form, name, s, doc) {
    const control = form && form.elements.namedItem(name);
    if (!control || control instanceof RadioNodeList) return { found: false };
    if (control.type === "file") return { found: true, value: control.files.length ? control.files : undefined };
    if (control.type === "checkbox") return { found: true, value: control.checked };
    const raw = control.value;
    if (raw === "") return { found: true, value: undefined };
    if (Array.isArray(s.enum)) return { found: true, value: s.enum.find((v) => String(v) === raw) ?? raw };
    if (s.type === "integer" || s.type === "number") return { found: true, value: Number(raw) };
    if (s.type === "array") {
      const items = raw.split("\n").map((v) => v.trim()).filter(Boolean);
      const itemType = forms.resolve(doc, s.items || {}).type;
      return { found: true, value: itemType === "integer" || itemType === "number" ? items.map(Number) : items };
    }
    if (control.tagName === "TEXTAREA" && (s.type === "object" || s.type === undefined)) {
      try { return { found: true, value: JSON.parse(raw) }; } catch (err) { return { found: true, value: raw }; }
    }
    return { found: true, value: raw };
  }

  // -- rendering -------------------------------------------------------------------------------

  const shellQuote = (text) => `'${String(text).replace(/'/g, `'\\''`)}'`;
  const formText = (v) => (typeof v === "boolean" ? String(v) : v !== null && typeof v === "object" ? JSON.stringify(v) : String(v));
  const SAFE_FIELD = /^[\w.:/+, -]*$/;

  /** Names that cannot be keyword arguments of client.predict (Python's keywords, its own). */
  const PY_RESERVED = new Set(("False None True and as assert async await break class continue def del elif else " +
    "except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield " +
    "files version").split(" "));

  /** A Python literal for a JSON value. */
  function py(value) {
    if (value === null || value === undefined) return "None";
    if (typeof value === "boolean") return value ? "True" : "False";
    if (typeof value === "number") return Number.isFinite(value) ? String(value) : `float("${value}")`;
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value)) return `[${value.map(py).join(", ")}]`;
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`).join(", ")}}`;
  }

  function curlSnippet(call) {
    const lines = [`curl -X POST ${shellQuote(call.url)}`];
    if (call.auth) lines.push(`-H "Authorization: Bearer $MODELPORT_TOKEN"`);
    if (call.accept) lines.push(`-H ${shellQuote("Accept: " + call.accept)}`);
    for (const [name, value] of call.args) {
      for (const item of Array.isArray(value) ? value : [value]) {
        const text = formText(item);
        // -F reads "@file", "<file" and ";type=" in values: anything but plain text goes literally
        const literal = !SAFE_FIELD.test(text) || text.includes(";");
        lines.push(`${literal ? "--form-string" : "-F"} ${shellQuote(`${name}=${text}`)}`);
      }
    }
    for (const file of call.files) {
      lines.push(`-F ${shellQuote(`${file.name}=@${file.path}${file.type ? ";type=" + file.type : ""}`)}`);
    }
    if (call.output) lines.push(`-o ${shellQuote(call.output)}`);
    return lines.join(" \\\n  ");
  }

  function pythonSnippet(call) {
    const imports = [];
    if (call.auth) imports.push("import os");
    if (call.files.length || call.output) imports.push("from pathlib import Path");
    const head = (imports.length ? imports.join("\n") + "\n\n" : "") + "from modelport import Client\n\n";
    const token = call.auth ? ', token=os.environ["MODELPORT_TOKEN"]' : "";
    const params = [JSON.stringify(call.model)];
    if (call.files.length) {
      params.push(`files={${call.files.map((f) => `${JSON.stringify(f.name)}: Path(${JSON.stringify(f.path)})`).join(", ")}}`);
    }
    if (call.version) params.push(`version=${JSON.stringify(call.version)}`);
    if (call.accept) params.push(`accept=${JSON.stringify(call.accept)}`);
    for (const [name, value] of call.args) {
      const keyword = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !PY_RESERVED.has(name);
      params.push(keyword ? `${name}=${py(value)}` : `**{${JSON.stringify(name)}: ${py(value)}}`);
    }
    const oneLine = `client.predict(${params.join(", ")})`;
    const callText = oneLine.length <= 72 ? oneLine : `client.predict(\n        ${params.join(",\n        ")},\n    )`;
    const use = call.output ? `    Path(${JSON.stringify(call.output)}).write_bytes(result)\n` : "    print(result)\n";
    return `${head}with Client(${JSON.stringify(call.server)}${token}) as client:\n    result = ${callText}\n${use}`;
  }

  // -- the call ----------------------------------------------------------------------------------

  /** Everything a snippet needs, from the document and (when on the page) the try-it form. */
  function describeCall(ctx, form) {
    const { doc, target, schema, encoding } = ctx;
    const required = new Set(schema.required || []);
    const args = [], files = [], used = new Set();
    for (const [name, raw] of Object.entries(schema.properties || {})) {
      const s = forms.resolve(doc, raw);
      if (isFileSchema(doc, s)) {
        const chosen = formValue(form, name, s, doc).value;
        if (!required.has(name) && !chosen) continue;
        const types = forms.mediaTypes(s.type === "array" ? { ...forms.resolve(doc, s.items || {}), ...s } : s, encoding[name]);
        files.push({ name, path: distinct(fileName(name, types), used), type: types[0] || null });
        continue;
      }
      const now = formValue(form, name, s, doc);
      let value = now.found ? now.value : forms.initial(s);
      if (value === undefined || value === null) {
        if (!required.has(name)) continue; // left empty: the server's default
        value = forms.initial(s) ?? placeholder(s);
      }
      if (!required.has(name) && s.default !== undefined && same(value, s.default)) continue;
      args.push([name, value]);
    }
    let accept = null, output = null;
    if (ctx.acceptParam) {
      const choices = (ctx.acceptParam.schema.enum || []).filter((m) => m !== "*/*");
      const usual = ctx.acceptParam.schema.default || choices[0];
      const control = form && form.elements.namedItem("accept");
      const picked = (control && control.value) || usual;
      const json = /json/.test(picked || "");
      if (picked && picked !== "*/*" && (!json || picked !== usual)) accept = picked; // else: the usual JSON
      if (accept && !json && !/^text\//.test(accept)) {
        output = "result." + (RESULT_EXTENSIONS[accept] || accept.split("/")[1].replace(/[^a-z0-9]+/gi, "") || "bin");
      }
    }
    return {
      model: ctx.model, server: ctx.server, url: ctx.server + target.url, version: ctx.pinned ? ctx.version : null,
      auth: ctx.auth, args, files, accept, output,
    };
  }

  async function loadTarget(model, version) {
    if (version) return forms.versionTarget(model, version);
    const answer = await forms.modelDocument(model);
    return { answer, target: answer.ok ? forms.predictOperation(answer.data, model, null) : null, fallback: false };
  }

  async function setUp(box) {
    const model = box.dataset.model, server = box.dataset.server, version = box.dataset.version;
    const { answer, target, fallback } = await loadTarget(model, version);
    const status = box.querySelector("[data-snippets-status]");
    if (!answer.ok || !target) {
      box.dataset.state = "unavailable";
      if (status) status.textContent = "The model's arguments could not be read, so the snippets show the general form of a call.";
      return;
    }
    const preferred = ["multipart/form-data", "application/x-www-form-urlencoded", "application/json"];
    const content = (target.op.requestBody || {}).content || {};
    const media = preferred.find((m) => content[m]) || Object.keys(content)[0];
    const ctx = {
      model, server, version, pinned: Boolean(version) && !fallback, auth: box.dataset.auth === "true",
      doc: answer.data, target, schema: forms.argsSchema(answer.data, target.op, preferred),
      encoding: (media && content[media].encoding) || {},
      acceptParam: (target.op.parameters || []).find((p) => p.name === "accept" && (p.in === "header" || p.in === "query")),
    };
    const formOf = () => document.getElementById("predict-form");
    const render = () => {
      const form = formOf();
      const call = describeCall(ctx, form && form.elements.length ? form : null);
      box.querySelector('[data-snippet="curl"]').textContent = curlSnippet(call);
      box.querySelector('[data-snippet="python"]').textContent = pythonSnippet(call);
      const files = box.querySelector("[data-snippet-files]");
      if (files) {
        files.hidden = !call.files.length;
        files.textContent = call.files.length
          ? `Put the file${call.files.length > 1 ? "s" : ""} to send next to where you run it: ${call.files.map((f) => f.path + (f.type ? ` (${f.type})` : "")).join(", ")}.`
          : "";
      }
      box.dataset.state = "ready";
    };
    const follow = (event) => {
      const form = formOf();
      if (form && form.contains(event.target)) render();
    };
    document.addEventListener("input", follow);
    document.addEventListener("change", follow);
    // the form is built from the same document meanwhile: render again once it has its fields
    const form = formOf();
    if (form) new MutationObserver(() => render()).observe(form, { childList: true });
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.querySelector("[data-snippets]");
    if (box) setUp(box);
  });
})();
