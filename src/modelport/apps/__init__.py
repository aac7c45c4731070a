"""The programs: each assembles the layers into one running app.

``platform`` (``modelport up``) and ``worker`` (one catalog module version in its own process,
or a Ray Serve replica) import whatever they wire together; nothing below imports them (the
gateway starts the worker as a program, ``python -m modelport.apps.worker``, and is handed
:func:`~modelport.apps.worker.start_app` for Ray Serve replicas).
"""
