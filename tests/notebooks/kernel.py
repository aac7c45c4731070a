"""Run a cell in a notebook's kernel through the platform, as JupyterLab does: a kernel made
over HTTP, then an ``execute_request`` on its channels WebSocket (Jupyter's messaging 5.3).

(bench/notebook_proxy.py uses these too, on kernel channels of its own.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from websockets.sync.client import connect


def start_kernel(base: str, headers: dict[str, str]) -> str:
    """A new Python kernel in the notebook at ``base`` (``http://host/notebooks/<id>/``)."""
    answer = httpx.post(f"{base}api/kernels", json={"name": "python3"}, headers=headers)
    answer.raise_for_status()
    return str(answer.json()["id"])


def execute_request(code: str, session: str) -> tuple[str, str]:
    """An ``execute_request`` of ``code`` as a frame to send, and its message id."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "session": session, "username": "", "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    request = {
        "header": {**header, "msg_type": "execute_request"},
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "buffers": [],
        "content": {**content, "allow_stdin": False, "stop_on_error": True},
    }
    return json.dumps(request), msg_id


def await_reply(receive: Callable[[], str | bytes], msg_id: str) -> dict[str, Any]:
    """Read frames until request ``msg_id`` is done (the kernel idle again and replied); what
    it printed (``stdout``), its value (``result``), its ``status`` and error name."""
    said: dict[str, Any] = {"stdout": "", "result": None, "status": None, "error": None}
    idle = replied = False
    while not (idle and replied):
        message = json.loads(receive())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream" and content.get("name") == "stdout":
            said["stdout"] += content["text"]
        elif kind == "execute_result":
            said["result"] = content["data"].get("text/plain")
        elif kind == "error":
            said["error"] = content["ename"]
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        elif kind == "execute_reply":
            said["status"], replied = content["status"], True
    return said


def run_cell(
    base: str, kernel: str, code: str, headers: dict[str, str], timeout: float = 60
) -> dict[str, Any]:
    """Execute ``code`` on a new channel of ``kernel`` (:func:`await_reply` says what came)."""
    session = uuid.uuid4().hex
    url = base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels?session_id={session}"
    frame, msg_id = execute_request(code, session)
    with connect(url, additional_headers=headers, open_timeout=timeout) as channel:
        channel.send(frame)
        return await_reply(lambda: channel.recv(timeout=timeout), msg_id)
