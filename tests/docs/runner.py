"""Run a Markdown document's command blocks as a reader would: in order, verbatim, in one shell.

Every fenced block tagged ``bash`` or ``python`` (found by markdown-it-py, the parser the
dashboard uses) is a step; other blocks (``text`` outputs, ``toml``, ``yaml``, untagged trees)
are not run and not compared. A step is left out only where the document says so, visibly, with
an HTML comment right before the block::

    <!-- not run: why -->

The steps of one document run in one ``bash -e`` script in a working directory of their own, so
what a block does (``cd``, a shell variable, a file it writes) is there for the next, as in a
reader's terminal; a ``python`` block is saved outside that directory and fed, as if pasted,
to the ``python`` first on ``PATH``, in the shell's current directory. The script records which
step it is in, so a failing block is named by its document and line. ``curl`` is wrapped to
fail on an HTTP error status (``--fail-with-body``): a 404 must fail the step, not print a JSON
error and go on.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

RUN = ("bash", "python")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$", re.DOTALL)
# a block that would start a server (and never end) must be left out by a visible marker
SERVER = re.compile(r"\bmodelport\s+(up|serve)\b")
CURL = 'curl() { command curl --fail-with-body --no-progress-meter "$@"; }'
FINISHED = "finished"


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text, and why it is not run (if so)."""

    document: Path
    line: int  # 1-based, the opening fence
    language: str
    code: str
    not_run: str | None = None

    @property
    def where(self) -> str:
        return f"{self.document.name}:{self.line}"


@dataclass(frozen=True)
class Failure:
    """The block that failed, its exit status (None: it ran out of time) and its output."""

    block: Block
    returncode: int | None
    output: str

    def __str__(self) -> str:
        status = "ran out of time" if self.returncode is None else f"exit {self.returncode}"
        return (
            f"{self.block.where}: the {self.block.language} block failed ({status}):\n"
            f"{self.block.code}\n--- its output (last 4000 characters) ---\n{self.output[-4000:]}"
        )


def blocks(document: Path) -> list[Block]:
    """Every fenced block of ``document`` in order, with the ``not run`` reason before it."""
    tokens = MarkdownIt("commonmark").parse(document.read_text(encoding="utf-8"))
    found: list[Block] = []
    for index, token in enumerate(tokens):
        if token.type != "fence" or token.map is None:
            continue
        before = tokens[index - 1] if index else None
        marker = NOT_RUN.match(before.content) if before and before.type == "html_block" else None
        language = token.info.split()[0] if token.info.strip() else ""
        found.append(
            Block(
                document=document,
                line=token.map[0] + 1,
                language=language,
                code=token.content,
                not_run=marker["reason"] if marker else None,
            )
        )
    return found


def steps(document: Path) -> list[Block]:
    """The blocks of ``document`` that run; ValueError for a server block without a marker."""
    chosen = [b for b in blocks(document) if b.language in RUN and b.not_run is None]
    for block in chosen:
        if block.language == "bash" and SERVER.search(block.code):
            raise ValueError(
                f"{block.where}: this block starts a server; the docs test runs one itself: "
                "put '<!-- not run: ... -->' right before it"
            )
    return chosen


def run(
    document: Path,
    cwd: Path,
    scratch: Path,
    env: Mapping[str, str],
    timeout: float,
) -> Failure | None:
    """Run the steps of ``document`` in ``cwd``, up to the first that fails; that failure.

    ``scratch`` (outside ``cwd``) holds the script, the python blocks and each step's output.
    """
    chosen = steps(document)
    state = scratch / "current"
    lines = ["set -e", CURL]
    for number, block in enumerate(chosen):
        code = block.code
        log = shlex.quote(str(scratch / f"{number}.log"))
        if block.language == "python":
            script = scratch / f"{number}.py"
            script.write_text(code, encoding="utf-8")
            # from standard input, as pasted into ``python``: the working directory is importable
            code = f"python - < {shlex.quote(str(script))}\n"
        lines += [
            f"echo {number} > {shlex.quote(str(state))}",
            "{",
            code.rstrip("\n"),
            f"}} > {log} 2>&1",
        ]
    lines.append(f"echo {FINISHED} > {shlex.quote(str(state))}")
    program = scratch / "steps.sh"
    program.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with subprocess.Popen(
        ["bash", "-e", str(program)],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends every command it began
    ) as proc:
        try:
            trailer, _ = proc.communicate(timeout=timeout)
            returncode: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            trailer, _ = proc.communicate()
            returncode = None
    reached = state.read_text().strip() if state.exists() else "0"
    if (reached == FINISHED and returncode == 0) or not chosen:
        return None
    number = len(chosen) - 1 if reached == FINISHED else int(reached)
    failed_log = scratch / f"{number}.log"
    output = failed_log.read_text(errors="replace") if failed_log.exists() else ""
    return Failure(chosen[number], returncode, output + trailer)
