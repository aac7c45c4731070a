"""Running model code off the event loop, with limits."""

from modelport.runtime.runner import ModelRunner, ModelRuntime

__all__ = ["ModelRunner", "ModelRuntime"]
