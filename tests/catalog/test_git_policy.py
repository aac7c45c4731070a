"""Publishing from git: which URLs publishers may send, the clone's size cap, symbolic links.

Real repositories, a real ``git daemon`` on 127.0.0.1, real name resolution (127.0.0.1,
localhost and address literals only), the real catalog routes in-process.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelport.api.catalog import catalog_router
from modelport.api.errors import install_error_handlers
from modelport.catalog.git import GitPolicy, check_repository_url, fetch_repository
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.catalog.sources import read_module
from modelport.errors import InvalidInput
from modelport.settings import Settings
from tests.catalog.gitrepos import GitDaemon, bare_copy, free_port, make_repo
from tests.catalog.samples import FIXTURES

TYPED = FIXTURES / "sources" / "typed_module"
PUBLISHERS = GitPolicy.for_publishers()
pytestmark = pytest.mark.usefixtures("git_identity")


def refusal(url: str, policy: GitPolicy = PUBLISHERS) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_repository_url(url, policy, field="source")
    (message,) = caught.value.errors["source"]
    return message


def test_publishers_may_send_https_only() -> None:
    only_https = "this server clones only https:// URLs, not {}: use https://"
    for url, scheme in (
        ("file:///srv/repos/x", "file"),
        ("git://127.0.0.1:9418/x", "git"),
        ("git://example.org/x.git", "git"),
        ("http://example.org/x.git", "http"),
        ("ssh://git@example.org/x.git", "ssh"),
        ("git@example.org:org/x.git", "ssh"),
    ):
        assert refusal(url) == only_https.format(scheme), url
    for path in ("/srv/repos/x", "../x", "x"):
        assert refusal(path).startswith("not a repository URL"), path
    for odd in ("https://exa mple.org/x", "https://example.org\\@127.0.0.1/x", "https://e.org/\n"):
        assert "no spaces, control characters" in refusal(odd), odd
    assert refusal("https://:443/x") == "the URL names no valid host"
    assert check_repository_url("https://8.8.8.8/x.git", PUBLISHERS) == ("8.8.8.8",)


def test_hosts_on_private_networks_are_refused_unless_the_admin_allows_them() -> None:
    with_ssh = GitPolicy.for_publishers(allow_ssh=True)
    for url in (
        "https://127.0.0.1/x.git",
        "https://localhost/x.git",
        "https://[::1]:8443/x.git",
        "https://169.254.169.254/latest",
        "https://10.0.0.7/x.git",
    ):
        assert "not public" in refusal(url), url
    for url in ("ssh://git@127.0.0.1:2222/x.git", "git@localhost:org/x.git"):
        assert "not public" in refusal(url, with_ssh), url
    allowed = GitPolicy.for_publishers(allow_ssh=True, allowed_hosts=["localhost", "10.0.0.0/8"])
    assert check_repository_url("https://localhost/x.git", allowed)
    assert check_repository_url("https://10.0.0.7/x.git", allowed) == ("10.0.0.7",)
    assert check_repository_url("git@localhost:org/x.git", allowed) == ()
    assert "not public" in refusal("https://127.0.0.1/x.git", allowed)  # not named


def test_the_operator_keeps_every_transport(tmp_path: Path) -> None:
    """The CLI and imports (no policy, or the default one) clone local paths and git://."""
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    served = tmp_path / "served"
    served.mkdir()
    bare_copy(origin, served, "origin")
    daemon = GitDaemon(served)
    try:
        url = f"{daemon.url}/origin"
        assert (fetch_repository(url, tmp_path / "by-daemon") / "README.md").is_file()
        with pytest.raises(InvalidInput) as caught:
            fetch_repository(url, tmp_path / "refused", policy=PUBLISHERS, field="source")
        assert list(caught.value.errors) == ["source"]
        assert not (tmp_path / "refused").exists()
    finally:
        daemon.stop()
    assert (fetch_repository(str(origin), tmp_path / "by-path") / "README.md").is_file()


# -- the size cap ---------------------------------------------------------------------------------


def test_a_repository_over_the_size_cap_leaves_nothing(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    (origin / "noise.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # does not compress
    _commit_all(origin)
    small = GitPolicy(max_bytes=1024 * 1024)
    with pytest.raises(InvalidInput) as caught:
        fetch_repository(origin.as_uri(), tmp_path / "dest", policy=small)
    assert caught.value.errors == {
        origin.as_uri(): ["the repository is larger than this server's limit of 1 MB"]
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["origin"]  # no clone, no staging
    assert (fetch_repository(origin.as_uri(), tmp_path / "dest") / "noise.bin").is_file()


def test_a_checkout_over_the_size_cap_is_refused_before_it_is_written(tmp_path: Path) -> None:
    """20 MB of zeros pack into a few KB: the checkout, not the download, is what is big."""
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    (origin / "zeros.bin").write_bytes(bytes(20 * 1024 * 1024))
    _commit_all(origin)
    with pytest.raises(InvalidInput) as caught:
        fetch_repository(origin.as_uri(), tmp_path / "dest", policy=GitPolicy(max_bytes=5 << 20))
    assert "larger than this server's limit of 5 MB" in caught.value.errors[origin.as_uri()][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["origin"]


def _commit_all(repo: Path) -> None:
    from tests.catalog.gitrepos import git

    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "more")


# -- symbolic links -------------------------------------------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside every module: what a symbolic link in one must not reveal."""
    path = tmp_path / "secret.txt"
    path.write_text("server secret\n")
    return path


def test_a_clone_checks_symbolic_links_out_as_plain_files(tmp_path: Path, secret: Path) -> None:
    origin = shutil.copytree(TYPED, tmp_path / "origin")
    (origin / "README.md").unlink(missing_ok=True)
    (origin / "README.md").symlink_to(secret)
    (origin / "notes").symlink_to("../../etc")
    make_repo(origin)
    checkout = fetch_repository(origin.as_uri(), tmp_path / "dest")
    assert not (checkout / "README.md").is_symlink()
    assert (checkout / "README.md").read_text() == str(secret)  # the link's text, not the file
    assert (checkout / "notes").read_text() == "../../etc"
    assert "server secret" not in (read_module(checkout).readme or "")


@pytest.mark.parametrize("name", ["pyproject.toml", "ai4-metadata.yml"])
def test_a_module_directory_is_never_read_through_a_link_out(
    tmp_path: Path, secret: Path, name: str
) -> None:
    module = shutil.copytree(TYPED, tmp_path / "module")
    (module / name).unlink()
    (module / name).symlink_to(secret)
    with pytest.raises(InvalidInput) as caught:
        read_module(module)
    assert caught.value.errors == {
        name: ["leads out of the module directory (a symbolic link?): not read"]
    }


def test_a_readme_out_of_the_module_is_no_readme(tmp_path: Path, secret: Path) -> None:
    module = shutil.copytree(TYPED, tmp_path / "module")
    for name in ("README.md", "README.rst", "README.txt", "README"):
        (module / name).unlink(missing_ok=True)
    (module / "README.md").symlink_to(secret)
    pyproject = module / "pyproject.toml"
    assert read_module(module).readme is None
    pyproject.write_text(pyproject.read_text().replace('"README.md"', '"../secret.txt"'))
    assert read_module(module).readme is None


# -- over HTTP ------------------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> CatalogService:
    return build_catalog_service(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[str]:
    """``git://127.0.0.1:PORT/plants``: the typed module served by a real git daemon."""
    served = tmp_path / "served"
    served.mkdir()
    bare_copy(make_repo(tmp_path / "plants", TYPED), served, "plants")
    running = GitDaemon(served)
    try:
        yield f"{running.url}/plants"
    finally:
        running.stop()


async def _client(service: CatalogService, settings: Settings) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app, False)
    app.include_router(catalog_router(service, settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def http(service: CatalogService) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(service, Settings()) as client:
        yield client


async def test_http_publishes_refuse_what_publishers_may_not_send(
    http: httpx.AsyncClient, service: CatalogService, daemon: str
) -> None:
    by_daemon = await http.post("/catalog/modules", json={"source": daemon})
    assert by_daemon.status_code == 422
    assert by_daemon.json() == {
        "source": ["this server clones only https:// URLs, not git: use https://"]
    }
    for url in ("https://127.0.0.1/plants.git", "https://localhost:8443/plants.git"):
        loopback = await http.post("/catalog/modules", json={"source": url})
        assert loopback.status_code == 422
        (message,) = loopback.json()["source"]
        assert "not public" in message
        assert "git_allowed_hosts" in message
    ssh = await http.post("/catalog/modules", json={"source": "git@example.org:org/x.git"})
    assert ssh.json() == {
        "source": ["this server clones only https:// URLs, not ssh: use https://"]
    }
    assert service.registry.names() == []
    # the operator, on the server itself, still publishes from the daemon
    assert service.publish_repository(daemon).module == "plant-classifier"


async def test_the_admins_allow_list_and_ssh_setting(service: CatalogService) -> None:
    port = free_port()  # nothing listens there: the clone itself fails, after the host check
    settings = Settings(git_allowed_hosts=["127.0.0.1"], git_allow_ssh=True)
    async with await _client(service, settings) as http:
        allowed = await http.post(
            "/catalog/modules", json={"source": f"https://127.0.0.1:{port}/plants.git"}
        )
        assert allowed.status_code == 422
        (message,) = allowed.json()["source"]
        assert message.startswith("git clone failed: ")
        ssh = await http.post(
            "/catalog/modules", json={"source": "ssh://git@10.0.0.1:22/plants.git"}
        )
        assert "not public" in ssh.json()["source"][0]  # ssh allowed; that host is not
