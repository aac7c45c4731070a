"""Module descriptions as safe HTML: CommonMark without raw HTML, links checked and marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

SAFE_SCHEMES = ("http:", "https:", "mailto:")
HEADING_SHIFT = 2


def _safe_link(url: str) -> bool:
    """Only web and mail links (and relative ones); never javascript:, data:, vbscript: ..."""
    lowered = url.strip().lower()
    if ":" not in lowered.split("/", 1)[0]:
        return True
    return lowered.startswith(SAFE_SCHEMES)


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        rendered: str = self.renderToken(tokens, idx, options, env)
        return rendered

    def heading(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        # the page has its own h1 and h2: a description's headings start at h3
        level = int(tokens[idx].tag[1:])
        tokens[idx].tag = f"h{min(level + HEADING_SHIFT, 6)}"
        rendered: str = self.renderToken(tokens, idx, options, env)
        return rendered

    md.add_render_rule("link_open", link_open)
    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


_MD = _build()


def render_markdown(text: str | None) -> Markup:
    """Markdown rendered to HTML that is safe to embed (raw HTML is shown as text)."""
    return Markup(_MD.render(text or ""))  # noqa: S704 - markdown-it escapes; html is off
