/* Line charts in plain SVG: one series, axes with their ranges, markers, and a data table. */
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 480, H = 220, PAD = { left: 56, right: 16, top: 16, bottom: 36 };

  function svg(tag, attrs) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function fmt(value) {
    if (!isFinite(value)) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 0.001 || abs >= 1e5)) return value.toExponential(2);
    return String(Math.round(value * 1000) / 1000);
  }

  /**
   * Draw ``points`` ([{x, y}], x = step) of metric ``name`` into ``figure`` (replacing it);
   * ``options.xLabel`` names the x axis ("step" by default).
   */
  function draw(figure, name, points, options) {
    const xLabel = (options && options.xLabel) || "step";
    const { el } = window.mp;
    figure.replaceChildren();
    const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= Math.abs(y0) || 1; y1 += Math.abs(y1) || 1; }
    const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
    const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
    const last = points[points.length - 1];
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "data-metric": name, "data-points": points.length });
    const title = svg("title", {});
    title.textContent = `${name} over ${xLabel}s: ${points.length} points, latest ${fmt(last.y)} at ${xLabel} ${last.x}`;
    root.append(title);
    const axes = svg("path", { d: `M${PAD.left},${PAD.top} V${H - PAD.bottom} H${W - PAD.right}`, class: "axis" });
    root.append(axes);
    const labels = [
      [PAD.left - 6, sy(y1) + 4, fmt(y1), "end"], [PAD.left - 6, sy(y0), fmt(y0), "end"],
      [sx(x0), H - PAD.bottom + 16, fmt(x0), "middle"], [sx(x1), H - PAD.bottom + 16, fmt(x1), "middle"],
      [(W + PAD.left) / 2, H - 4, xLabel, "middle"],
    ];
    for (const [x, y, text, anchor] of labels) {
      const node = svg("text", { x, y, "text-anchor": anchor, class: "tick" });
      node.textContent = text;
      root.append(node);
    }
    const line = svg("polyline", { points: points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), class: "line" });
    root.append(line);
    for (const p of points.slice(-200)) root.append(svg("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, class: "dot" }));
    const rows = points.slice(-20).map((p) => el("tr", {}, el("td", {}, fmt(p.x)), el("td", {}, fmt(p.y))));
    figure.append(
      el("figcaption", {}, el("strong", {}, name), ` — latest ${fmt(last.y)} at ${xLabel} ${fmt(last.x)}`),
      root,
      el("details", {}, el("summary", {}, `Data (last ${rows.length} points)`),
        el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, xLabel), el("th", { scope: "col" }, name))), el("tbody", {}, rows))),
    );
  }

  window.mpChart = { draw };
})();
