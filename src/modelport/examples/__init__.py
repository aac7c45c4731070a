"""Example models shipped with modelport."""
