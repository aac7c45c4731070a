/* Prediction results people read: the summary first, lists of records as sortable tables
 * (anomalies marked), images and number series inline, the raw JSON collapsed when large, and
 * which version answered. */
"use strict";
(function () {
  const { el } = window.mp;

  /** A raw JSON longer than this (characters) starts collapsed; so do tree nodes this wide. */
  const LARGE_JSON = 2000, WIDE_NODE = 20;
  /** Record fields that mark a record anomalous when true. */
  const ANOMALY_KEYS = ["anomaly", "anomalous", "outlier", "is_anomaly", "is_outlier"];
  const LABEL_KEYS = ["label", "class", "class_name", "name", "category", "species"];
  const SCORE_KEYS = ["probability", "prob", "score", "confidence"];

  const isRecord = (d) => d !== null && typeof d === "object" && !Array.isArray(d);
  const isScalar = (v) => v === null || ["string", "number", "boolean"].includes(typeof v);
  const isImageUrl = (v) => typeof v === "string" && /^data:image\/(png|jpe?g|gif|webp|svg\+xml|bmp);base64,/i.test(v);
  const isSeries = (v) => Array.isArray(v) && v.length >= 3 && v.every((x) => typeof x === "number" && isFinite(x));
  const isRecords = (v) => Array.isArray(v) && v.length > 0 && v.every(isRecord);

  /** The key marking records anomalous (a boolean field of every record), or null. */
  function anomalyKey(records) {
    return ANOMALY_KEYS.find((k) => records.some((r) => r[k] === true) && records.every((r) => r[k] === undefined || typeof r[k] === "boolean")) || null;
  }

  /** [{label, value}] when ``data`` looks like class probabilities, else null. */
  function probabilities(data) {
    if (isRecords(data)) {
      const lk = LABEL_KEYS.find((k) => data.every((d) => typeof d[k] === "string"));
      const sk = SCORE_KEYS.find((k) => data.every((d) => typeof d[k] === "number" && d[k] >= 0 && d[k] <= 1));
      return lk && sk ? data.map((d) => ({ label: d[lk], value: d[sk] })) : null;
    }
    if (isRecord(data)) {
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

  /** A number as people read it: integers whole, others to 4 significant digits. */
  function number(v) {
    if (Number.isInteger(v) || !isFinite(v)) return String(v);
    const abs = Math.abs(v);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }

  /** A cell's content: text, a thumbnail for an image, a list joined by commas. */
  function cell(v) {
    if (v === undefined || v === null) return "";
    if (isImageUrl(v)) return el("img", { class: "cell-image", src: v, alt: "image" });
    if (typeof v === "number") return number(v);
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (Array.isArray(v) && v.every(isScalar)) return v.map((x) => (typeof x === "number" ? number(x) : String(x))).join(", ");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  /** How a column sorts: numbers numerically, booleans true first, the rest as text. */
  function sortKey(values) {
    const given = values.filter((v) => v !== undefined && v !== null);
    if (given.length && given.every((v) => typeof v === "number")) return (v) => (v === undefined || v === null ? -Infinity : v);
    if (given.length && given.every((v) => typeof v === "boolean")) return (v) => (v ? 1 : 0);
    return (v) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v));
  }

  /** Records as a table: click a column's header to sort by it (again to reverse). */
  function recordTable(records, caption) {
    const keys = [...new Set(records.flatMap(Object.keys))];
    const marker = anomalyKey(records);
    const anomalies = marker ? records.filter((r) => r[marker] === true).length : 0;
    const rows = records.map((r, index) => {
      const flagged = marker !== null && r[marker] === true;
      const tr = el("tr", { class: flagged ? "anomaly" : null, "data-index": index },
        keys.map((k, i) => el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {},
          i === 0 && flagged ? el("span", { class: "flag", title: "anomaly" }, "⚠ ") : null,
          i === 0 && flagged ? el("span", { class: "visually-hidden" }, "anomaly: ") : null,
          cell(r[k]))));
      return { tr, record: r };
    });
    const body = el("tbody", {}, rows.map((r) => r.tr));
    const status = el("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    const headers = keys.map((k) => {
      const button = el("button", { type: "button", class: "sort" }, k, el("span", { class: "sort-mark", "aria-hidden": "true" }, ""));
      const th = el("th", { scope: "col", "data-key": k }, button);
      button.addEventListener("click", () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        const key = sortKey(records.map((r) => r[k]));
        const sorted = [...rows].sort((a, b) => {
          const x = key(a.record[k]), y = key(b.record[k]);
          const order = typeof x === "string" ? x.localeCompare(y, undefined, { numeric: true }) : x - y;
          return ascending ? order : -order;
        });
        for (const other of head.querySelectorAll("th")) {
          other.removeAttribute("aria-sort");
          other.querySelector(".sort-mark").textContent = "";
        }
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        button.querySelector(".sort-mark").textContent = ascending ? " ▲" : " ▼";
        body.replaceChildren(...sorted.map((r) => r.tr));
        status.textContent = `Sorted by ${k}, ${ascending ? "ascending" : "descending"}.`;
      });
      return th;
    });
    const head = el("tr", {}, headers);
    const note = [`${records.length} record${records.length === 1 ? "" : "s"}`];
    if (marker) note.push(`${anomalies} marked ${marker} (⚠, highlighted)`);
    note.push("click a column's header to sort");
    return el("figure", { class: "records" },
      el("figcaption", {}, caption ? el("strong", {}, caption + ": ") : null, note.join(" · ")),
      el("div", { class: "table-box", tabindex: 0, role: "region", "aria-label": (caption || "records") + " table" },
        el("table", { class: "result-table" }, el("thead", {}, head), body)),
      status);
  }

  /** A list of numbers as a line chart (chart.js), with its data in a table. */
  function series(name, values) {
    const figure = el("figure", { class: "chart-figure" });
    window.mpChart.draw(figure, name, values.map((y, x) => ({ x, y })), { xLabel: "index" });
    return figure;
  }

  function image(src, name) {
    return el("figure", { class: "result-figure" }, el("img", { class: "result-image", src, alt: name ? `${name} (image)` : "The predicted image" }),
      name ? el("figcaption", {}, name) : null);
  }

  /** JSON as a tree of disclosure widgets; wide nodes start closed. */
  function tree(value, key, depth) {
    const name = key === undefined ? null : el("span", { class: "key" }, key + ": ");
    if (value !== null && typeof value === "object") {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
      const kind = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
      return el("li", {}, el("details", { open: (entries.length <= WIDE_NODE && (depth || 0) < 3) || null },
        el("summary", {}, name, el("span", { class: "kind" }, kind)),
        el("ul", {}, entries.map(([k, v]) => tree(v, k, (depth || 0) + 1)))));
    }
    return el("li", {}, name, el("span", { class: "value t-" + (value === null ? "null" : typeof value) }, JSON.stringify(value)));
  }

  function rawJson(data, open) {
    const text = JSON.stringify(data);
    const large = text.length > LARGE_JSON;
    const size = large ? ` (${Math.round(text.length / 1024)} KiB)` : "";
    return el("details", { class: "json", open: (open && !large) || null },
      el("summary", {}, "Raw JSON" + size), el("ul", { class: "tree" }, tree(data)));
  }

  /** The summary (scalars) first, then images, series, record tables and other values. */
  function readable(data) {
    const parts = [];
    const probs = probabilities(data);
    if (probs) return { parts: [bars(probs)], shown: true };
    if (isRecords(data)) return { parts: [recordTable(data, null)], shown: true };
    if (isImageUrl(data)) return { parts: [image(data, null)], shown: true };
    if (isSeries(data)) return { parts: [series("value", data)], shown: true };
    if (!isRecord(data)) return { parts, shown: false };
    const entries = Object.entries(data);
    const scalars = entries.filter(([, v]) => isScalar(v) && !isImageUrl(v));
    if (scalars.length) {
      parts.push(el("section", { class: "result-summary", "aria-label": "Summary" },
        el("h3", {}, "Summary"),
        el("dl", { class: "facts" }, scalars.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, cell(v)))))));
    }
    let shown = scalars.length > 0;
    for (const [k, v] of entries) {
      if (isImageUrl(v)) parts.push(image(v, k));
      else if (isSeries(v)) parts.push(series(k, v));
      else if (isRecords(v)) parts.push(recordTable(v, k));
      else if (isRecord(v) && Object.values(v).some(isImageUrl)) {
        for (const [name, src] of Object.entries(v)) if (isImageUrl(src)) parts.push(image(src, `${k}: ${name}`));
      } else continue;
      shown = true;
    }
    return { parts, shown };
  }

  /**
   * Render a prediction's answer into ``container``: ``info`` = {model, version (asked, or
   * undefined), elapsed (ms)}. The version that answered comes from X-Modelport-Model-Version.
   */
  async function render(container, response, info) {
    const type = (response.headers.get("content-type") || "").split(";")[0].trim();
    const answered = response.headers.get("x-modelport-model-version") || info.version;
    const parts = [el("p", { class: "answered", role: "status" },
      answered ? ["Answered by ", el("strong", { class: "who" }, `${info.model} ${answered}`)] : `Answered by ${info.model}`,
      ` in ${info.elapsed} ms (${type || "no type"}).`)];
    const warning = /^299 modelport "(.*)"$/.exec(response.headers.get("warning") || "");
    if (warning) parts.push(el("p", { class: "notice yanked-answer", role: "note" }, warning[1][0].toUpperCase() + warning[1].slice(1) + "."));
    if (type.includes("json")) {
      let data = await response.json();
      if (isRecord(data) && data.status === "OK" && "predictions" in data) data = data.predictions;
      const { parts: shown, shown: any } = readable(data);
      parts.push(...shown, rawJson(data, !any));
    } else if (type.startsWith("image/")) {
      parts.push(image(URL.createObjectURL(await response.blob()), null));
    } else if (type.startsWith("text/") || !type) {
      parts.push(el("pre", { class: "result-text", tabindex: 0 }, await response.text()));
    } else {
      const url = URL.createObjectURL(await response.blob());
      parts.push(el("a", { href: url, download: "prediction" }, `Download the result (${type})`));
    }
    container.replaceChildren(el("div", { class: "result" }, parts));
  }

  window.mpResults = { render, recordTable, readable };
})();
