"""Live side-by-side suite: DEEPaaS 2.6.0 and modelport on the same probe modules."""
