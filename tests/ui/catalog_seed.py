"""Catalog modules for the dashboard's tests: the fixture models, plus fillers to page through."""

from __future__ import annotations

from typing import Any

from modelport.catalog import validate_metadata
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import seed_examples

FILLERS = 12  # with the 4 real modules: two pages of results


def metadata(title: str, summary: str, **fields: Any) -> Any:
    """Valid AI4OS v2 metadata with these fields."""
    data: dict[str, Any] = {
        "metadata_version": "2.3.0",
        "title": title,
        "summary": summary,
        "description": f"# {title}\n\n{summary}",
        "links": {"source_code": "https://example.org/code"},
        "libraries": ["Other"],
        "tasks": ["Other"],
        "categories": ["AI4 inference"],
        "tags": ["test"],
        "license": "MIT",
    }
    data.update(fields)
    return validate_metadata(data)


def seed_catalog(catalog: CatalogService) -> None:
    """Publish iris, the fixture models (classifier, trainer, echo) and filler modules."""
    seed_examples(catalog, pilots=False)  # the pilots would change the counts below
    publish = catalog.registry.publish
    publish(
        "classifier",
        "1.0.0",
        metadata(
            "Animal photo classifier",
            "Tell cats from dogs, foxes and owls in a photo.",
            description=(
                "Classifies **animal photos**.\n\n"
                "<script>alert('x')</script>\n\n"
                "[docs](https://example.org/docs) and [bad](javascript:alert(1))"
            ),
            libraries=["PyTorch"],
            tasks=["Computer Vision", "Classification"],
            tags=["animals", "photo"],
            **{"data-type": ["Image"]},
            resources={"inference": {"cpu": 1, "memory_MB": 512}},
            doi="10.5281/zenodo.1234567",
        ),
        load_spec="mp_fixtures.vision:Classifier",
    )
    publish(
        "trainer",
        "1.0.0",
        metadata(
            "Loss trainer",
            "A trainable test model reporting a falling loss.",
            libraries=["PyTorch"],
            tasks=["Regression"],
            categories=["AI4 trainable"],
            resources={"training": {"cpu": 1}},
        ),
        load_spec="mp_fixtures.typed:Trainer",
    )
    publish(
        "echo",
        "2.1.0",
        metadata("Echo", "Echo the arguments back.", tasks=["Natural Language Processing"]),
        load_spec="mp_fixtures.typed:Echo",
    )
    for n in range(FILLERS):
        publish(
            f"filler-{n:02d}",
            "0.1.0",
            metadata(
                f"Filler model {n:02d}",
                "A placeholder module for paging.",
                libraries=["TensorFlow"],
                tasks=["Time Series"],
            ),
        )
