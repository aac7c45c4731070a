"""The Python SDK against a real server: models, predictions, training jobs, the Open Catalog."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport import errors
from modelport.client import Client, parse_sse
from modelport.errors import ModelportError
from tests.cli.test_cli import free_port
from tests.cli.test_training_cli import Server

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent
TYPED_MODULE = FIXTURES / "catalog" / "fixtures" / "sources" / "typed_module"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UPLOAD_LIMIT = 1_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("client") / "data"
    limits = ["--max-upload-size", str(UPLOAD_LIMIT), "--concurrency", "1", "--queue", "0"]
    models = ["trainer", "echo", "legacy", "slow"]
    running = Server(data_dir, *models, "--catalog", *limits, "--timeout", "2").start()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="module")
def trained(server: Server) -> dict[str, Any]:
    """One succeeded training, followed with wait(); the events it saw kept under "events"."""
    with Client(server.url) as mp:
        job = mp.train("trainer", epochs=3)
        assert job["status"] in ("queued", "running")
        seen: list[dict[str, Any]] = []
        done = mp.wait(job["id"], timeout=60, on_event=seen.append)
    return {**done, "events": seen}


class Recording(httpx.BaseTransport):
    """The real HTTP transport, remembering each request.

    The first ``drops`` event streams break off after ``keep`` events.
    """

    def __init__(self, drops: int = 0, keep: int = 2) -> None:
        self.inner = httpx.HTTPTransport()
        self.drops = drops
        self.keep = keep
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/events") or self.drops <= 0:
            return response
        self.drops -= 1
        body = response.read()
        cut = 0
        for _ in range(self.keep):
            cut = body.index(b"\n\n", cut) + 2
        return httpx.Response(
            response.status_code, headers=response.headers, stream=Dropped(body[:cut])
        )

    def close(self) -> None:
        self.inner.close()


class Dropped(httpx.SyncByteStream):
    """A response body that breaks off after ``head``, as a lost connection does."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        raise httpx.ReadError("connection reset by peer")


# -- models and predictions -----------------------------------------------------------------------


def test_models_and_a_model(client: Client) -> None:
    names = {m["name"] for m in client.models()}
    assert {"echo", "legacy", "trainer"} <= names
    echo = client.model("echo")
    assert echo["version"] == "2.1.0"
    assert echo["links"][0]["rel"] == "self"


def test_predict_sends_json_and_decodes_the_result(client: Client) -> None:
    result = client.predict("echo", text="hi", times=2, colour="green", tags=["a", "b"])
    assert result["text"] == "hihi"
    assert result["colour"] == "green"
    assert result["tags"] == ["a", "b"]
    assert result["size"] is None


def test_predict_with_files_as_bytes_tuple_and_path(client: Client, tmp_path: Path) -> None:
    as_bytes = client.predict("echo", files={"upload": b"abc"}, text="x", times=3, tags=["t"])
    assert (as_bytes["size"], as_bytes["filename"]) == (3, "upload")
    assert as_bytes["text"] == "xxx"  # form fields next to the file are typed by the model
    assert as_bytes["tags"] == ["t"]

    as_tuple = client.predict(
        "echo", files={"upload": ("notes.txt", b"hello", "text/plain")}, text=""
    )
    assert (as_tuple["filename"], as_tuple["media_type"], as_tuple["size"]) == (
        "notes.txt",
        "text/plain",
        5,
    )

    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG_SIGNATURE + b"rest")
    legacy = client.predict("legacy", files={"data": photo}, number=7)
    assert legacy["size"] == len(PNG_SIGNATURE) + 4
    assert legacy["original_filename"] == "photo.png"
    assert legacy["content_type"] == "image/png"
    assert legacy["number"] == 7


def test_accept_picks_the_media_type_and_non_json_comes_back_as_bytes(client: Client) -> None:
    png = client.predict("legacy", number=5, accept="image/png")
    assert isinstance(png, bytes)
    assert png.startswith(PNG_SIGNATURE)
    assert client.predict("legacy", number=5, accept="text/plain") == b"number=5"
    assert client.predict("legacy", number=5)["number"] == 5


def test_invalid_arguments_raise_invalid_input_naming_every_field(client: Client) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        client.predict("echo", text="x", times=9, colour="blue")
    assert {"times", "colour"} <= set(caught.value.errors)
    assert all(isinstance(m, str) for ms in caught.value.errors.values() for m in ms)

    with pytest.raises(errors.InvalidInput) as legacy:
        client.predict("legacy", files={"data": b"x"})
    assert "number" in legacy.value.errors


def test_a_model_exception_raises_model_error(client: Client) -> None:
    # the server says what failed and the error id its log names; the text stays in its log
    with pytest.raises(errors.ModelError, match=r"the model failed: ValueError \(error id \w+\)"):
        client.predict("echo", text="x", mode="fail")
    with pytest.raises(errors.ModelError, match="the model failed: RuntimeError"):
        client.predict("legacy", number=13)


def test_unknown_objects_raise_not_found(client: Client) -> None:
    with pytest.raises(errors.NotFound):
        client.model("nope")
    with pytest.raises(errors.NotFound):
        client.predict("nope", x=1)
    with pytest.raises(errors.NotFound):
        client.job("0" * 32)
    with pytest.raises(errors.NotFound):
        client.module("nope")
    with pytest.raises(errors.NotFound):
        client.train("nope")


def test_limits_raise_payload_too_large_overloaded_and_predict_timeout(client: Client) -> None:
    with pytest.raises(errors.PayloadTooLarge) as too_large:
        client.predict("echo", files={"upload": b"x" * (UPLOAD_LIMIT + 1)}, text="x")
    assert too_large.value.limit == UPLOAD_LIMIT

    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(client.predict, "slow", seconds=1)
        time.sleep(0.4)  # the one slot is taken, and the queue holds none
        with pytest.raises(errors.Overloaded) as overloaded:
            client.predict("slow", seconds=0)
        assert busy.result() == {"slept": 1.0}
    assert overloaded.value.retry_after >= 1
    assert "slow" in overloaded.value.message

    with pytest.raises(errors.PredictTimeout):
        client.predict("slow", seconds=2.5)
    time.sleep(0.6)  # the timed-out prediction still holds the slot until it returns


def test_the_token_is_sent_as_a_bearer_header(server: Server) -> None:
    transport = Recording()
    with Client(server.url, "s3cret", transport=transport) as mp:
        mp.models()
    assert transport.requests[0].headers["authorization"] == "Bearer s3cret"
    anonymous = Recording()
    with Client(server.url, transport=anonymous) as mp:
        mp.models()
    assert "authorization" not in anonymous.requests[0].headers


def test_a_closed_port_raises_a_clear_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, timeout=5) as mp, pytest.raises(ModelportError, match="cannot connect to"):
        mp.models()
    with Client(url, timeout=5) as mp, pytest.raises(ModelportError) as caught:
        list(mp.events("x", reconnects=0))
    assert url in str(caught.value)


# -- training jobs --------------------------------------------------------------------------------


def test_train_and_wait_follow_the_events_to_the_result(trained: dict[str, Any]) -> None:
    assert trained["status"] == "succeeded"
    assert trained["result"] == {"final_loss": 0.125, "epochs": 3}
    kinds = [e["event"] for e in trained["events"]]
    assert {"status", "progress", "metric", "log"} <= set(kinds)
    assert kinds[-1] == "end"
    assert trained["events"][-1]["data"]["status"] == "succeeded"
    ids = [e["id"] for e in trained["events"][:-1]]
    assert ids == sorted(set(ids))
    progress = [e["data"] for e in trained["events"] if e["event"] == "progress"]
    assert progress, "progress events carry the reported progress"
    logs = [e["data"] for e in trained["events"] if e["event"] == "log"]
    assert any("epoch 3/3" in json.dumps(line) for line in logs)


def test_job_jobs_logs_and_metrics(client: Client, trained: dict[str, Any]) -> None:
    assert client.job(trained["id"])["status"] == "succeeded"
    page = client.jobs(model="trainer", status="succeeded")
    assert trained["id"] in [j["id"] for j in page["jobs"]]
    assert client.jobs(model="echo")["total"] == 0
    assert client.jobs(status=["queued", "running"], limit=1)["limit"] == 1

    logs = client.logs(trained["id"])
    assert "epoch 3/3 loss=0.125" in logs["lines"]
    rest = client.logs(trained["id"], offset=1, limit=1)
    assert rest["lines"] == logs["lines"][1:2]
    assert rest["next_offset"] == 2
    losses = [m["value"] for m in client.metrics(trained["id"]) if m["name"] == "loss"]
    assert losses == [0.5, 0.25, 0.125]


def test_artifacts_and_download(client: Client, trained: dict[str, Any], tmp_path: Path) -> None:
    listed = client.artifacts(trained["id"])
    assert [a["name"] for a in listed] == ["weights.json"]
    into_dir = client.download_artifact(trained["id"], "weights.json", tmp_path)
    assert into_dir == tmp_path / "weights.json"
    assert json.loads(into_dir.read_text()) == {"loss": 0.125}
    as_file = client.download_artifact(trained["id"], "weights.json", tmp_path / "w.json")
    assert as_file.read_bytes() == into_dir.read_bytes()
    with pytest.raises(errors.NotFound):
        client.download_artifact(trained["id"], "missing.bin", tmp_path / "m.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json", "weights.json"]


def test_cancel_a_running_job_and_conflict_on_a_finished_one(
    client: Client, trained: dict[str, Any]
) -> None:
    with pytest.raises(errors.Conflict):
        client.cancel(trained["id"])
    long = client.train("trainer", epochs=200, sleep=0.1)
    client.cancel(long["id"])
    assert client.wait(long["id"], timeout=30, raise_on_failure=False)["status"] == "cancelled"
    with pytest.raises(errors.ModelError, match=rf"job {long['id']} \(trainer\) cancelled"):
        client.wait(long["id"], timeout=30)


def test_wait_raises_when_the_job_failed(client: Client) -> None:
    job = client.train("trainer", epochs=2, fail=True)
    seen: list[dict[str, Any]] = []
    with pytest.raises(errors.ModelError) as raised:
        client.wait(job["id"], timeout=60, on_event=seen.append)
    message = raised.value.message
    assert message.startswith(f"job {job['id']} (trainer) failed: ")
    assert "diverged at the last epoch" in message  # the job's own error
    assert seen[-1]["event"] == "end"  # the events were followed to the end first
    kept = client.wait(job["id"], timeout=60, raise_on_failure=False)  # the old behaviour
    assert kept["status"] == "failed"
    assert "diverged at the last epoch" in kept["error"]


def test_retry_runs_a_finished_job_again(client: Client, trained: dict[str, Any]) -> None:
    again = client.retry(trained["id"])
    assert again["id"] != trained["id"]
    done = client.wait(again["id"], timeout=60)
    assert done["status"] == "succeeded"
    assert done["result"] == trained["result"]


def test_events_resume_after_an_id(client: Client, trained: dict[str, Any]) -> None:
    every = list(client.events(trained["id"]))
    middle = every[len(every) // 2]["id"]
    tail = list(client.events(trained["id"], after=middle))
    assert [e["id"] for e in tail[:-1]] == [e["id"] for e in every if e["id"] > middle][:-1]
    assert tail[-1]["event"] == "end"


def test_a_dropped_event_stream_resumes_with_last_event_id(
    server: Server, trained: dict[str, Any]
) -> None:
    with Client(server.url) as clean:
        expected = list(clean.events(trained["id"]))
    transport = Recording(drops=2)
    with Client(server.url, transport=transport) as flaky:
        resumed = list(flaky.events(trained["id"]))
    assert resumed == expected  # nothing lost, nothing twice
    seen = [r.headers["last-event-id"] for r in transport.requests]
    assert seen == ["0", str(expected[1]["id"]), str(expected[3]["id"])]

    # a stream that keeps breaking without a new event is given up after `reconnects` tries
    hopeless_transport = Recording(drops=10, keep=0)
    with (
        Client(server.url, transport=hopeless_transport) as hopeless,
        pytest.raises(ModelportError, match=r"connection to .* failed"),
    ):
        list(hopeless.events(trained["id"], reconnects=2))
    assert len(hopeless_transport.requests) == 3


def test_wait_times_out(client: Client) -> None:
    job = client.train("trainer", epochs=100, sleep=0.1)
    with pytest.raises(TimeoutError):
        client.wait(job["id"], timeout=0.5)
    client.cancel(job["id"])


def test_parse_sse_skips_comments_and_joins_data_lines() -> None:
    lines = [": keep-alive", "", "id: 4", "event: log", 'data: {"a":', "data: 1}", "", ""]
    assert list(parse_sse(iter(lines))) == [{"id": 4, "event": "log", "data": {"a": 1}}]


# -- the Open Catalog -----------------------------------------------------------------------------


def test_search_finds_the_seeded_example(client: Client) -> None:
    page = client.search("iris")
    assert "iris" in [m["name"] for m in page["modules"]]
    tabular = client.search(data_type="Tabular", tasks=["Classification"])
    assert [m["name"] for m in tabular["modules"]] == ["iris"]
    assert tabular["facets"]["data-type"]["Tabular"] == 1
    assert client.search("no such words anywhere")["total"] == 0
    with pytest.raises(errors.InvalidInput) as caught:
        client.search(sort="sideways")
    assert "sort" in caught.value.errors


def test_module_versions_and_metadata(client: Client) -> None:
    module = client.module("iris")
    assert module["latest"]["version"] == module["latest_version"]
    assert [v["version"] for v in client.versions("iris")] == [module["latest_version"]]
    assert client.metadata("iris")["license"] == "Apache-2.0"
    assert client.metadata("iris", module["latest_version"])["title"] == module["title"]
    with pytest.raises(errors.NotFound):
        client.metadata("iris", "99.0")


def test_publish_alias_publish_job_and_pull(
    client: Client, server: Server, trained: dict[str, Any], tmp_path: Path
) -> None:
    source = shutil.copytree(TYPED_MODULE, tmp_path / "plants")
    published = client.publish(source)
    name, version = published["module"], published["version"]
    assert version == "1.2.0"
    with pytest.raises(errors.Conflict):
        client.publish(source)
    with pytest.raises(errors.InvalidInput):  # neither a directory nor a git repository
        client.publish(tmp_path / "missing")

    trained_version = client.publish_job(name, trained["id"], "1.3.0")
    assert trained_version["lineage"]["base_version"] == "1.2.0"
    assert [a["name"] for a in trained_version["artifacts"]] == ["weights.json"]
    assert client.set_alias(name, "stable", "1.2.0")["aliases"]["stable"] == "1.2.0"
    assert client.version(name, "stable")["version"] == "1.2.0"
    assert client.module(name)["latest_version"] == "1.3.0"

    assert client.pull(name, tmp_path / "stable", version="stable") == []
    pulled = client.pull(name, tmp_path / "latest")
    assert pulled == [(tmp_path / "latest" / "weights.json").resolve()]
    assert json.loads(pulled[0].read_text()) == {"loss": 0.125}


def test_pull_deletes_a_file_whose_checksum_does_not_match(
    client: Client, server: Server, tmp_path: Path
) -> None:
    source = shutil.copytree(TYPED_MODULE, tmp_path / "tampered")
    (source / "pyproject.toml").write_text(
        (source / "pyproject.toml").read_text().replace("Plant_Classifier", "tampered-plants")
    )
    name = client.publish(source)["module"]
    job = client.wait(client.train("trainer", epochs=3)["id"], timeout=60)  # a job publishes once
    record = client.publish_job(name, job["id"], "2.0.0")
    sha = record["artifacts"][0]["sha256"]
    blob = server.data_dir / "catalog" / "sha256" / sha[:2] / sha
    original = blob.read_bytes()
    blob.write_bytes(original.replace(b"0.125", b"0.126"))  # same size, other bytes
    try:
        with pytest.raises(errors.StoreError, match="checksum mismatch"):
            client.pull(name, tmp_path / "out")
    finally:
        blob.write_bytes(original)
    assert list((tmp_path / "out").iterdir()) == []
