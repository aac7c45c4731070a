"""Exit codes of the CLI, and the one place that maps modelport errors to them.

======  ==========================================================
code    meaning
======  ==========================================================
0       success
1       the model raised (or returned an invalid result); a training failed; invalid metadata
        (``catalog validate``) or a failed index entry (``catalog import``); a quality check
        failed (``check``; with ``--strict``, also a warning)
2       usage error: unknown model, invalid arguments, bad options, invalid configuration, a
        port already in use (``serve``, ``up``), an error answered by the server (``jobs``:
        ``<status>: <message>``), not a module project
3       a model failed to import, adapt or warm
======  ==========================================================
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from modelport import errors

OK = 0
MODEL_FAILED = 1
USAGE = 2
LOAD_FAILED = 3


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def cli_errors(debug: bool = False) -> Iterator[None]:
    """Turn modelport errors into a message on stderr and the documented exit code."""
    try:
        yield
    except errors.InvalidInput as exc:
        typer.echo(json.dumps(exc.errors, indent=2), err=True)
        fail(exc.message, USAGE)
    except errors.ModelLoadError as exc:
        fail(exc.message, LOAD_FAILED)
    except errors.ModelError as exc:
        if debug and exc.detail:
            sys.stderr.write(exc.detail)
        fail(exc.message, MODEL_FAILED)
    except errors.ModelportError as exc:
        fail(exc.message, USAGE)
