"""Baseline (b): the smallest FastAPI app doing the benchmark's work.

Two sync (``def``) endpoints on the same paths modelport and DEEPaaS use, so
the same wrk scripts hit all three servers:

* ``POST /v2/models/trivial/predict/?x=3``          -> ``{"y": 6}``
* ``POST /v2/models/trivial-upload/predict/?x=3``   multipart ``data`` file
                                                    -> ``{"size": <bytes>, "y": 6}``

FastAPI runs ``def`` endpoints in its thread pool, as modelport does for
blocking model code. The app is served exactly the way modelport serves its
app: ``uvicorn.run(app, host, port, log_level="warning", access_log=False)``.

Run: ``python bench/bare_fastapi.py --host 127.0.0.1 --port 8000``
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, UploadFile

app = FastAPI(title="bare-fastapi-bench")


@app.post("/v2/models/trivial/predict/")
def predict(x: int) -> dict[str, int]:
    return {"y": 2 * x}


@app.post("/v2/models/trivial-upload/predict/")
def predict_upload(x: int, data: UploadFile) -> dict[str, int]:
    # Read the whole upload, as the legacy model reads its file.
    data.file.seek(0)
    size = len(data.file.read())
    return {"size": size, "y": 2 * x}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
