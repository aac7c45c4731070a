"""Storage servers for real (moto's S3, WsgiDAV with basic auth), one of each per module, and a
fresh location on either (``target``) per test."""

from __future__ import annotations

import pytest

from tests.storage.servers import Target, dav, location, s3

__all__ = ["dav", "s3"]  # the servers (fixtures), one per module


@pytest.fixture(
    params=[
        pytest.param("s3", marks=pytest.mark.slow),
        pytest.param("webdav", marks=pytest.mark.slow),
    ]
)
def target(request: pytest.FixtureRequest) -> Target:
    """A fresh location on the S3 server, then on the WebDAV one."""
    server = request.getfixturevalue("s3" if request.param == "s3" else "dav")
    return location(request.param, server)
