/* The job page: live status, progress, metric curves and log tail from the job's event stream. */
"use strict";
(function () {
  const { el, api, messageOf, showFieldErrors, base, ui } = window.mp;
  const LOG_LINES = 500;

  function setUp(root) {
    const id = root.dataset.job;
    const status = document.getElementById("job-status");
    const bar = document.getElementById("job-progress");
    const barText = document.getElementById("job-progress-text");
    const message = document.getElementById("job-message");
    const errorBox = document.getElementById("job-error");
    const log = document.getElementById("job-log");
    const charts = document.getElementById("charts");
    const cancel = document.getElementById("cancel-job");
    const retry = document.getElementById("retry-job");
    const actionError = document.getElementById("job-action-error");
    const series = new Map();
    const dirty = new Set();
    let frame = 0;

    function setStatus(value, error) {
      root.dataset.status = value;
      status.textContent = value;
      const queue = document.getElementById("job-queue");
      if (queue && value !== "queued") queue.hidden = true;
      status.className = "status status-" + value;
      const finished = ["succeeded", "failed", "cancelled"].includes(value);
      cancel.hidden = finished;
      retry.hidden = !finished;
      if (error) { errorBox.hidden = false; errorBox.textContent = error; }
      const publish = document.getElementById("publish");
      if (publish) publish.hidden = value !== "succeeded";
      if (value === "succeeded") setProgress(1, null);
    }

    function setProgress(fraction, text) {
      if (typeof fraction === "number") {
        const pct = Math.max(0, Math.min(100, fraction * 100));
        bar.value = pct;
        barText.textContent = Math.round(pct) + "%";
      }
      if (text) message.textContent = text;
    }

    function addPoint(name, step, value) {
      if (!series.has(name)) {
        document.getElementById("no-metrics")?.remove();
        const figure = el("figure", { class: "chart-figure", id: "chart-" + name.replace(/[^\w-]/g, "_") });
        charts.append(figure);
        series.set(name, { figure, points: [] });
      }
      const entry = series.get(name);
      entry.points.push({ x: step ?? entry.points.length + 1, y: value });
      dirty.add(name);
      if (!frame) frame = requestAnimationFrame(redraw);
    }

    function redraw() {
      frame = 0;
      for (const name of dirty) { const s = series.get(name); window.mpChart.draw(s.figure, name, s.points); }
      dirty.clear();
    }

    function addLog(line) {
      const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      log.append(line + "\n");
      while (log.childNodes.length > LOG_LINES) log.firstChild.remove();
      if (nearBottom) log.scrollTop = log.scrollHeight;
    }

    async function refreshArtifacts() {
      const result = await api("GET", `/jobs/${id}/artifacts`);
      if (!result.ok) return;
      const list = document.getElementById("artifacts");
      list.replaceChildren(...result.data.map((a) => el("li", {},
        el("a", { href: a.href, download: true }, a.name), a.size != null ? el("span", { class: "when" }, ` (${a.size} bytes)`) : null)));
      document.getElementById("no-artifacts").hidden = result.data.length > 0;
    }

    const stream = new EventSource(`${base}/jobs/${id}/events`);
    const data = (event) => JSON.parse(event.data);
    stream.addEventListener("status", (e) => { const d = data(e); setStatus(d.status, d.error); });
    stream.addEventListener("progress", (e) => { const d = data(e); setProgress(d.progress, d.message); });
    stream.addEventListener("metric", (e) => { const d = data(e); addPoint(d.name, d.step, d.value); });
    stream.addEventListener("log", (e) => addLog(data(e).line));
    stream.addEventListener("artifact", () => refreshArtifacts());
    stream.addEventListener("end", (e) => { stream.close(); setStatus(data(e).status); refreshArtifacts(); });

    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      actionError.textContent = "";
      const result = await api("POST", `/jobs/${id}/cancel`);
      cancel.disabled = false;
      if (!result.ok) actionError.textContent = messageOf(result);
      else { status.textContent = result.data.status === "cancelled" ? "cancelled" : "cancelling…"; }
    });
    retry.addEventListener("click", async () => {
      actionError.textContent = "";
      const result = await api("POST", `/jobs/${id}/retry`);
      if (result.ok) window.location.assign(`${ui}/jobs/${result.data.id}`);
      else actionError.textContent = messageOf(result);
    });

    const publish = document.getElementById("publish-form");
    if (publish) {
      publish.addEventListener("submit", async (event) => {
        event.preventDefault();
        const module = publish.dataset.module;
        const version = publish.elements.version.value.trim();
        const baseVersion = publish.elements.base_version.value.trim() || null;
        const general = document.getElementById("publish-error");
        if (!version) { showFieldErrors(publish, { version: ["Give the new version, e.g. 1.0.1."] }, general); return; }
        const result = await api("POST", `/catalog/modules/${encodeURIComponent(module)}/versions`,
          { json: { job_id: id, version, base_version: baseVersion } });
        if (result.ok) { window.location.assign(`${ui}/modules/${module}/versions/${encodeURIComponent(version)}`); return; }
        if (result.status === 422 && result.data && !result.data.message) showFieldErrors(publish, result.data, general);
        else general.textContent = messageOf(result);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("job");
    if (root) setUp(root);
  });
})();
