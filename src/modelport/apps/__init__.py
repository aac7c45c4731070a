"""The programs: each assembles the layers into one running app.

``platform`` (``modelport up``), ``worker`` (one catalog module version in its own process, or a
Ray Serve replica) and ``schema`` (``modelport db``: the operator's migration step) import
whatever they wire together; nothing below imports them (the gateway starts the worker as a
program, ``python -m modelport.apps.worker``, and is handed
:func:`~modelport.apps.worker.start_app` for Ray Serve replicas).
"""
