"""Module descriptions render as Markdown without raw HTML or script links."""

from __future__ import annotations

from modelport.ui.markdown import render_markdown


def test_markdown_renders_and_escapes_raw_html() -> None:
    html = render_markdown("# Title\n\n**bold** <b onclick='x()'>raw</b>\n\n| a |\n|---|\n| 1 |")
    assert "<h3>Title</h3>" in html  # below the page's own h1 and h2
    assert "<strong>bold</strong>" in html
    assert "<b onclick" not in html
    assert "&lt;b onclick=" in html
    assert "<table>" in html


def test_links_are_sanitized_and_marked() -> None:
    html = render_markdown(
        "[ok](https://example.org) [rel](docs/x.md) [js](javascript:alert(1)) "
        "[data](data:text/html;base64,PHNjcmlwdD4=) [vb](VBScript:x) ![img](javascript:x)"
    )
    assert 'href="https://example.org" rel="nofollow noopener noreferrer"' in html
    assert 'href="docs/x.md"' in html
    assert 'href="javascript' not in html
    assert 'href="data:' not in html
    assert 'href="vbscript' not in html.lower()
    assert 'src="javascript' not in html


def test_empty_description() -> None:
    assert render_markdown(None) == ""
