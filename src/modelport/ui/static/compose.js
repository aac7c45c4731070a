/* The pipeline composer (/dashboard/pipelines/new): steps picked from the catalog, their inputs
 * linked to the pipeline's inputs, earlier answers (only fields whose types fit) or values; the
 * document kept in step with the form; check, try and publish over the pipeline API. */
"use strict";
(function () {
  const { api, el, messageOf, ui } = window.mp;
  const S = window.mpSchema;
  const { tryForm, tryIt } = window.mpComposeTry;
  const STEP_ID = /^[a-z][a-z0-9_-]{0,62}$/;
  const state = { steps: [], output: [], uid: 0 };
  const $ = (id) => document.getElementById(id);
  const say = (text) => { $("compose-status").textContent = text; };

  // -- the document --------------------------------------------------------------------------

  /** What a step answers: its module's answer, or for for_each the list of each item's result. */
  function answerOf(step) {
    const output = step.iface ? step.iface.output : {};
    if (!step.forEach) return output;
    const keep = collectOf(step);
    if (!keep) return { type: "array", items: output };
    const properties = {};
    const item = S.plain(itemSchema(step));
    for (const field of step.collect.fields) properties[field] = (item.properties || {})[field] || {};
    if (step.collect.answer) properties[step.collect.answerName] = output;
    return { type: "array", items: { type: "object", properties, required: Object.keys(properties) } };
  }

  /** The schema behind a ``$steps.<id>.<path>`` reference (walking earlier steps' answers). */
  function schemaAt(ref) {
    const match = /^\$steps\.([^.]+)(?:\.(.+))?$/.exec(ref || "");
    const step = match && state.steps.find((s) => s.id === match[1]);
    if (!step) return {};
    const found = S.fields(answerOf(step)).find((f) => f.path === (match[2] || ""));
    return found ? found.schema : {};
  }

  const itemSchema = (step) => S.itemsOf(schemaAt(step.forEach));

  function collectOf(step) {
    const c = step.collect;
    if (!c.fields.length && !c.answer) return null;
    const out = {};
    for (const field of c.fields) out[field] = "$item." + field;
    if (c.answer) out[c.answerName || "answer"] = "$output";
    return out;
  }

  function inputValue(step, name, row) {
    const schema = step.iface.inputs[name] || {};
    if (row.mode === "literal") return S.literal(row.text, schema);
    if (row.mode === "input") return "$input." + (row.inputName.trim() || name);
    if (row.mode === "ref") return row.ref;
    return undefined;
  }

  function outputKeys() {
    const taken = new Set(), out = {};
    for (const choice of state.output) {
      const step = state.steps.find((s) => s.uid === choice.uid);
      if (!step) continue;
      let key = choice.path ? choice.path.split(".").pop() : step.id;
      if (taken.has(key)) key = step.id + "_" + key.replace(/\./g, "_");
      taken.add(key);
      out[key] = "$steps." + step.id + (choice.path ? "." + choice.path : "");
    }
    return out;
  }

  function documentOf() {
    const doc = { name: $("pl-name").value.trim(), version: $("pl-version").value.trim() };
    const metadata = {};
    if ($("pl-title").value.trim()) metadata.title = $("pl-title").value.trim();
    if ($("pl-summary").value.trim()) metadata.summary = $("pl-summary").value.trim();
    if (Object.keys(metadata).length) doc.metadata = metadata;
    doc.steps = state.steps.map((step) => {
      const out = { id: step.id, module: step.module };
      if (step.ref && step.ref !== "latest") out.ref = step.ref;
      if (step.forEach) { out.for_each = step.forEach; out.max_parallel = step.maxParallel; }
      out.inputs = {};
      for (const [name, row] of Object.entries(step.inputs)) {
        const value = inputValue(step, name, row);
        if (value !== undefined) out.inputs[name] = value;
      }
      const collect = step.forEach && collectOf(step);
      if (collect) out.collect = collect;
      return out;
    });
    const chosen = outputKeys();
    const last = state.steps[state.steps.length - 1];
    doc.output = Object.keys(chosen).length || !last ? chosen : "$steps." + last.id;
    return doc;
  }

  function sync() { $("document").value = JSON.stringify(documentOf(), null, 2); }

  // -- sources an input may take -------------------------------------------------------------

  /** [{value, label}] of the references that fit ``schema`` for the step at ``index``. */
  function sources(index, schema) {
    const found = [];
    const step = state.steps[index];
    for (const earlier of state.steps.slice(0, index)) {
      for (const f of S.fields(answerOf(earlier))) {
        if (S.fits(f.schema, schema) !== null) continue;
        const what = f.path ? `${earlier.id} › ${f.path}` : `${earlier.id}: its answer`;
        found.push({ value: "$steps." + earlier.id + (f.path ? "." + f.path : ""), label: `${what} (${S.describe(f.schema)})` });
      }
    }
    if (step.forEach) {
      for (const f of S.fields(itemSchema(step))) {
        if (S.fits(f.schema, schema) !== null) continue;
        const what = f.path ? "each item › " + f.path : "each item";
        found.push({ value: "$item" + (f.path ? "." + f.path : ""), label: `${what} (${S.describe(f.schema)})` });
      }
    }
    return found;
  }

  /** The lists of earlier steps' answers a step may run once per item of. */
  function lists(index) {
    const found = [];
    for (const earlier of state.steps.slice(0, index)) {
      for (const f of S.fields(answerOf(earlier))) {
        if (!S.mayBeList(f.schema)) continue;
        found.push({ value: "$steps." + earlier.id + (f.path ? "." + f.path : ""), label: `${earlier.id} › ${f.path || "its answer"} (${S.describe(f.schema)})` });
      }
    }
    return found;
  }

  // -- rendering -----------------------------------------------------------------------------

  function field(id, labelText, control, extra) {
    return el("div", { class: "field" }, el("label", { for: id }, labelText), control, extra);
  }

  function inputRow(step, index, name, k) {
    const schema = step.iface.inputs[name] || {};
    const required = step.iface.required.includes(name);
    const row = step.inputs[name];
    const id = `s${step.uid}-in${k}`;
    const offered = sources(index, schema);
    if (row.mode === "ref" && !offered.some((o) => o.value === row.ref)) { row.mode = "none"; row.ref = ""; }
    const current = row.mode === "ref" ? row.ref : row.mode;
    const option = (value, label) => el("option", { value, selected: value === current }, label);
    const select = el("select", { id, "aria-describedby": `${id}-hint ${id}-err`, "data-input": name },
      option("none", required ? "— choose —" : "not given (its default)"),
      option("input", "the pipeline's input"),
      option("literal", "a value"),
      offered.length ? el("optgroup", { label: "answers of earlier steps" }, offered.map((o) => option(o.value, o.label))) : null);
    select.addEventListener("change", () => {
      const v = select.value;
      if (v.startsWith("$")) { row.mode = "ref"; row.ref = v; } else row.mode = v;
      render();
    });
    let detail = null;
    if (row.mode === "literal" || row.mode === "input") {
      const literal = row.mode === "literal";
      const box = el("input", { id: id + "-text", value: literal ? row.text : row.inputName, autocomplete: "off", size: 14 });
      box.addEventListener("input", () => { if (literal) row.text = box.value; else row.inputName = box.value; sync(); });
      detail = el("span", { class: "detail" },
        el("label", { for: box.id }, literal ? `Value of ${name}` : "Pipeline input name"), box);
    }
    const description = schema.description ? " — " + schema.description : "";
    return el("div", { class: "field input-row" },
      el("label", { for: id }, name, required ? el("span", { class: "req" }, " (required)") : null),
      el("p", { class: "hint", id: id + "-hint" }, S.describe(schema) + description),
      el("div", { class: "source" }, select, detail),
      el("p", { class: "error", id: id + "-err" }));
  }

  function stepCard(step, index) {
    const uid = step.uid;
    const idBox = el("input", { id: `s${uid}-id`, value: step.id, size: 14, autocomplete: "off", "aria-describedby": `s${uid}-err` });
    idBox.addEventListener("change", () => rename(step, idBox.value.trim(), idBox));
    const remove = el("button", { type: "button", class: "link", "aria-label": `Remove step ${step.id}` }, "Remove step");
    remove.addEventListener("click", () => {
      state.steps = state.steps.filter((s) => s !== step);
      state.output = state.output.filter((o) => o.uid !== uid);
      render();
      say(`Step ${step.id} removed.`);
      ($("add-module") || $("steps-title")).focus();
    });
    const head = el("div", { class: "step-head" },
      el("h3", { id: `s${uid}-title`, tabindex: "-1" }, `Step ${index + 1}: ${step.id}`),
      el("span", { class: "hint" }, `${step.module} · ${step.ref}`), remove);
    const row = el("div", { class: "compose-row" }, field(idBox.id, "Step id", idBox));
    const listed = lists(index);
    if (step.forEach && !listed.some((l) => l.value === step.forEach)) step.forEach = "";
    if (listed.length || step.forEach) {
      const each = el("select", { id: `s${uid}-each` },
        el("option", { value: "" }, "once"),
        listed.map((l) => el("option", { value: l.value, selected: l.value === step.forEach }, l.label)));
      each.addEventListener("change", () => { step.forEach = each.value; render(); });
      row.append(field(each.id, "Run it", each));
      if (step.forEach) {
        const par = el("input", { id: `s${uid}-par`, type: "number", min: 1, max: 32, value: step.maxParallel, size: 4 });
        par.addEventListener("input", () => { step.maxParallel = Math.max(1, Math.min(32, Number(par.value) || 4)); sync(); });
        row.append(field(par.id, "At most at a time", par));
      }
    }
    const names = Object.keys(step.iface.inputs);
    const inputs = el("fieldset", {}, el("legend", {}, "Inputs"),
      names.length ? names.map((name, k) => inputRow(step, index, name, k)) : el("p", { class: "empty" }, "It takes no input."));
    return el("section", { class: "step", id: `step-${uid}`, "aria-labelledby": `s${uid}-title` },
      head, row, el("p", { class: "error", id: `s${uid}-err` }), inputs, step.forEach ? collectBox(step) : null);
  }

  function collectBox(step) {
    const c = step.collect, uid = step.uid;
    const item = S.plain(itemSchema(step));
    const boxes = Object.keys(item.properties || {}).map((name, k) => {
      const box = el("input", { type: "checkbox", id: `s${uid}-keep${k}`, checked: c.fields.includes(name) });
      box.addEventListener("change", () => {
        c.fields = box.checked ? c.fields.concat(name) : c.fields.filter((f) => f !== name);
        render();
      });
      return el("div", { class: "field check" }, box, el("label", { for: box.id }, `the item's ${name}`));
    });
    const answer = el("input", { type: "checkbox", id: `s${uid}-keep-answer`, checked: c.answer });
    answer.addEventListener("change", () => { c.answer = answer.checked; render(); });
    const named = el("input", { id: `s${uid}-answer-name`, value: c.answerName, size: 10, autocomplete: "off" });
    named.addEventListener("change", () => { c.answerName = named.value.trim() || "answer"; render(); });
    return el("fieldset", {}, el("legend", {}, "Each item's result"),
      el("p", { class: "hint" }, "Tick nothing to keep the module's answer for each item."),
      boxes,
      el("div", { class: "field check" }, answer, el("label", { for: answer.id }, "the module's answer"),
        el("span", { class: "detail" }, el("label", { for: named.id }, "as"), named)));
  }

  function outputBoxes() {
    const box = $("outputs");
    if (!state.steps.length) { box.replaceChildren(el("p", { class: "empty" }, "Add a step first.")); return; }
    box.replaceChildren(...state.steps.map((step) => {
      const paths = [""].concat(step.forEach ? [] : S.fields(answerOf(step)).map((f) => f.path).filter((p) => p && !p.includes(".")));
      return el("fieldset", {}, el("legend", {}, `Step ${step.id}`), paths.map((path, k) => {
        const id = `out-${step.uid}-${k}`;
        const chosen = state.output.some((o) => o.uid === step.uid && o.path === path);
        const check = el("input", { type: "checkbox", id, checked: chosen });
        check.addEventListener("change", () => {
          state.output = state.output.filter((o) => !(o.uid === step.uid && o.path === path));
          if (check.checked) state.output.push({ uid: step.uid, path });
          sync();
        });
        return el("div", { class: "field check" }, check, el("label", { for: id }, path ? `its ${path}` : "its whole answer"));
      }));
    }));
  }

  /** Redraw the steps and output (after a change of structure), keeping the focus. */
  function render() {
    const focused = document.activeElement && document.activeElement.id;
    $("steps").replaceChildren(...(state.steps.length ? state.steps.map(stepCard) : [el("p", { class: "empty" }, "No steps yet: add the first one below.")]));
    outputBoxes();
    sync();
    if (focused && $(focused)) $(focused).focus();
  }

  function rename(step, name, box) {
    const slot = $(`s${step.uid}-err`);
    if (!STEP_ID.test(name) || state.steps.some((s) => s !== step && s.id === name)) {
      slot.textContent = "A step id is unique: a lower case letter, then letters, digits, - or _.";
      box.setAttribute("aria-invalid", "true");
      return;
    }
    const old = "$steps." + step.id;
    const moved = (ref) => (ref === old || ref.startsWith(old + ".") ? "$steps." + name + ref.slice(old.length) : ref);
    for (const s of state.steps) {
      s.forEach = s.forEach && moved(s.forEach);
      for (const row of Object.values(s.inputs)) if (row.mode === "ref") row.ref = moved(row.ref);
    }
    step.id = name;
    render();
  }

  // -- adding a step -------------------------------------------------------------------------

  function suggestId(module) {
    let id = module.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[^a-z]+/, "") || "step";
    id = id.slice(0, 50);
    let candidate = id, n = 2;
    while (state.steps.some((s) => s.id === candidate)) candidate = `${id}-${n++}`;
    return candidate;
  }

  async function addStep(event) {
    event.preventDefault();
    const form = event.target, error = $("add-error");
    const module = form.elements.module.value, ref = form.elements.ref.value.trim() || "latest";
    const idBox = form.elements.id;
    const id = idBox.value.trim() || suggestId(module);
    error.textContent = "";
    idBox.removeAttribute("aria-invalid");
    if (!STEP_ID.test(id) || state.steps.some((s) => s.id === id)) {
      error.textContent = `"${id}" cannot be this step's id: it must be unique, a lower case letter, then letters, digits, - or _.`;
      idBox.setAttribute("aria-invalid", "true");
      idBox.focus();
      return;
    }
    const button = $("add-button");
    button.disabled = true;
    say(`Reading what ${module} takes and answers…`);
    const result = await api("GET", `/pipelines/interfaces/${encodeURIComponent(module)}?ref=${encodeURIComponent(ref)}`);
    button.disabled = false;
    if (!result.ok) {
      error.textContent = `${module} ${ref}: ${messageOf(result)}`;
      say(error.textContent);
      form.elements.module.focus();
      return;
    }
    const iface = result.data;
    const inputs = {};
    for (const name of Object.keys(iface.inputs)) {
      const required = iface.required.includes(name);
      inputs[name] = { mode: required ? "input" : "none", text: "", inputName: name, ref: "" };
    }
    const step = { uid: ++state.uid, id, module, ref, iface, inputs, forEach: "", maxParallel: 4,
      collect: { fields: [], answer: false, answerName: "answer" } };
    state.steps.push(step);
    idBox.value = "";
    idBox.placeholder = suggestId(module);
    render();
    $(`s${step.uid}-title`).focus();
    say(`Step ${id} added (${module}): ${Object.keys(inputs).length} inputs to link.`);
  }

  // -- check, try, publish -------------------------------------------------------------------

  function clearProblems() {
    document.querySelectorAll("#composer .error").forEach((n) => { if (n.id !== "add-error") n.textContent = ""; });
    document.querySelectorAll("#composer [aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  }

  /** A 422's problems: next to the rows they name, and listed in ``box``. */
  function showProblems(box, data, what) {
    const list = el("ul", { class: "problems" });
    for (const [key, messages] of Object.entries(data)) {
      const text = [].concat(messages).join(" ");
      list.append(el("li", {}, el("code", {}, key), ": " + text));
      const input = /^steps\[(\d+)\]\.inputs\.([^.]+)/.exec(key);
      const stepAt = /^steps\[(\d+)\]/.exec(key);
      const step = stepAt && state.steps[Number(stepAt[1])];
      let slot = null, control = null;
      if (input && step) {
        const k = Object.keys(step.inputs).indexOf(input[2]);
        slot = $(`s${step.uid}-in${k}-err`);
        control = $(`s${step.uid}-in${k}`);
      } else if (step) {
        slot = $(`s${step.uid}-err`);
      } else {
        slot = $("err-" + key.split(/[.[]/)[0]) || $("err-steps");
        control = $("pl-" + key);
      }
      if (slot) slot.textContent = (slot.textContent ? slot.textContent + " " : "") + (input || !step ? text : `${key}: ${text}`);
      if (control) control.setAttribute("aria-invalid", "true");
    }
    box.replaceChildren(el("p", { class: "error-box" }, `${what}: ${Object.keys(data).length} problem(s), also shown next to the fields.`), list);
  }

  function failureOf(box, result, what) {
    const data = result.data;
    if (result.status === 422 && data && typeof data === "object" && typeof data.message !== "string") {
      showProblems(box, data, what);
    } else {
      box.replaceChildren(el("p", { class: "error-box" }, `${what} (HTTP ${result.status}): ${messageOf(result)}`));
    }
    box.focus();
    say(`${what}.`);
  }

  async function check() {
    const box = $("check-result");
    clearProblems();
    box.replaceChildren(el("p", { class: "loading" }, "Checking…"));
    const result = await api("POST", "/pipelines/check", { json: documentOf() });
    if (!result.ok) { failureOf(box, result, "The document was refused"); return; }
    const inputs = result.data.inputs || {};
    const required = inputs.required || [];
    const taken = Object.entries(inputs.properties || {}).map(([name, schema]) =>
      el("li", {}, el("code", {}, name), ` — ${S.describe(schema)}${required.includes(name) ? " (required)" : ""}`));
    box.replaceChildren(
      el("p", { class: "ok" }, "✓ ok: every step and link fits."),
      el("p", {}, "It takes:"), taken.length ? el("ul", {}, taken) : el("p", { class: "empty" }, "nothing"),
      el("p", {}, "It answers " + S.describe(result.data.output || {}) + "."));
    tryForm(inputs);
    box.focus();
    say("The document is ok.");
  }

  async function publish() {
    const box = $("publish-result");
    clearProblems();
    const button = $("publish-button");
    button.disabled = true;
    box.replaceChildren(el("p", { class: "loading" }, "Publishing…"));
    const result = await api("POST", "/pipelines", { json: documentOf() });
    button.disabled = false;
    if (!result.ok) { failureOf(box, result, "Publishing failed"); return; }
    const { module, version } = result.data;
    const page = `${ui}/modules/${encodeURIComponent(module)}`;
    box.replaceChildren(el("p", { class: "ok" }, `✓ Published ${module} ${version}.`),
      el("p", { class: "actions" }, el("a", { href: page, id: "published-link" }, `Its page: ${module}`),
        el("a", { href: page + "/try", class: "button" }, "Try it there")));
    box.focus();
    say(`Published ${module} ${version}.`);
  }

  async function copy() {
    const text = $("document").value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      $("document").select();
      document.execCommand("copy");
    }
    say("The document is copied.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("composer")) return;
    for (const id of ["pl-name", "pl-version", "pl-title", "pl-summary"]) $(id).addEventListener("input", sync);
    const add = $("add-step");
    if ($("add-module")) {
      const suggest = () => { $("add-id").placeholder = suggestId($("add-module").value); };
      $("add-module").addEventListener("change", suggest);
      suggest();
      add.addEventListener("submit", addStep);
    }
    $("try-form").addEventListener("submit", (event) => tryIt(event, { documentOf, failureOf, say }));
    $("check-button").addEventListener("click", check);
    $("publish-button").addEventListener("click", publish);
    $("copy-document").addEventListener("click", copy);
    render();
  });
})();
