"""The model plug-in contract: typed models, legacy DEEPaaS modules, and discovery."""

from modelport.contract.base import Prediction, RawArgs, ServedModel, Signature
from modelport.contract.files import Binary, File, UploadedFile
from modelport.contract.typed import Model

__all__ = [
    "Binary",
    "File",
    "Model",
    "Prediction",
    "RawArgs",
    "ServedModel",
    "Signature",
    "UploadedFile",
]
