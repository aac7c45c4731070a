"""Where training jobs run: local subprocesses or a Ray cluster, behind one interface."""
