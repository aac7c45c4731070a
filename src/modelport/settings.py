"""One typed configuration object, read from ``MODELPORT_*`` environment variables and flags."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


def default_data_dir() -> Path:
    """Per-user data directory (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "modelport"


class Settings(BaseSettings):
    """Everything configurable about a modelport process; passed explicitly, never global."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=0, le=65535)
    base_path: str = ""
    data_dir: Path = Field(default_factory=default_data_dir)
    max_upload_size: int = Field(100 * MiB, ge=0, description="largest request body in bytes")
    predict_concurrency: int = Field(4, ge=1, description="predictions running at once, per model")
    predict_queue: int = Field(64, ge=0, description="predictions waiting for a slot, per model")
    predict_timeout: float | None = Field(
        60.0, gt=0, description="seconds before a prediction answers 504; None = no limit"
    )
    warm: bool = True
    docs: bool = True
    debug: bool = False

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        value = value.strip()
        if not value or value == "/":
            return ""
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value.rstrip("/")
