"""Migrate DEEP v1 ``metadata.json`` (schema4apps ``deep-apps.json``) to metadata v2.

A mapping is v1 when it has no ``metadata_version`` and has a v1-only key (``sources``,
``keywords``, ``date_creation``, ``tosca``, ``cite_url``, ``dataset_url``) or a list description.

What maps where (v1 → v2):

- ``title``, ``summary`` → ``title``, ``summary``, unchanged.
- ``description`` (a list of lines) → ``description``: the lines joined with newlines; a line ending
  in the two characters ``\\n`` (the DEEP idiom for a paragraph end) gets a blank line after it.
  A plain string is kept.
- ``date_creation`` → ``dates.created`` *and* ``dates.updated`` (v1 has no update date and v2
  requires both); no ``dates`` when v1 has none.
- ``keywords`` → ``tags``, verbatim, duplicates dropped; also read to infer facets (below).
- ``license`` (free text in v1) → ``license``: its SPDX identifier where one is known
  (``Apache 2.0`` → ``Apache-2.0``, by the alias table in :mod:`~modelport.catalog.vocabulary`);
  anything else (``No license file``) kept as written, with a warning; absent → no license.
- ``sources.code`` → ``links.source_code`` (``sources.dockerfile_repo`` when ``code`` is missing).
- ``sources.docker_registry_repo`` → ``links.docker_image``, the image reference as written
  (``deephdc/x``; surrounding whitespace removed, with a warning).
- ``sources.pre_trained_weights`` → ``links.weights``, and adds the category ``AI4 pre trained``.
- ``sources.zenodo_doi`` → ``links.zenodo_doi``; ``doi`` → ``doi``.
- ``cite_url`` → ``links.citation``; ``dataset_url`` → ``links.dataset``.
- (nothing) → ``metadata_version`` = :data:`~modelport.catalog.vocabulary.SCHEMA_VERSION`.

Facets inferred from keywords (case-insensitive, a ``library/`` prefix ignored; the full table is
``_KEYWORD_FACETS``): ``tensorflow``, ``keras``, ``pytorch``, ``scikit-learn`` ... → ``libraries``;
``trainable`` → ``AI4 trainable``, ``inference`` → ``AI4 inference``, ``pre-trained`` →
``AI4 pre trained``; ``image classification``, ``object detection``, ``segmentation``, ``nlp``,
``time series``, ``anomaly detection``, ``audio`` ... → ``tasks`` and ``data-type``. When nothing
matches, ``libraries``, ``tasks`` and ``categories`` are empty lists and ``data-type`` is absent:
v1 has no such fields, so the migrated entry is valid but should be completed by hand.

Lost: ``sources.dockerfile_repo`` (unless used as the source code), ``tosca`` (deployment templates
of the retired INDIGO orchestrator), ``continuous_integration`` and any other key not listed above.

The input is a mapping AI4OS's v1 schema accepts (:mod:`modelport.catalog.ai4os` judged it first).
Warnings about the migrated values are reported under the v1 key they came from
(``sources.code``, ``keywords.2``, ``date_creation``), so the author can fix the file they have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from modelport.catalog.ai4os import is_v1
from modelport.catalog.normalize import Warnings, normalize_license_text, normalize_v2
from modelport.catalog.vocabulary import SCHEMA_VERSION

_FACETS = tuple[tuple[str, str], ...]
_KEYWORD_FACETS: Final[dict[str, _FACETS]] = {
    "tensorflow": (("libraries", "TensorFlow"),),
    "keras": (("libraries", "Keras"),),
    "pytorch": (("libraries", "PyTorch"),),
    "torch": (("libraries", "PyTorch"),),
    "scikit-learn": (("libraries", "Scikit-learn"),),
    "sklearn": (("libraries", "Scikit-learn"),),
    "xgboost": (("libraries", "XGBoost"),),
    "lightgbm": (("libraries", "LightGBM"),),
    "catboost": (("libraries", "CatBoost"),),
    "trainable": (("categories", "AI4 trainable"),),
    "inference": (("categories", "AI4 inference"),),
    "pre-trained": (("categories", "AI4 pre trained"),),
    "pretrained": (("categories", "AI4 pre trained"),),
    "computer vision": (("tasks", "Computer Vision"), ("data-type", "Image")),
    "image classification": (
        ("tasks", "Computer Vision"),
        ("tasks", "Classification"),
        ("data-type", "Image"),
    ),
    "object detection": (("tasks", "Computer Vision"), ("data-type", "Image")),
    "segmentation": (("tasks", "Computer Vision"), ("data-type", "Image")),
    "image": (("data-type", "Image"),),
    "images": (("data-type", "Image"),),
    "classification": (("tasks", "Classification"),),
    "regression": (("tasks", "Regression"),),
    "clustering": (("tasks", "Clustering"),),
    "anomaly detection": (("tasks", "Anomaly Detection"),),
    "time series": (("tasks", "Time Series"), ("data-type", "Time Series")),
    "time-series": (("tasks", "Time Series"), ("data-type", "Time Series")),
    "nlp": (("tasks", "Natural Language Processing"), ("data-type", "Text")),
    "natural language processing": (
        ("tasks", "Natural Language Processing"),
        ("data-type", "Text"),
    ),
    "text": (("data-type", "Text"),),
    "audio": (("data-type", "Audio"),),
    "audio classification": (("tasks", "Classification"), ("data-type", "Audio")),
    "video": (("data-type", "Video"),),
    "tabular": (("data-type", "Tabular"),),
    "transfer learning": (("tasks", "Transfer Learning"),),
    "generative models": (("tasks", "Generative Models"),),
}

# v2 path prefix -> the v1 key it came from, to report errors where the author can fix them.
_ORIGIN: Final = {
    "links.source_code": "sources.code",
    "links.docker_image": "sources.docker_registry_repo",
    "links.weights": "sources.pre_trained_weights",
    "links.zenodo_doi": "sources.zenodo_doi",
    "links.citation": "cite_url",
    "links.dataset": "dataset_url",
    "dates.created": "date_creation",
    "dates.updated": "date_creation",
    "dates": "date_creation",
    "tags": "keywords",
}


def is_v1_metadata(data: Mapping[str, Any]) -> bool:
    """Whether a metadata mapping has the DEEP v1 shape (and no ``metadata_version``)."""
    return is_v1(data)


def migrate_v1(data: Mapping[str, Any]) -> tuple[dict[str, Any], Warnings]:
    """Migrate a (schema-valid) DEEP v1 mapping to a v2 mapping, with warnings by v1 key."""
    sources = data.get("sources")
    v2 = _convert(data, sources if isinstance(sources, Mapping) else {})
    license_warnings: Warnings = {}
    license_text = normalize_license_text(
        data.get("license"), "license", license_warnings, free_text=True
    )
    v2.pop("license", None)
    normalized, warnings = normalize_v2(v2)
    if license_text is not None:
        normalized["license"] = license_text
    by_origin: Warnings = dict(license_warnings)
    for path, messages in warnings.items():
        bucket = by_origin.setdefault(_v1_path(path), [])
        bucket.extend(m for m in messages if m not in bucket)
    return normalized, by_origin


def _convert(data: Mapping[str, Any], sources: Mapping[str, Any]) -> dict[str, Any]:
    keywords = data.get("keywords", [])
    v2: dict[str, Any] = {"metadata_version": SCHEMA_VERSION}
    for key in ("title", "summary"):
        if key in data:
            v2[key] = data[key]
    if "description" in data:
        v2["description"] = _join_description(data["description"])
    if data.get("doi"):
        v2["doi"] = data["doi"]
    if data.get("date_creation"):
        v2["dates"] = {"created": data["date_creation"], "updated": data["date_creation"]}
    links = {
        "source_code": sources.get("code") or sources.get("dockerfile_repo"),
        "docker_image": sources.get("docker_registry_repo"),
        "weights": sources.get("pre_trained_weights"),
        "zenodo_doi": sources.get("zenodo_doi"),
        "citation": data.get("cite_url"),
        "dataset": data.get("dataset_url"),
    }
    v2["links"] = {key: value for key, value in links.items() if value is not None}
    facets: dict[str, list[str]] = {"libraries": [], "tasks": [], "categories": [], "data-type": []}
    v2["tags"] = list(dict.fromkeys(keywords))
    for keyword in keywords:
        key = keyword.strip().lower().removeprefix("library/")
        for facet, value in _KEYWORD_FACETS.get(key, ()):
            facets[facet].append(value)
    if sources.get("pre_trained_weights"):
        facets["categories"].append("AI4 pre trained")
    for facet, values in facets.items():
        if values or facet != "data-type":
            v2[facet] = list(dict.fromkeys(values))
    return v2


def _join_description(description: Any) -> Any:
    if not isinstance(description, list) or not all(isinstance(s, str) for s in description):
        return description
    lines = [line[:-2] + "\n" if line.endswith("\\n") else line for line in description]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _v1_path(path: str) -> str:
    for prefix, origin in _ORIGIN.items():
        if path == prefix or path.startswith(prefix + "."):
            return origin + path[len(prefix) :] if prefix == "tags" else origin
    return path
