"""Where the catalog test fixtures are, and which are v2 and which DEEP v1."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
V2_FILES = (
    "image_classifier.ai4-metadata.yml",
    "minimal.ai4-metadata.yml",
    "anomaly_detector.ai4-metadata.json",
)
#: mods_v1.json repeats a keyword, which the v1 schema refuses (tests/catalog/test_migrate_v1.py)
V1_FILES = ("plant_classifier_v1.json",)
