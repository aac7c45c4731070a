/* Notebooks: start one (My jobs' form, a module's "Open in JupyterLab"), stop one from the job
   list, and on a notebook's job page show "Open JupyterLab" once it answers. */
"use strict";
(function () {
  const { api, messageOf, failureOf, showFieldErrors, clearErrors, ui } = window.mp;

  async function start(body, form) {
    const general = document.getElementById("notebook-error");
    if (form) clearErrors(form); else if (general) general.textContent = "";
    const result = await api("POST", "/jobs", { json: Object.assign({ kind: "notebook" }, body) });
    if (result.ok) { window.location.assign(`${ui}/jobs/${result.data.id}`); return; }
    const fields = result.status === 422 && result.data && typeof result.data.message !== "string";
    if (fields && form) showFieldErrors(form, result.data, general, ["body."]);
    else if (general) general.textContent = failureOf(result);
  }

  function number(form, name) {
    const raw = form.elements[name].value.trim();
    return raw === "" ? null : Number(raw);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "notebook-form") return;
    event.preventDefault();
    const resources = { cpu: number(form, "cpu") ?? 1, gpu: number(form, "gpu") ?? 0 };
    start({ resources, idle_minutes: number(form, "idle_minutes") }, form);
  });

  document.addEventListener("click", async (event) => {
    const opener = event.target.closest("[data-open-notebook]");
    if (opener) {
      opener.disabled = true;
      await start({ model: opener.dataset.module, version: opener.dataset.version || null }, null);
      opener.disabled = false;
      return;
    }
    const stop = event.target.closest("[data-stop-job]");
    if (stop) {
      stop.disabled = true;
      const result = await api("POST", `/jobs/${stop.dataset.stopJob}/cancel`);
      stop.textContent = result.ok ? "Stopping…" : messageOf(result);
    }
  });

  function watch(section) {
    const root = document.getElementById("job");
    const open = document.getElementById("open-notebook");
    const state = document.getElementById("notebook-state");
    async function poll() {
      const status = root.dataset.status;
      if (["succeeded", "failed", "cancelled"].includes(status)) {
        open.hidden = true;
        state.textContent = "Stopped.";
        return;
      }
      if (status === "running") {
        const result = await api("GET", `/jobs/${root.dataset.job}/notebook`);
        if (result.ok && result.data.ready) {
          open.href = result.data.url;
          open.hidden = false;
          state.textContent = "JupyterLab is ready.";
        } else if (!result.ok) {
          state.textContent = messageOf(result);
        }
      } else {
        state.textContent = "Queued: waiting for room.";
      }
      window.setTimeout(poll, open.hidden ? 700 : 5000);
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.getElementById("notebook");
    if (section) watch(section);
  });
})();
