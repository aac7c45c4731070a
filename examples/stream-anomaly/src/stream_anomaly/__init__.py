"""A modelport pilot module."""
