"""Training jobs: domain, store, service, scheduler and executors."""
