/* The pipeline composer's schema rules: which value fits which input (the same rules as
 * modelport.pipelines.interfaces.fits), the fields of an answer, literals parsed by type. */
"use strict";
(function () {
  const MAX_DEPTH = 32;
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const unknown = (schema) => !isObject(schema) || Object.keys(schema).length === 0;
  const isFile = (s) => s.type === "string" && s.format === "binary";
  const isBase64 = (s) => s.type === "string"
    && (s.contentEncoding === "base64" || s.format === "byte" || s.format === "base64");
  const isNull = (s) => s.type === "null";

  function branches(schema) {
    for (const key of ["anyOf", "oneOf"]) {
      if (Array.isArray(schema[key])) return schema[key].filter(isObject);
    }
    if (Array.isArray(schema.type)) return schema.type.map((type) => Object.assign({}, schema, { type }));
    return null;
  }

  /** A schema's type in words ("an integer", "a list of an object (Word)", "a file"). */
  function describe(schema) {
    if (unknown(schema)) return "anything";
    if (isFile(schema)) return "a file";
    const options = branches(schema);
    if (options) {
      const kept = options.filter((b) => !isNull(b));
      const words = kept.map(describe).join(" or ");
      return kept.length < options.length ? words + " (optional)" : words;
    }
    const kind = schema.type;
    if (kind === "array") {
      const items = schema.items || {};
      return items.type || items.properties ? "a list of " + describe(items) : "a list";
    }
    if (kind === "object") return schema.title ? `an object (${schema.title})` : "an object";
    if (kind === "integer") return "an integer";
    if (kind === "string" && isBase64(schema)) return "a string (base64)";
    return kind ? "a " + kind : "anything";
  }

  /** Why a value of ``source`` cannot feed ``target``; null when it can. */
  function fits(source, target, depth) {
    depth = depth || 0;
    if (unknown(source) || unknown(target) || depth > MAX_DEPTH) return null;
    const given = branches(source);
    if (given) {
      for (const branch of given) {
        if (isNull(branch)) continue;
        const problem = fits(branch, target, depth + 1);
        if (problem !== null) return problem;
      }
      return null;
    }
    const wanted = branches(target);
    if (wanted) {
      const found = wanted.filter((b) => !isNull(b)).map((b) => fits(source, b, depth + 1));
      return !found.length || found.includes(null) ? null : found[0];
    }
    if ("allOf" in target || "allOf" in source) return null;
    return fitsType(source, target, depth);
  }

  function fitsType(source, target, depth) {
    const wanted = target.type, given = source.type;
    if (wanted === undefined || given === undefined) return null;
    if (isFile(target)) {
      return isFile(source) || isBase64(source) ? null : `a file is wanted, but ${describe(source)} is given`;
    }
    if (isFile(source)) return `${describe(target)} is wanted, but a file is given`;
    if (wanted === given || (wanted === "number" && given === "integer")) {
      if (wanted === "array") return fits(source.items || {}, target.items || {}, depth + 1);
      if (wanted === "object") return fitsObject(source, target, depth);
      if (Array.isArray(target.enum) && Array.isArray(source.enum)) {
        const extra = source.enum.filter((v) => !target.enum.includes(v));
        if (extra.length) return `${JSON.stringify(extra[0])} may be given, but only ${JSON.stringify(target.enum)} are taken`;
      }
      return null;
    }
    return `${describe(target)} is wanted, but ${describe(source)} is given`;
  }

  function fitsObject(source, target, depth) {
    const given = source.properties;
    if (!isObject(given)) return null;
    const wanted = target.properties || {};
    for (const name of target.required || []) {
      if (!(name in given)) return `an object with '${name}' is wanted; the value has no '${name}'`;
      const problem = fits(given[name], wanted[name] || {}, depth + 1);
      if (problem !== null) return `'${name}': ${problem}`;
    }
    return null;
  }

  /** Optional[X] → X (a union of one non-null branch); anything else as it is. */
  function plain(schema) {
    if (unknown(schema)) return {};
    const options = branches(schema);
    if (!options) return schema;
    const kept = options.filter((b) => !isNull(b));
    return kept.length === 1 ? kept[0] : schema;
  }

  /** Every field of a value of ``schema``: [{path: "" | "a.b", schema}], the value itself first;
   * lists are not entered (their items are reached by for_each). */
  function fields(schema, prefix, out, depth) {
    out = out || [];
    prefix = prefix || "";
    out.push({ path: prefix, schema: schema || {} });
    const inner = plain(schema);
    if ((depth || 0) < 8 && isObject(inner.properties)) {
      for (const [key, sub] of Object.entries(inner.properties)) {
        fields(sub, prefix ? prefix + "." + key : key, out, (depth || 0) + 1);
      }
    }
    return out;
  }

  /** Whether a value of ``schema`` may be a list (for_each takes it). */
  const mayBeList = (schema) => unknown(plain(schema)) || plain(schema).type === "array";

  /** The schema of a list's items. */
  const itemsOf = (schema) => (plain(schema).items || {});

  /** A literal typed into the form, as the document holds it (by the input's JSON type). */
  function literal(text, schema) {
    const kind = plain(schema).type;
    const trimmed = text.trim();
    if ((kind === "integer" || kind === "number") && trimmed !== "" && Number.isFinite(Number(trimmed))) {
      return Number(trimmed);
    }
    if (kind === "boolean" && /^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === "true";
    if (kind === "array" || kind === "object") {
      try { return JSON.parse(text); } catch (err) { return text; }
    }
    return text.startsWith("$") ? "$" + text : text;  // $$: a string that starts with $
  }

  window.mpSchema = { fits, describe, fields, plain, mayBeList, itemsOf, literal, isFile, unknown };
})();
