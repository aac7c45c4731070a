/* Try-it and training forms generated from a model's OpenAPI document, and result rendering. */
"use strict";
(function () {
  const { el, api, messageOf, showFieldErrors, clearErrors, base, ui } = window.mp;

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

  function bounds(s) {
    const lo = s.minimum ?? s.exclusiveMinimum, hi = s.maximum ?? s.exclusiveMaximum;
    if (lo !== undefined && hi !== undefined) return `from ${lo} to ${hi}`;
    if (lo !== undefined) return `at least ${lo}`;
    if (hi !== undefined) return `at most ${hi}`;
    return "";
  }

  /** One labelled control for an argument; returns {node, read()} (read → value or undefined). */
  function field(doc, name, raw, required) {
    const s = resolve(doc, raw);
    const id = "arg-" + name;
    const hintId = "hint-" + name, errId = "err-" + name;
    const hints = [s.description, bounds(s)].filter(Boolean);
    if (s.default !== undefined && s.default !== null && !isFile(s)) hints.push("default " + JSON.stringify(s.default));
    const described = [hints.length ? hintId : null, errId].filter(Boolean).join(" ");
    const label = el("label", { for: id }, s.title && s.title.toLowerCase() !== name.replace(/_/g, " ") ? `${s.title} (${name})` : name,
      required ? el("span", { class: "req" }, " (required)") : null);
    let control, read, preview = null;
    const common = { id, name, "aria-describedby": described, required: required || null };

    if (isFile(s) || (s.type === "array" && s.items && isFile(resolve(doc, s.items)))) {
      const many = s.type === "array";
      control = el("input", { ...common, type: "file", multiple: many || null, accept: s.contentMediaType || null });
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
      control = el("select", common,
        !required || s.default === undefined ? el("option", { value: "" }, required ? "— choose —" : "(default)") : null,
        s.enum.map((v) => el("option", { value: String(v), selected: s.default === v || null }, String(v))));
      read = () => (control.value === "" ? undefined : s.enum.find((v) => String(v) === control.value));
    } else if (s.type === "boolean") {
      control = el("input", { ...common, type: "checkbox", checked: s.default === true || null, required: null });
      read = () => control.checked;
    } else if (s.type === "integer" || s.type === "number") {
      control = el("input", {
        ...common, type: "number", inputmode: s.type === "integer" ? "numeric" : "decimal",
        step: s.type === "integer" ? 1 : "any",
        min: s.minimum ?? s.exclusiveMinimum, max: s.maximum ?? s.exclusiveMaximum,
        value: s.default ?? null,
      });
      read = () => (control.value === "" ? undefined : Number(control.value));
    } else if (s.type === "array") {
      control = el("textarea", { ...common, rows: 3 });
      control.value = Array.isArray(s.default) ? s.default.join("\n") : "";
      hints.push("one item per line");
      const itemType = resolve(doc, s.items || {}).type;
      read = () => {
        const items = control.value.split("\n").map((v) => v.trim()).filter(Boolean);
        if (!items.length) return undefined;
        return itemType === "integer" || itemType === "number" ? items.map(Number) : items;
      };
    } else if (s.type === "object" || s.contentMediaType === "application/json" || s.type === undefined) {
      control = el("textarea", { ...common, rows: 4, class: "code" });
      control.value = s.default !== undefined && s.default !== null ? JSON.stringify(s.default, null, 2) : "";
      hints.push("JSON");
      read = () => {
        if (!control.value.trim()) return undefined;
        try { return { json: JSON.parse(control.value) }; } catch (err) { throw { field: name, message: "Not valid JSON: " + err.message }; }
      };
    } else {
      const long = (s.maxLength || 0) > 200;
      control = el(long ? "textarea" : "input", { ...common, type: long ? null : "text", minlength: s.minLength, maxlength: s.maxLength, pattern: s.pattern });
      control.value = s.default ?? "";
      read = () => (control.value === "" ? undefined : control.value);
    }
    const node = el("div", { class: "field" + (s.type === "boolean" ? " check" : "") },
      s.type === "boolean" ? [control, label] : [label, control],
      hints.length ? el("p", { class: "hint", id: hintId }, hints.join(" · ")) : null,
      preview,
      el("p", { class: "error", id: errId, role: "alert" }));
    return { name, schema: s, node, read };
  }

  function buildFields(form, doc, schema) {
    const required = new Set(schema.required || []);
    const fields = Object.entries(schema.properties || {}).map(([name, prop]) => field(doc, name, prop, required.has(name)));
    if (!fields.length) form.append(el("p", { class: "empty" }, "This model takes no arguments."));
    for (const f of fields) form.append(f.node);
    return fields;
  }

  /** Every field's value, or show the reading errors next to their fields and return null. */
  function readFields(form, fields) {
    clearErrors(form);
    const values = {}, errors = {};
    for (const f of fields) {
      try {
        const v = f.read();
        if (v !== undefined) values[f.name] = v;
      } catch (err) { errors[err.field || f.name] = [err.message || String(err)]; }
    }
    if (Object.keys(errors).length) { showFieldErrors(form, errors, null); return null; }
    return values;
  }

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
    const schema = argsSchema(doc, target.op, ["multipart/form-data", "application/x-www-form-urlencoded", "application/json"]);
    const fields = buildFields(form, doc, schema);
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
    form.append(button, general);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
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
        const answer = { status: response.status, data };
        if (response.status === 422 && data && !data.message) showFieldErrors(form, data, general);
        else general.textContent = messageOf(answer);
        result.replaceChildren(el("p", { class: "error-box" }, `The prediction failed (HTTP ${response.status}); see the messages next to the form.`));
        return;
      }
      clearErrors(form);
      await renderResult(result, response, elapsed);
    });
  }

  // -- results ---------------------------------------------------------------------------------

  const LABEL_KEYS = ["label", "class", "class_name", "name", "category", "species"];
  const SCORE_KEYS = ["probability", "prob", "score", "confidence"];

  /** [{label, value}] when ``data`` looks like class probabilities, else null. */
  function probabilities(data) {
    if (Array.isArray(data) && data.length && data.every((d) => d && typeof d === "object" && !Array.isArray(d))) {
      const lk = LABEL_KEYS.find((k) => data.every((d) => typeof d[k] === "string"));
      const sk = SCORE_KEYS.find((k) => data.every((d) => typeof d[k] === "number" && d[k] >= 0 && d[k] <= 1));
      return lk && sk ? data.map((d) => ({ label: d[lk], value: d[sk] })) : null;
    }
    if (data && typeof data === "object" && !Array.isArray(data)) {
      const entries = Object.entries(data);
      if (entries.length >= 2 && entries.every(([, v]) => typeof v === "number" && v >= 0 && v <= 1)) {
        return entries.map(([label, value]) => ({ label, value }));
      }
      for (const key of ["predictions", "probabilities", "classes", "results"]) {
        if (key in data) { const inner = probabilities(data[key]); if (inner) return inner; }
      }
    }
    return null;
  }

  function bars(items) {
    const sorted = [...items].sort((a, b) => b.value - a.value);
    return el("figure", { class: "bars-figure" },
      el("figcaption", {}, "Class probabilities"),
      el("ul", { class: "bars", "aria-label": "Class probabilities" }, sorted.map((item) => {
        const pct = (item.value * 100).toFixed(1) + "%";
        return el("li", {},
          el("span", { class: "bar-label" }, item.label),
          el("span", { class: "bar-track", "aria-hidden": "true" }, el("span", { class: "bar", style: `width: ${item.value * 100}%` })),
          el("span", { class: "bar-value" }, pct));
      })));
  }

  function table(data) {
    if (!Array.isArray(data) || !data.length || !data.every((d) => d && typeof d === "object" && !Array.isArray(d))) return null;
    const keys = [...new Set(data.flatMap(Object.keys))];
    if (keys.some((k) => data.some((d) => d[k] !== null && typeof d[k] === "object"))) return null;
    return el("table", { class: "result-table" },
      el("thead", {}, el("tr", {}, keys.map((k) => el("th", { scope: "col" }, k)))),
      el("tbody", {}, data.map((d) => el("tr", {}, keys.map((k) => el("td", {}, d[k] === undefined ? "" : String(d[k])))))));
  }

  /** JSON as a tree of disclosure widgets. */
  function tree(value, key) {
    const name = key === undefined ? null : el("span", { class: "key" }, key + ": ");
    if (value !== null && typeof value === "object") {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
      const kind = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
      return el("li", {}, el("details", { open: true },
        el("summary", {}, name, el("span", { class: "kind" }, kind)),
        el("ul", {}, entries.map(([k, v]) => tree(v, k)))));
    }
    return el("li", {}, name, el("span", { class: "value t-" + (value === null ? "null" : typeof value) }, JSON.stringify(value)));
  }

  async function renderResult(container, response, elapsed) {
    const type = (response.headers.get("content-type") || "").split(";")[0].trim();
    const parts = [el("p", { class: "hint", role: "status" }, `Answered in ${elapsed} ms (${type || "no type"}).`)];
    if (type.includes("json")) {
      let data = await response.json();
      if (data && typeof data === "object" && data.status === "OK" && "predictions" in data) data = data.predictions;
      const probs = probabilities(data);
      const grid = probs ? null : table(data);
      if (probs) parts.push(bars(probs));
      if (grid) parts.push(grid);
      parts.push(el("details", { class: "json", open: !(probs || grid) || null },
        el("summary", {}, "JSON"), el("ul", { class: "tree" }, tree(data))));
    } else if (type.startsWith("image/")) {
      const url = URL.createObjectURL(await response.blob());
      parts.push(el("img", { class: "result-image", src: url, alt: "The predicted image" }));
    } else if (type.startsWith("text/") || !type) {
      parts.push(el("pre", { class: "result-text", tabindex: 0 }, await response.text()));
    } else {
      const url = URL.createObjectURL(await response.blob());
      parts.push(el("a", { href: url, download: "prediction" }, `Download the result (${type})`));
    }
    container.replaceChildren(el("div", { class: "result" }, parts));
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
    const schema = argsSchema(answer.data, op.op, ["application/json", "application/x-www-form-urlencoded"]);
    const heading = el("fieldset", { class: "args" }, el("legend", {}, "Training arguments"));
    form.append(heading);
    const fields = buildFields(heading, answer.data, schema);
    form.append(template.content.cloneNode(true));
    const general = el("p", { class: "error", id: "train-error", role: "alert" });
    const button = el("button", { type: "submit", class: "primary" }, "Start training");
    form.append(button, general);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
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
      if (result.status === 422 && result.data && !result.data.message) showFieldErrors(form, result.data, general, ["args."]);
      else general.textContent = messageOf(result);
    });
  }

  // -- API snippets on the module page ---------------------------------------------------------

  async function fillSnippets(box) {
    const model = box.dataset.model, server = box.dataset.server, version = box.dataset.version;
    let answer, target = null, fallback = false;
    if (version) ({ answer, target, fallback } = await versionTarget(model, version));
    else {
      answer = await modelDocument(model);
      target = answer.ok ? predictOperation(answer.data, model, null) : null;
    }
    if (!answer.ok || !target) return;
    const pinned = version && !fallback;
    const schema = argsSchema(answer.data, target.op, ["multipart/form-data", "application/json"]);
    const required = new Set(schema.required || []);
    const curl = [`curl -X POST '${server.replace(new RegExp(base + "$"), "")}${target.url}'`, "  -H 'Accept: application/json'"];
    const files = [], args = [];
    for (const [name, raw] of Object.entries(schema.properties || {})) {
      const s = resolve(answer.data, raw);
      if (isFile(s)) {
        curl.push(`  -F '${name}=@photo.jpg'`);
        files.push(`"${name}": Path("photo.jpg")`);
        continue;
      }
      let value = s.default ?? (s.enum ? s.enum[0] : undefined) ?? s.examples?.[0];
      if (value === undefined && !required.has(name)) continue;
      if (value === undefined) value = s.type === "integer" || s.type === "number" ? (s.minimum ?? 1) : "...";
      if (Array.isArray(value) || (value && typeof value === "object")) continue;
      curl.push(`  -F '${name}=${value}'`);
      const py = typeof value === "string" ? JSON.stringify(value) : typeof value === "boolean" ? (value ? "True" : "False") : String(value);
      args.push(`${name}=${py}`);
    }
    box.querySelector('[data-snippet="curl"]').textContent = curl.join(" \\\n");
    const call = [`"${model}"`, files.length ? `files={${files.join(", ")}}` : null, pinned ? `version=${JSON.stringify(version)}` : null, ...args].filter(Boolean).join(", ");
    box.querySelector('[data-snippet="python"]').textContent =
      (files.length ? "from pathlib import Path\n\n" : "") + "from modelport import Client\n\n" +
      `with Client("${server}") as client:\n    result = client.predict(${call})\n    print(result)`;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const predict = document.getElementById("predict-form");
    if (predict) setUpPredict(predict);
    const train = document.getElementById("train-form");
    if (train) setUpTrain(train);
    const snippets = document.querySelector("[data-snippets]");
    if (snippets) fillSnippets(snippets);
  });
})();
