"""Rendering the deployment templates shipped in ``modelport/deploy/templates``."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_ENV = Environment(
    loader=PackageLoader("modelport.deploy", "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=select_autoescape(enabled_extensions=("html", "xml"), default_for_string=False),
)


def render(template: str, **values: Any) -> str:
    """Render one template with ``values`` (a missing value is an error, not an empty string)."""
    return _ENV.get_template(template).render(**values)
