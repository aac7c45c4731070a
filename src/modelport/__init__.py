"""modelport: publish, serve and (re)train machine-learning models behind one documented API.

The public API a model author needs::

    from modelport import Model, Field, File, Binary, batch
"""

from typing import TYPE_CHECKING, Any

from pydantic import Field

from modelport.contract.batching import batch
from modelport.contract.files import Binary, File
from modelport.contract.typed import Model

if TYPE_CHECKING:
    from modelport.client import Client
    from modelport.jobs.context import TrainContext

__version__ = "0.1.0"

__all__ = [
    "Binary",
    "Client",
    "Field",
    "File",
    "Model",
    "TrainContext",
    "__version__",
    "batch",
]


def __getattr__(name: str) -> Any:
    # TrainContext pulls in the job store (SQLAlchemy): import it only when asked for,
    # so that serving stays quick to start.
    if name == "TrainContext":
        from modelport.jobs.context import TrainContext

        return TrainContext
    if name == "Client":  # httpx is not needed to serve a model
        from modelport.client import Client

        return Client
    raise AttributeError(f"module 'modelport' has no attribute {name!r}")
