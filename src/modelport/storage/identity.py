"""Which artifact store a database's catalog uses: a random id, in the store and in the database.

Replicas of the platform share one database, so they must share the catalog's artifact store
too: a version published on one replica names artifacts that every other replica must be able
to fetch. A replica configured with a store of its own (its local ``data_dir/catalog``, another
bucket) would start, list every module, and fail each cold start it serves. So each replica
checks at start (:func:`check_store_identity`):

- the first one writes a random id into the store, ``<root>/.modelport-store-id``, and records
  it in ``platform_state`` (row ``catalog_store``) in one transaction: a replica starting at the
  same moment waits for that transaction (the row's key) and then reads the same id;
- every later one reads the object at its own configured root, and refuses to start (StoreError
  naming the setting) when the object is missing or holds another id.

A store that already holds an id when the database has none (a database recreated over an
existing store, or a second database sharing it: content-addressed objects never clash) keeps
its id. Errors name the store by its URL without credentials, never the credentials.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import Engine, insert, select

from modelport.db.engine import transaction
from modelport.db.tables import platform_state
from modelport.errors import Conflict, StoreError
from modelport.storage.backends import StorageBackend, open_url

#: The object at the store's root that names it.
STORE_ID_OBJECT: Final = ".modelport-store-id"
#: The row of ``platform_state`` whose ``value`` is the id of the catalog's store.
CATALOG_STORE: Final = "catalog_store"


def check_store_identity(
    engine: Engine,
    root_url: str,
    storage_options: Mapping[str, Any],
    field: str = "catalog_artifacts_url",
) -> str:
    """Make sure the store at ``root_url`` is the one ``engine``'s database knows (claiming it
    when the database knows none); its id. StoreError, naming ``field``, when it is not."""
    backend = open_url(root_url, field, **storage_options)
    path = f"{backend.path.rstrip('/')}/{STORE_ID_OBJECT}"
    known = _recorded(engine)
    if known is None:
        known = _claim(engine, backend, path)
    found = _read(backend, path)
    if found == known:
        return known
    said = "has no" if found is None else "has another"
    raise StoreError(
        f"{field} ({backend.name}) is not the artifact store this database's catalog uses: it "
        f"{said} {STORE_ID_OBJECT}. Every replica sharing a database must share {field} (one "
        "S3 bucket or WebDAV share, or one directory they all mount): set it as the other "
        "replicas have it"
    )


def _recorded(engine: Engine) -> str | None:
    with transaction(engine) as conn:
        value = conn.execute(
            select(platform_state.c.value).where(platform_state.c.name == CATALOG_STORE)
        ).scalar()
    return str(value) if value else None


def _claim(engine: Engine, backend: StorageBackend, path: str) -> str:
    """Record the store's id (its own, or a new one written into it); the id recorded, ours or
    that of a replica that claimed it first."""
    found = _read(backend, path)
    chosen = found or secrets.token_hex(16)
    try:
        with transaction(engine) as conn:
            # the row first: a replica claiming at once waits on its key until we commit
            conn.execute(insert(platform_state).values(name=CATALOG_STORE, value=chosen))
            if found is None:
                _write(backend, path, chosen)  # fails: nothing is recorded
    except Conflict:
        pass  # another replica claimed it first: its id is the one
    recorded = _recorded(engine)
    if recorded is None:  # pragma: no cover - the row was deleted in between
        raise StoreError("the catalog's artifact store could not be recorded: start again")
    return recorded


def _read(backend: StorageBackend, path: str) -> str | None:
    """The id in the object at ``path``; None without one."""
    try:
        with backend.errors():
            data = backend.fs.cat_file(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {STORE_ID_OBJECT} in {backend.name}: {exc}") from exc
    text = bytes(data).decode("utf-8", "replace").strip()
    return text or None


def _write(backend: StorageBackend, path: str, store_id: str) -> None:
    try:
        with backend.errors():
            if backend.directories:
                backend.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with backend.fs.open(path, "wb") as out:
                out.write(f"{store_id}\n".encode())
    except OSError as exc:
        raise StoreError(f"cannot write {STORE_ID_OBJECT} in {backend.name}: {exc}") from exc
