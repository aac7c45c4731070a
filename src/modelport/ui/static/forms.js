/* Try-it and training forms generated from a model's OpenAPI document, and result rendering. */
"use strict";
(function () {
  const { el, api, messageOf, clearErrors, ui } = window.mp;

  // -- the model's OpenAPI document ------------------------------------------------------------

  async function modelDocument(model) {
    return api("GET", `/v2/models/${encodeURIComponent(model)}/openapi.json`);
  }

  /**
   * The document and predict operation for a pinned version. The platform (``modelport up``)
   * serves every catalog version: its own document comes from its worker, and it is called at
   * ``.../versions/{ref}/predict/``. A server without version routes (``serve --catalog``)
   * answers 404: then the model's one document, and {fallback: true}.
   */
  async function versionTarget(model, version) {
    const name = encodeURIComponent(model), ref = encodeURIComponent(version);
    const pinned = await api("GET", `/v2/models/${name}/versions/${ref}/openapi.json`);
    if (pinned.ok) {
      const found = predictOperation(pinned.data, model, null);
      return { answer: pinned, target: found && { ...found, url: predictRoute(model, version) } };
    }
    if (pinned.status !== 404 && pinned.status !== 405) return { answer: pinned, target: null };
    const answer = await modelDocument(model);
    return { answer, target: answer.ok ? predictOperation(answer.data, model, version) : null, fallback: true };
  }

  function lookup(doc, ref) {
    return ref.replace(/^#\//, "").split("/").reduce((node, key) => (node ? node[decodeURIComponent(key)] : undefined), doc);
  }

  /** A schema with $ref, allOf and nullable anyOf resolved; {nullable} says null was allowed. */
  function resolve(doc, schema) {
    let node = schema || {};
    const extra = {};
    for (let depth = 0; depth < 20; depth++) {
      if (node.$ref) {
        const { $ref, ...rest } = node;
        Object.assign(extra, rest);
        node = lookup(doc, $ref) || {};
      } else if (Array.isArray(node.allOf) && node.allOf.length === 1) {
        const { allOf, ...rest } = node;
        Object.assign(extra, rest);
        node = allOf[0];
      } else if (Array.isArray(node.anyOf || node.oneOf)) {
        const options = node.anyOf || node.oneOf;
        const real = options.filter((o) => o.type !== "null");
        if (real.length !== 1) break;
        const { anyOf, oneOf, ...rest } = node;
        Object.assign(extra, rest, { nullable: real.length < options.length });
        node = real[0];
      } else break;
    }
    return Object.assign({}, node, extra);
  }

  function operations(doc) {
    const found = [];
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(item || {})) found.push({ path, method, op });
    }
    return found;
  }

  /**
   * The platform's own predict route for the model (a pinned version's when asked). Never a
   * path from the module's document: that is the module's to write, and a form posting the
   * user's input (with their session) wherever it says would be the module's to aim.
   */
  function predictRoute(model, version) {
    const name = encodeURIComponent(model);
    if (version) return `/v2/models/${name}/versions/${encodeURIComponent(version)}/predict/`;
    return `/v2/models/${name}/predict/`;
  }

  /** The predict operation (its arguments) and the route it is called at: the version's when
   * the document has version routes and a version is asked for, else the model's. */
  function predictOperation(doc, model, version) {
    const ops = operations(doc).filter((o) => o.method === "post" && /\/predict\/?$/.test(o.path));
    if (version) {
      const pinned = ops.find((o) => o.path.includes("/versions/{"));
      if (pinned) return { ...pinned, url: predictRoute(model, version) };
    }
    const plain = ops.find((o) => !o.path.includes("{"));
    return plain ? { ...plain, url: predictRoute(model, null) } : null;
  }

  function trainOperation(doc) {
    return operations(doc).find((o) => o.method === "post" && (/\/train\/?$/.test(o.path) || (o.op.operationId || "").startsWith("train_"))) || null;
  }

  function argsSchema(doc, op, preferred) {
    const content = (op.requestBody || {}).content || {};
    const media = preferred.find((m) => content[m]) || Object.keys(content)[0];
    return media ? resolve(doc, content[media].schema) : { properties: {} };
  }

  const isFile = (s) => s.type === "string" && s.format === "binary";

  // -- fields ----------------------------------------------------------------------------------

  /** The bounds of a number in words ("from 1 to 10", "more than 0, at most 100"). */
  function bounds(s) {
    const lo = s.minimum ?? (typeof s.exclusiveMinimum === "number" ? s.exclusiveMinimum : undefined);
    const hi = s.maximum ?? (typeof s.exclusiveMaximum === "number" ? s.exclusiveMaximum : undefined);
    const loOpen = s.minimum === undefined && lo !== undefined, hiOpen = s.maximum === undefined && hi !== undefined;
    if (lo !== undefined && hi !== undefined && !loOpen && !hiOpen) return `from ${lo} to ${hi}`;
    const parts = [];
    if (lo !== undefined) parts.push(`${loOpen ? "more than" : "at least"} ${lo}`);
    if (hi !== undefined) parts.push(`${hiOpen ? "less than" : "at most"} ${hi}`);
    return parts.join(", ");
  }

  /** The value a form starts with: the schema's first example, else its default. */
  function initial(s) {
    if (Array.isArray(s.examples) && s.examples.length && s.examples[0] !== null) return s.examples[0];
    if (s.example !== undefined && s.example !== null) return s.example;
    return s.default ?? undefined;
  }

  /** File extensions for common media types: file pickers filter by these where they ignore types. */
  const EXTENSIONS = {
    "application/zip": [".zip"], "application/x-zip-compressed": [".zip"], "application/gzip": [".gz", ".tgz"],
    "application/x-tar": [".tar"], "application/json": [".json"], "application/x-ndjson": [".ndjson", ".jsonl"],
    "application/jsonl": [".jsonl", ".ndjson"], "text/csv": [".csv"], "text/plain": [".txt"], "application/pdf": [".pdf"],
    "application/x-npz": [".npz"], "application/x-numpy": [".npy", ".npz"], "application/x-netcdf": [".nc"],
    "application/x-hdf5": [".h5", ".hdf5"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"],
    "image/tiff": [".tif", ".tiff"], "audio/wav": [".wav"], "audio/x-wav": [".wav"],
  };

  const splitTypes = (v) => [].concat(v || []).flatMap((t) => String(t).split(",")).map((t) => t.trim()).filter(Boolean);

  /**
   * The media types a file argument declares: ``contentMediaType``, the
   * ``x-modelport-data.media_types`` / ``x-modelport-media-types`` extensions, or the multipart
   * ``encoding.{name}.contentType`` of the operation's request body.
   */
  function mediaTypes(s, encoding) {
    const found = [
      ...splitTypes(s.contentMediaType), ...splitTypes(s["x-modelport-media-types"]),
      ...splitTypes((s["x-modelport-data"] || {}).media_types), ...splitTypes(encoding && encoding.contentType),
    ];
    return [...new Set(found)].filter((t) => t !== "application/octet-stream" && t !== "*/*");
  }

  /** The ``accept`` attribute for media types (with extensions), or null when any file goes. */
  function acceptFor(types) {
    if (!types.length) return null;
    return [...new Set(types.flatMap((t) => [t, ...(EXTENSIONS[t] || [])]))].join(",");
  }

  const TEXT_MEDIA = /^text\/|ndjson|jsonl|csv|yaml|xml/;
  const MULTILINE_WORDS = /\b(lines?|multi-?line|ndjson|jsonl|csv|paragraphs?|text)\b/i;

  /** Whether a string argument wants a textarea: declared multi-line or text media, long, or said so. */
  function multiline(s, value) {
    if (["textarea", "multiline", "multi-line"].includes(s.format) || s["x-multiline"] === true) return true;
    if (s.contentMediaType && TEXT_MEDIA.test(s.contentMediaType)) return true;
    if ((s.maxLength || 0) > 200) return true;
    if (typeof value === "string" && value.includes("\n")) return true;
    return !s.maxLength && !s.enum && !s.format && MULTILINE_WORDS.test(s.description || "");
  }

  /**
   * One labelled control for an argument; returns {name, schema, node, read()} (read → value
   * or undefined; throws {field, message} when what was entered cannot be sent).
   * ``ctx``: {kind: "predict" | "train", encoding (the multipart encoding map)}.
   */
  function field(doc, name, raw, required, ctx) {
    const s = resolve(doc, raw);
    const id = "arg-" + name;
    const hintId = "hint-" + name, errId = "err-" + name;
    const start = initial(s);
    const hints = [s.description, bounds(s)].filter(Boolean);
    if (s.default !== undefined && s.default !== null && !isFile(s)) hints.push("default " + JSON.stringify(s.default));
    const labelText = s.title && s.title.toLowerCase() !== name.replace(/_/g, " ") ? `${s.title} (${name})` : name;
    const types = mediaTypes(s.type === "array" ? { ...resolve(doc, s.items || {}), ...s } : s, (ctx.encoding || {})[name]);
    if (ctx.kind === "train" && window.mpData && window.mpData.isDataField(s)) {
      const data = window.mpData.control({ name, schema: s, label: labelText, required, hints, types, accept: acceptFor(types) });
      return { name, schema: s, node: data.node, read: data.read };
    }
    const described = [hints.length ? hintId : null, errId].filter(Boolean).join(" ");
    const label = el("label", { for: id }, labelText, required ? el("span", { class: "req" }, " (required)") : null);
    let control, read, preview = null;
    const common = { id, name, "aria-describedby": described, required: required || null };

    if (isFile(s) || (s.type === "array" && s.items && isFile(resolve(doc, s.items)))) {
      const many = s.type === "array";
      control = el("input", { ...common, type: "file", multiple: many || null, accept: acceptFor(types) });
      if (types.length) hints.push("accepts " + types.join(", "));
      preview = el("div", { class: "preview", "aria-live": "polite" });
      control.addEventListener("change", () => {
        preview.replaceChildren();
        for (const file of control.files) {
          if (file.type.startsWith("image/")) {
            preview.append(el("img", { src: URL.createObjectURL(file), alt: "Preview of " + file.name }));
          } else preview.append(el("p", {}, `${file.name} (${file.size} bytes)`));
        }
      });
      read = () => (control.files.length ? Array.from(control.files) : undefined);
    } else if (Array.isArray(s.enum)) {
      const chosen = start !== undefined ? start : undefined;
      control = el("select", common,
        !required || chosen === undefined ? el("option", { value: "" }, required ? "— choose —" : "(default)") : null,
        s.enum.map((v) => el("option", { value: String(v), selected: chosen === v || null }, String(v))));
      read = () => (control.value === "" ? undefined : s.enum.find((v) => String(v) === control.value));
    } else if (s.type === "boolean") {
      control = el("input", { ...common, type: "checkbox", checked: start === true || null, required: null });
      read = () => control.checked;
    } else if (s.type === "integer" || s.type === "number") {
      control = el("input", {
        ...common, type: "number", inputmode: s.type === "integer" ? "numeric" : "decimal",
        step: s.type === "integer" ? 1 : "any",
        min: s.minimum ?? s.exclusiveMinimum, max: s.maximum ?? s.exclusiveMaximum,
        value: typeof start === "number" ? start : null,
      });
      read = () => (control.value === "" ? undefined : Number(control.value));
    } else if (s.type === "array") {
      control = el("textarea", { ...common, rows: 3 });
      control.value = Array.isArray(start) ? start.join("\n") : "";
      hints.push("one item per line");
      const itemType = resolve(doc, s.items || {}).type;
      read = () => {
        const items = control.value.split("\n").map((v) => v.trim()).filter(Boolean);
        if (!items.length) return undefined;
        return itemType === "integer" || itemType === "number" ? items.map(Number) : items;
      };
    } else if (s.type === "object" || s.contentMediaType === "application/json" || s.type === undefined) {
      control = el("textarea", { ...common, rows: 4, class: "code" });
      const json = typeof start === "string" && s.contentMediaType === "application/json" ? start : start !== undefined ? JSON.stringify(start, null, 2) : "";
      control.value = json;
      hints.push("JSON");
      read = () => {
        if (!control.value.trim()) return undefined;
        try { return { json: JSON.parse(control.value) }; } catch (err) { throw { field: name, message: "Not valid JSON: " + err.message }; }
      };
    } else {
      const value = start === undefined ? "" : String(start);
      const long = multiline(s, value);
      control = el(long ? "textarea" : "input", {
        ...common, type: long ? null : "text", rows: long ? 6 : null, class: long && s.contentMediaType && TEXT_MEDIA.test(s.contentMediaType) ? "code" : null,
        minlength: s.minLength, maxlength: s.maxLength, pattern: long ? null : s.pattern,
      });
      control.value = value;
      read = () => (control.value === "" ? undefined : control.value);
    }
    const node = el("div", { class: "field" + (s.type === "boolean" ? " check" : "") },
      s.type === "boolean" ? [control, label] : [label, control],
      hints.length ? el("p", { class: "hint", id: hintId }, hints.join(" · ")) : null,
      preview,
      el("p", { class: "error", id: errId }));
    return { name, schema: s, node, read };
  }

  function buildFields(form, doc, schema, ctx) {
    const required = new Set(schema.required || []);
    const fields = Object.entries(schema.properties || {}).map(([name, prop]) => field(doc, name, prop, required.has(name), ctx));
    if (!fields.length) form.append(el("p", { class: "empty" }, "This model takes no arguments."));
    for (const f of fields) form.append(f.node);
    return fields;
  }

  // -- errors ----------------------------------------------------------------------------------

  /** {"a": ["m"], "b": {"c": ["m"]}} → [["a", "m"], ["b.c", "m"]] (DEEPaaS nests a legacy module's fields). */
  function flatErrors(errors, prefix) {
    const out = [];
    for (const [key, value] of Object.entries(errors || {})) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value && typeof value === "object" && !Array.isArray(value)) out.push(...flatErrors(value, name));
      else out.push([name, [].concat(value).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")]);
    }
    return out;
  }

  /** The form's error summary (created at its top on first use). */
  function summaryBox(form) {
    let box = form.querySelector(":scope > .error-summary");
    if (!box) {
      box = el("div", { class: "error-summary", tabindex: -1, role: "alert", "aria-labelledby": form.id + "-summary-title", hidden: true });
      form.prepend(box);
    }
    return box;
  }

  function clearFormErrors(form) {
    clearErrors(form);
    const box = form.querySelector(":scope > .error-summary");
    if (box) { box.hidden = true; box.replaceChildren(); }
  }

  /**
   * Show every field's message at once: next to its field (aria-invalid; the message is one
   * of the control's aria-describedby), and all of them in a summary at the top of the form,
   * each linking to its field. Messages for no field of the form are listed in the summary.
   * ``prefixes`` are stripped from names first ("args." for a job's arguments).
   */
  function showErrors(form, errors, prefixes) {
    clearFormErrors(form);
    const items = [];
    for (const [key, message] of flatErrors(errors)) {
      let name = key;
      for (const prefix of prefixes || []) if (name.startsWith(prefix)) name = name.slice(prefix.length);
      let slot = document.getElementById("err-" + name);
      if (!(slot && form.contains(slot))) {
        const top = name.split(".")[0];
        const other = document.getElementById("err-" + top);
        if (other && form.contains(other)) { slot = other; name = top; }
        else slot = null;
      }
      if (!slot) { items.push(el("li", {}, `${key}: ${message}`)); continue; }
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      const control = document.getElementById("arg-" + name) || form.querySelector('[aria-describedby~="err-' + CSS.escape(name) + '"]');
      if (control && form.contains(control)) control.setAttribute("aria-invalid", "true");
      const target = control && control.id ? "#" + control.id : null;
      items.push(el("li", {}, target ? el("a", { href: target, "data-field": name }, `${name}: ${message}`) : `${name}: ${message}`));
    }
    if (!items.length) return;
    const box = summaryBox(form);
    const count = items.length;
    box.replaceChildren(
      el("h3", { id: form.id + "-summary-title" }, count === 1 ? "1 problem to fix" : `${count} problems to fix`),
      el("ul", {}, items));
    box.hidden = false;
    box.querySelectorAll("a[data-field]").forEach((link) => link.addEventListener("click", (event) => {
      const target = document.querySelector(link.getAttribute("href"));
      if (target) { event.preventDefault(); target.focus(); target.scrollIntoView({ block: "center" }); }
    }));
    box.focus();
  }

  /** A failure's message, with the error id the server logged it under when it gives one. */
  function failureText(status, data) {
    const message = messageOf({ status, data });
    const id = data && (data.error_id || data.errorId);
    return id && !message.includes(String(id)) ? `${message} (error id ${id})` : message;
  }

  /** Every field's value, or show every reading error next to its field and return null. */
  function readFields(form, fields) {
    clearFormErrors(form);
    const values = {}, errors = {};
    for (const f of fields) {
      try {
        const v = f.read();
        if (v !== undefined) values[f.name] = v;
      } catch (err) { errors[err.field || f.name] = [err.message || String(err)]; }
    }
    if (Object.keys(errors).length) { showErrors(form, errors); return null; }
    return values;
  }

  /** Whether a 422 body is DEEPaaS field errors (not a {"message"} failure). */
  const fieldErrors = (status, data) => status === 422 && data && typeof data === "object" && !Array.isArray(data) && typeof data.message !== "string";

  // -- try it ----------------------------------------------------------------------------------

  async function setUpPredict(form) {
    const model = form.dataset.model, version = form.dataset.version;
    let answer, target = null, fallback = false;
    if (version) ({ answer, target, fallback } = await versionTarget(model, version));
    else {
      answer = await modelDocument(model);
      target = answer.ok ? predictOperation(answer.data, model, null) : null;
    }
    form.replaceChildren();
    if (!answer.ok) {
      form.append(el("div", { class: "empty-state" }, el("p", {}, el("strong", {}, "This model is not served here."), " " + messageOf(answer))));
      return;
    }
    const doc = answer.data;
    if (!target) { form.append(el("p", { class: "empty-state" }, "This model has no predict operation.")); return; }
    if (fallback && !target.path.includes("/versions/{")) {
      form.append(el("p", { class: "hint", role: "note" }, `This server serves one version of ${model}: the prediction uses it, not necessarily version ${version}.`));
    }
    const preferred = ["multipart/form-data", "application/x-www-form-urlencoded", "application/json"];
    const schema = argsSchema(doc, target.op, preferred);
    const fields = buildFields(form, doc, schema, { kind: "predict", encoding: requestEncoding(target.op, preferred) });
    // accept: the Accept header (typed models; legacy ones that declare it a header) or an
    // argument like the others (a legacy module's accept without a location, as DEEPaaS reads it)
    const acceptParam = (target.op.parameters || []).find((p) => p.name === "accept" && (p.in === "header" || p.in === "query"));
    let accept = null;
    if (acceptParam) {
      accept = el("select", { id: "arg-accept", name: "accept" },
        (acceptParam.schema.enum || []).filter((m) => m !== "*/*").map((m) => el("option", { value: m, selected: m === acceptParam.schema.default || null }, m)));
      form.append(el("div", { class: "field" }, el("label", { for: "arg-accept" }, "Response type"), accept));
    }
    const general = el("p", { class: "error", id: "predict-error", role: "alert" });
    const button = el("button", { type: "submit", class: "primary" }, "Run prediction");
    const clear = el("button", { type: "button", class: "secondary" }, "Clear the form");
    clear.addEventListener("click", () => {
      clearFormErrors(form);
      for (const f of fields) {
        for (const control of f.node.querySelectorAll("input, textarea, select")) {
          if (control.type === "checkbox") continue;
          if (control.tagName === "SELECT") control.selectedIndex = control.options[0] && control.options[0].value === "" ? 0 : control.selectedIndex;
          else control.value = "";
        }
        f.node.querySelector(".preview")?.replaceChildren();
      }
    });
    form.append(el("div", { class: "actions" }, button, clear), general);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      general.textContent = "";
      const values = readFields(form, fields);
      if (!values) return;
      const body = new FormData();
      for (const [name, value] of Object.entries(values)) {
        for (const item of [].concat(value)) {
          if (item instanceof File) body.append(name, item, item.name);
          else if (item && typeof item === "object" && "json" in item) body.append(name, JSON.stringify(item.json));
          else body.append(name, String(item));
        }
      }
      const inHeader = !acceptParam || acceptParam.in === "header";
      if (accept && !inHeader) body.append("accept", accept.value);
      const headers = { Accept: accept && inHeader ? accept.value : "application/json, */*" };
      button.disabled = true;
      button.textContent = "Running…";
      const result = document.getElementById("result");
      result.replaceChildren(el("p", { class: "loading", role: "status" }, "Running the prediction…"));
      const started = performance.now();
      let response;
      try {
        response = await fetch(target.url, { method: "POST", body, headers });
      } catch (err) {
        general.textContent = "The server could not be reached: " + err.message;
        result.replaceChildren(el("p", { class: "empty" }, "No result."));
        return;
      } finally {
        button.disabled = false;
        button.textContent = "Run prediction";
      }
      const elapsed = Math.round(performance.now() - started);
      if (!response.ok) {
        let data = null;
        try { data = await response.json(); } catch (err) { data = null; }
        let text;
        if (fieldErrors(response.status, data)) {
          showErrors(form, data);
          text = "see the messages next to the form's fields";
        } else {
          text = failureText(response.status, data);
          general.textContent = text;
        }
        result.replaceChildren(el("p", { class: "error-box" }, `The prediction failed (HTTP ${response.status}): ${text}.`));
        return;
      }
      clearFormErrors(form);
      await window.mpResults.render(result, response, { model, version, elapsed });
      // on a narrow screen the result is below the form: bring it into view
      if (result.getBoundingClientRect().top > window.innerHeight) result.scrollIntoView({ block: "start" });
    });
  }

  /** The request body's multipart (or form) ``encoding`` map of an operation, or {}. */
  function requestEncoding(op, preferred) {
    const content = (op.requestBody || {}).content || {};
    const media = preferred.find((m) => content[m]) || Object.keys(content)[0];
    return (media && content[media].encoding) || {};
  }

  // -- training --------------------------------------------------------------------------------

  async function setUpTrain(form) {
    const model = form.dataset.model, version = form.dataset.version || undefined;
    const template = document.getElementById("resources-template");
    const answer = await modelDocument(model);
    form.querySelector(".loading")?.remove();
    const op = answer.ok ? trainOperation(answer.data) : null;
    if (!op) {
      form.append(el("div", { class: "empty-state" }, el("p", {}, el("strong", {}, "This model cannot be trained here."),
        " " + (answer.ok ? "It has no train() function." : messageOf(answer)))));
      return;
    }
    const preferred = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"];
    const schema = argsSchema(answer.data, op.op, preferred);
    const heading = el("fieldset", { class: "args" }, el("legend", {}, "Training arguments"));
    form.append(heading);
    const fields = buildFields(heading, answer.data, schema, { kind: "train", encoding: requestEncoding(op.op, preferred) });
    form.append(template.content.cloneNode(true));
    const general = el("p", { class: "error", id: "train-error", role: "alert" });
    const button = el("button", { type: "submit", class: "primary" }, "Start training");
    form.append(button, general);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      general.textContent = "";
      const values = readFields(form, fields);
      if (!values) return;
      for (const [k, v] of Object.entries(values)) if (v && typeof v === "object" && "json" in v) values[k] = v.json;
      const number = (name) => { const v = form.elements[name].value; return v === "" ? undefined : Number(v); };
      const resources = { cpu: number("resources.cpu"), gpu: number("resources.gpu"), memory_mb: number("resources.memory_mb") };
      for (const k of Object.keys(resources)) if (resources[k] === undefined) delete resources[k];
      button.disabled = true;
      const result = await api("POST", "/jobs", { json: { model, version, args: values, resources, priority: number("priority") || 0 } });
      button.disabled = false;
      if (result.ok) { window.location.assign(`${ui}/jobs/${result.data.id}`); return; }
      if (fieldErrors(result.status, result.data)) showErrors(form, result.data, ["args."]);
      else general.textContent = failureText(result.status, result.data);
    });
  }

  /** What the module page's snippets (snippets.js) and other scripts share with the forms. */
  window.mpForms = { modelDocument, versionTarget, predictOperation, trainOperation, argsSchema, resolve, isFile, initial, mediaTypes, acceptFor, showErrors };

  document.addEventListener("DOMContentLoaded", () => {
    const predict = document.getElementById("predict-form");
    if (predict) setUpPredict(predict);
    const train = document.getElementById("train-form");
    if (train) setUpTrain(train);
  });
})();
