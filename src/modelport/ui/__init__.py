"""The web dashboard: server-rendered pages (Jinja2 + htmx), every asset shipped in the package."""

from __future__ import annotations

from modelport.ui.router import ui_router

__all__ = ["ui_router"]
