"""Notebooks: JupyterLab as a job, next to the user's data and the facility's GPUs.

A notebook is a job of kind ``notebook`` (:class:`~modelport.jobs.domain.JobKind`): queued,
admitted by the same quotas (GPU-hours included), confined by the same sandbox and limits as a
training. Its worker runs :mod:`modelport.jobs.notebook_runner` instead of ``train``:
JupyterLab on a Unix socket (never a port), stopped when idle or at its maximum lifetime. The
platform reaches it through :mod:`modelport.api.notebooks` (``/notebooks/{id}/...``, its owner
only), with the secrets :mod:`modelport.jobs.notebook_sessions` made for it;
:mod:`~modelport.notebooks.service` holds the use cases, :mod:`~modelport.notebooks.proxy` the
transport, :mod:`~modelport.notebooks.sources` a module's checkout.
"""
