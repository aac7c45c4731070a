from __future__ import annotations

import pytest
import yaml

from tests.catalog.samples import FIXTURES


@pytest.fixture
def minimal() -> dict[str, object]:
    """The minimal v2 metadata as a fresh mapping, for tests to break."""
    data: dict[str, object] = yaml.safe_load((FIXTURES / "minimal.ai4-metadata.yml").read_text())
    return data
