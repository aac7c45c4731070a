"""modelport: publish, serve and (re)train machine-learning models behind one documented API.

The public API a model author needs::

    from modelport import Model, Field, File, Binary
"""

from pydantic import Field

from modelport.contract.files import Binary, File
from modelport.contract.typed import Model

__version__ = "0.1.0"

__all__ = ["Binary", "Field", "File", "Model", "__version__"]
