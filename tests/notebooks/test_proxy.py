"""What the notebook proxy forwards: nothing of the platform's upstream, no Jupyter cookie back,
and JupyterLab's own pages (only those) read whole to remove its token."""

from __future__ import annotations

import httpx

from modelport.notebooks.proxy import downstream_headers, is_page, upstream_headers


def test_the_platforms_credentials_never_go_upstream() -> None:
    sent = [
        ("Cookie", "modelport_session=secret"),
        ("Authorization", "Bearer mp_x_y"),
        ("Host", "platform.example.org"),
        ("Origin", "https://platform.example.org"),
        ("Connection", "keep-alive"),
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ]
    assert upstream_headers(sent, "tok") == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Host": "localhost",  # Jupyter answers 403 to other hosts
        "Authorization": "token tok",
    }


def test_jupyters_cookies_and_hop_by_hop_headers_stay_upstream() -> None:
    answer = httpx.Headers(
        [
            ("Set-Cookie", "_xsrf=abc; Path=/"),
            ("Set-Cookie", "username-localhost=x"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Type", "text/html"),
            ("Content-Security-Policy", "frame-ancestors 'self'"),
        ]
    )
    assert downstream_headers(answer) == [
        ("content-type", "text/html"),
        ("content-security-policy", "frame-ancestors 'self'"),
    ]


def test_only_jupyterlabs_pages_are_rewritten() -> None:
    def answer(kind: str) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": kind})

    assert is_page("lab", answer("text/html; charset=UTF-8"))
    assert is_page("lab/tree/x.ipynb", answer("text/html"))
    assert not is_page("files/report.html", answer("text/html"))  # a user's file, streamed
    assert not is_page("lab/api/settings", answer("application/json"))
