"""The schema (SQLAlchemy Core). Changes go through a new Alembic migration in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes, stored and returned in UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: modelport stores aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False, server_default="training"),  # jobs.domain.JobKind
    Column("model", String(200), nullable=False),
    Column("model_spec", String(500), nullable=False),
    Column("version", String(100)),
    Column("model_dir", String(1000)),
    Column("args", JSON, nullable=False),
    Column("shown_args", JSON),
    Column("owner", String(500)),  # identity: <issuer>|<subject>
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("resources", JSON, nullable=False),
    Column("max_attempts", Integer, nullable=False, default=1),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("progress", Float, nullable=False, default=0.0),
    Column("progress_message", Text),
    Column("result", JSON),
    Column("error", Text),
    Column("executor", String(32)),
    Column("executor_ref", String(200)),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("artifacts_url", Text),
    Column("retry_of", String(32)),
    Column("dismissed_at", UTCDateTime()),
    Column("lease_owner", String(200)),  # the replica running it (jobs.store: leases)
    Column("lease_expires_at", UTCDateTime()),
    Index("ix_jobs_status_priority", "status", "priority", "created_at"),
    Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    Index("ix_jobs_model", "model"),
    Index("ix_jobs_owner", "owner"),
)


def module_key() -> Column[str]:
    """The ``module`` key column of a catalog table (deleted with its module)."""
    return Column(
        "module",
        String(200),
        ForeignKey("catalog_modules.name", ondelete="CASCADE"),
        primary_key=True,
    )


catalog_modules = Table(
    "catalog_modules",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("owner", String(500)),  # identity: <issuer>|<subject>
    Column("deprecated", Boolean, nullable=False, default=False),
    Column("deprecation_message", Text),
    Column("latest_version", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # public | group | private (catalog.domain.Visibility); filtered by search for non-admins
    Column("visibility", String(16), nullable=False, server_default="public"),
    Index("ix_catalog_modules_owner", "owner"),
    # search's sort=updated (0008; it was search's catalog generation until platform_state)
    Index("ix_catalog_modules_updated_at", "updated_at"),
)

# the groups whose members see a 'group' module (search filters on it with an indexed EXISTS)
catalog_module_groups = Table(
    "catalog_module_groups",
    metadata,
    module_key(),
    Column("group_name", String(200), primary_key=True),
    Index("ix_catalog_module_groups_group", "group_name"),
)

catalog_versions = Table(
    "catalog_versions",
    metadata,
    module_key(),
    Column("version", String(100), primary_key=True),
    Column("metadata", JSON, nullable=False),
    Column("load_spec", String(500)),
    Column("package", String(200)),
    Column("source_url", Text),
    Column("commit", String(64)),
    Column("published_by", String(200)),
    Column("published_at", UTCDateTime(), nullable=False),
    Column("job_id", String(32)),
    Column("base_version", String(100)),
    Column("data_url", Text),
    # a yanked version: hidden from latest and listings, still served by its exact number
    Column("yanked_at", UTCDateTime()),
    Column("yanked_by", String(500)),  # identity: <issuer>|<subject>
    Column("yanked_reason", Text),
    # a pipeline version's checked document (modelport.pipelines); NULL for a model version
    Column("pipeline", JSON(none_as_null=True)),
)

# the version a training job was published as: one per job (its primary key), written with it
catalog_job_versions = Table(
    "catalog_job_versions",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column(
        "module",
        String(200),
        ForeignKey("catalog_modules.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", String(100), nullable=False),
)

catalog_aliases = Table(
    "catalog_aliases",
    metadata,
    module_key(),
    Column("alias", String(100), primary_key=True),
    Column("version", String(100), nullable=False),
)

catalog_artifacts = Table(
    "catalog_artifacts",
    metadata,
    Column("module", String(200), primary_key=True),
    Column("version", String(100), primary_key=True),
    Column("name", String(500), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(200)),
)

# one row per (module, facet, value) of a module's latest version: facet filters and counts
catalog_terms = Table(
    "catalog_terms",
    metadata,
    module_key(),
    Column("facet", String(32), primary_key=True),
    Column("value", String(200), primary_key=True),
    Index("ix_catalog_terms_facet_value", "facet", "value"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(500), nullable=False),  # identity: <issuer>|<subject>
    Column("owner_name", String(200)),
    Column("name", String(200), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("roles", JSON, nullable=False, server_default="[]"),
    Column("groups", JSON, nullable=False, server_default="[]"),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime()),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Column("parent_id", String(32)),  # the token this one was minted with
    Column("session", Boolean, nullable=False, server_default=false()),
    Index("ix_api_tokens_owner", "owner"),
    Index("ix_api_tokens_parent_id", "parent_id"),
)

pending_signins = Table(
    "pending_signins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("binding_hash", String(64), nullable=False),
    Column("client", String(100), nullable=False),
    Column("verifier", String(200), nullable=False),
    Column("nonce", String(100), nullable=False),
    Column("next_path", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_pending_signins_client", "client", "expires_at"),
)

# what the replicas sharing this database must agree on, one row per name (0013):
# 'catalog': ``counter`` is the catalog's generation, moved by every registry write
# (catalog.generation); 'catalog_store': ``value`` is the id of the catalog's artifact store
# (storage.identity)
platform_state = Table(
    "platform_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("counter", BigInteger, nullable=False, server_default="0"),
    Column("value", Text),
)

job_events = Table(
    "job_events",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_job_events_job_kind_id", "job_id", "kind", "id"),
    Index("ix_job_events_job_id", "job_id", "id"),
)

# a rollout on an alias of a module (0015, modelport.rollouts): a primary version, a canary
# taking ``canary_weight`` percent of the alias's predictions, an optional shadow copying them;
# ``revision`` counts its changes (a replica's window of answers starts again at each)
catalog_rollouts = Table(
    "catalog_rollouts",
    metadata,
    module_key(),
    Column("alias", String(100), primary_key=True),
    Column("primary_version", String(100), nullable=False),
    Column("canary_version", String(100)),
    Column("canary_weight", Float, nullable=False, default=0.0),
    Column("shadow_version", String(100)),
    Column("sticky_header", String(100)),
    Column("policy", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    Column("revision", Integer, nullable=False, default=1),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(500)),  # identity: <issuer>|<subject>, or modelport itself
)

# every change of a rollout (0015): who, when, what, from -> to (JSON snapshots of the rollout)
catalog_rollout_events = Table(
    "catalog_rollout_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("module", String(200), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(500)),
    Column("action", String(32), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("reason", Text),
    Index("ix_catalog_rollout_events_alias", "module", "alias", "id"),
)
