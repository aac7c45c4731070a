"""Run a cell in a notebook's kernel through the platform, as JupyterLab does: a kernel made
over HTTP, then an ``execute_request`` on its channels WebSocket (Jupyter's messaging 5.3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from websockets.sync.client import connect


def start_kernel(base: str, headers: dict[str, str]) -> str:
    """A new Python kernel in the notebook at ``base`` (``http://host/notebooks/<id>/``)."""
    answer = httpx.post(f"{base}api/kernels", json={"name": "python3"}, headers=headers)
    answer.raise_for_status()
    return str(answer.json()["id"])


def run_cell(
    base: str, kernel: str, code: str, headers: dict[str, str], timeout: float = 60
) -> dict[str, Any]:
    """Execute ``code``; what it printed (``stdout``), its value (``result``), its ``status``
    (``ok``/``error``) and error name, once the kernel is idle again and has replied."""
    session = uuid.uuid4().hex
    url = base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels?session_id={session}"
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "session": session,
            "username": "",
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "buffers": [],
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    }
    said: dict[str, Any] = {"stdout": "", "result": None, "status": None, "error": None}
    idle = replied = False
    with connect(url, additional_headers=headers, open_timeout=timeout) as channel:
        channel.send(json.dumps(request))
        while not (idle and replied):
            message = json.loads(channel.recv(timeout=timeout))
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
