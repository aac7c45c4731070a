"""A notebook's secrets on the replica that runs it: an owner's token made at each start (never
``admin``, expiring with the notebook), revoked at its end, on a real token store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelport.auth.tokens import TokenStore
from modelport.db import connect
from modelport.errors import InvalidInput, Unauthorized
from modelport.jobs.domain import Job, JobKind, utcnow
from modelport.jobs.notebook_paths import socket_dir
from modelport.jobs.notebook_sessions import TOKEN_SLACK, NotebookSessions
from modelport.jobs.store import JobStore
from modelport.storage.userdata import area_key


@pytest.fixture
def stores(tmp_path: Path) -> tuple[JobStore, TokenStore]:
    engine = connect(f"sqlite:///{tmp_path / 'platform.db'}")
    return JobStore(engine, replica="here"), TokenStore(engine)


def notebook(tmp_path: Path, **grant: object) -> Job:
    args = {
        "idle_timeout": 60.0,
        "max_lifetime": 3600.0,
        "grant": {"scopes": ["read", "train", "admin"], "roles": ["admin", "trainer"], **grant},
    }
    return Job(kind=JobKind.NOTEBOOK, model="-", model_spec="jupyterlab", owner="i|ada", args=args)


def test_each_start_gets_new_secrets_and_the_end_revokes_them(
    stores: tuple[JobStore, TokenStore], tmp_path: Path
) -> None:
    jobs, tokens = stores
    job = jobs.create(notebook(tmp_path))
    sessions = NotebookSessions(jobs, tokens, "http://127.0.0.1:5000", tmp_path)
    assert sessions.session(job.id) is None

    first = sessions.secrets(job.id)
    assert first["env"]["MODELPORT_URL"] == "http://127.0.0.1:5000"
    record = tokens.verify(first["env"]["MODELPORT_TOKEN"])
    assert (record.owner, record.name) == ("i|ada", f"notebook {job.id}")
    assert record.scopes == ["read", "train"]  # never admin from a notebook
    assert record.expires_at is not None
    lifetime = timedelta(seconds=3600) + TOKEN_SLACK
    assert abs(record.expires_at - (utcnow() + lifetime)) < timedelta(minutes=1)
    held = sessions.session(job.id)
    assert held is not None
    assert (held.jupyter_token, held.owner) == (first["jupyter_token"], "i|ada")

    again = sessions.secrets(job.id)  # the job re-run (a retry after a crash): new secrets
    assert again["jupyter_token"] != first["jupyter_token"]
    with pytest.raises(Unauthorized):
        tokens.verify(first["env"]["MODELPORT_TOKEN"])  # the first run's token is gone
    assert again["home"] == str(tmp_path / "notebooks" / area_key("i|ada"))
    assert again["socket"] == str(socket_dir(job.id) / "jupyter.sock")
    directory = socket_dir(job.id)
    directory.mkdir(parents=True)

    sessions.release(job.id)
    with pytest.raises(Unauthorized):
        tokens.verify(again["env"]["MODELPORT_TOKEN"])
    assert sessions.session(job.id) is None
    assert not directory.exists()
    sessions.release(job.id)  # twice (and any training's end): nothing happens


def test_no_token_without_sign_in_and_no_secrets_for_a_training(
    stores: tuple[JobStore, TokenStore], tmp_path: Path
) -> None:
    jobs, _ = stores
    job = jobs.create(notebook(tmp_path))
    said = NotebookSessions(jobs, None, "http://127.0.0.1:5000", tmp_path).secrets(job.id)
    assert set(said["env"]) == {"MODELPORT_URL"}
    training = jobs.create(Job(model="m", model_spec="x:Y", owner="i|ada"))
    with pytest.raises(InvalidInput) as refused:
        NotebookSessions(jobs, None, "http://x", tmp_path).secrets(training.id)
    assert refused.value.errors == {"op": ["only a notebook job has notebook secrets"]}
