"""What the pages show, computed from the catalog's and the job service's records (no HTTP here)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import yaml

from modelport.catalog.domain import SearchPage, VersionRecord
from modelport.clock import utcnow
from modelport.jobs.domain import Job
from modelport.pipelines.document import PipelineDocument

PAGE_SIZE = 12
#: Facets shown as filters, in this order, with their labels.
FACET_LABELS: dict[str, str] = {
    "tasks": "Task",
    "libraries": "Library",
    "data-type": "Data type",
    "categories": "Category",
    "license": "License",
    "tags": "Tag",
}
MAX_FACET_VALUES = 12
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass
class FacetOption:
    """One value of a facet: its count over every match, and whether it is chosen."""

    value: str
    count: int
    chosen: bool


@dataclass
class FacetSection:
    """A facet's filter checkboxes."""

    key: str
    label: str
    options: list[FacetOption] = field(default_factory=list)


@dataclass
class SearchQuery:
    """The catalog page's query: words, chosen facet values and page number."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]]) -> SearchQuery:
        """Read the query string (``q``, one key per facet, ``page``); ignore what is unknown."""
        q = (params.get("q") or [""])[0].strip()
        filters = {key: [v for v in params.get(key, []) if v] for key in FACET_LABELS}
        raw_page = (params.get("page") or ["1"])[0]
        page = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
        return cls(q=q, filters={k: v for k, v in filters.items() if v}, page=page)

    @property
    def offset(self) -> int:
        """The first hit's index."""
        return (self.page - 1) * PAGE_SIZE

    def query_string(self, page: int | None = None) -> str:
        """This query as a URL query string (at ``page``)."""
        pairs: list[tuple[str, str | int]] = [("q", self.q)] if self.q else []
        pairs += [(key, value) for key, values in self.filters.items() for value in values]
        if (page or self.page) > 1:
            pairs.append(("page", page or self.page))
        return urlencode(pairs)


def facet_sections(page: SearchPage, query: SearchQuery) -> list[FacetSection]:
    """The filter sections: values by count (chosen ones always shown), empty facets left out."""
    sections = []
    for key, label in FACET_LABELS.items():
        counts = page.facets.get(key, {})
        chosen = query.filters.get(key, [])
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))
        shown = [v for v, _ in ranked[:MAX_FACET_VALUES]]
        shown += [v for v in chosen if v not in shown]
        options = [FacetOption(v, counts.get(v, 0), v in chosen) for v in shown]
        if options:
            sections.append(FacetSection(key, label, options))
    return sections


@dataclass
class Pager:
    """Pagination links of a result list."""

    page: int
    pages: int
    first: int
    last: int
    total: int


def pager(page: SearchPage, query: SearchQuery) -> Pager:
    """Where this page is among all results."""
    pages = max(1, -(-page.total // PAGE_SIZE))
    first = page.offset + 1 if page.modules else 0
    return Pager(query.page, pages, first, page.offset + len(page.modules), page.total)


def next_version(version: str | None) -> str:
    """A suggested next version: the last number bumped (``1.2.0`` → ``1.2.1``)."""
    if not version:
        return "0.1.0"
    public = version.split("+", 1)[0]
    match = _LAST_NUMBER.search(public)
    if match is None:
        return f"{public}.1"
    return public[: match.start()] + str(int(match.group(1)) + 1) + public[match.end() :]


def citation(record: VersionRecord, url: str) -> str:
    """A BibTeX entry citing this version."""
    meta = record.metadata
    key = re.sub(r"[^A-Za-z0-9]+", "_", f"{record.module}_{record.version}")
    year = str((meta.get("dates") or {}).get("created") or record.published_at.date())[:4]
    fields = {
        "title": meta.get("title") or record.module,
        "version": record.version,
        "year": year,
        "url": (meta.get("links") or {}).get("source_code") or url,
        "doi": meta.get("doi"),
        "howpublished": url,
    }
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items() if v)
    return f"@software{{{key},\n{body}\n}}"


def curl_snippet(server: str, name: str) -> str:
    """A generic curl call of the model's predict route (the page fills in real arguments)."""
    return (
        f"curl -X POST '{server}/v2/models/{name}/predict/' \\\n"
        "  -H 'Accept: application/json' \\\n  -F 'argument=value'"
    )


def python_snippet(server: str, name: str) -> str:
    """A generic modelport.Client call (the page fills in real arguments)."""
    return (
        "from modelport import Client\n\n"
        f'with Client("{server}") as client:\n'
        f'    result = client.predict("{name}", argument="value")\n'
        "    print(result)"
    )


def resource_rows(metadata: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(use, resource, amount)`` rows from the metadata's ``resources``."""
    labels = {
        "cpu": "CPU cores",
        "gpu": "GPUs",
        "memory_MB": "Memory (MB)",
        "gpu_memory_MB": "GPU memory (MB)",
        "gpu_compute_capability": "GPU compute capability",
        "storage_MB": "Storage (MB)",
    }
    rows = []
    for use, spec in (metadata.get("resources") or {}).items():
        for key, amount in (spec or {}).items():
            if amount is not None:
                rows.append((use, labels.get(key, key), str(amount)))
    return rows


def pipeline_view(pipeline: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A pipeline version's steps for its page (None for a model): each step's calls, how it
    runs, and the whole document as YAML."""
    if pipeline is None:
        return None
    document = PipelineDocument.model_validate(pipeline["document"])
    steps = []
    for step in document.steps:
        calls = [
            {"module": call.module, "ref": call.ref, "case": where.removeprefix("cases.")}
            for where, call in step.calls()
        ]
        how = "once"
        if step.for_each is not None:
            how = f"once per item of {step.for_each}, {step.max_parallel} at a time"
        elif step.switch is not None:
            how = f"the case {step.switch} names"
        steps.append({"id": step.id, "calls": calls, "how": how})
    shown = document.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    text = yaml.safe_dump(shown, sort_keys=False, allow_unicode=True)
    return {"steps": steps, "document": text}


def uptime(job: Job) -> str:
    """How long a job has run (ran, once finished): ``1 h 05 min``, ``4 min 12 s``; ``—``."""
    if job.started_at is None:
        return "—"
    seconds = int(((job.finished_at or utcnow()) - job.started_at).total_seconds())
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
