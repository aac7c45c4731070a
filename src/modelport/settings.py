"""One typed configuration object, read from ``MODELPORT_*`` environment variables and flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelport.auth.config import OidcConfig
from modelport.auth.quotas import QuotaConfig

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
    upload_memory_limit: int = Field(
        1 * MiB,
        ge=0,
        description="multipart bodies up to this size are kept on a RAM-backed tmpfs "
        "(/dev/shm) when there is one; 0 = always $TMPDIR",
    )
    upload_memory_dir: Path | None = Field(
        None, description="the RAM-backed tmpfs for small uploads; default /dev/shm if writable"
    )
    predict_concurrency: int = Field(4, ge=1, description="predictions running at once, per model")
    predict_queue: int = Field(64, ge=0, description="predictions waiting for a slot, per model")
    predict_timeout: float | None = Field(
        60.0, gt=0, description="seconds before a prediction answers 504; None = no limit"
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the job store; default: SQLite in data_dir"
    )
    migrate: Literal["auto", "wait"] = Field(
        "auto",
        description="auto: migrate the database schema at start (under a lock); wait: never "
        "migrate, wait for `modelport db upgrade` (replicas behind a load balancer)",
    )
    migrate_timeout: float = Field(
        300.0, gt=0, description="seconds migrate=wait waits for the schema before giving up"
    )
    replica_name: str | None = Field(
        None,
        max_length=200,
        description="this server's name among the replicas sharing the database (its jobs' "
        "leases); unique per replica and stable across its restarts; default <hostname>:<port>",
    )
    job_lease_seconds: float = Field(
        30.0,
        ge=3,
        description="a running job's lease: renewed every third of it; a replica silent for "
        "longer loses its jobs to the others (re-queued or failed)",
    )
    artifacts_url: str | None = Field(
        None, description="fsspec URL under which jobs write artifacts; default: data_dir/artifacts"
    )
    catalog_artifacts_url: str | None = Field(
        None, description="fsspec URL of the catalog's artifact store; default: data_dir/catalog"
    )
    storage_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        repr=False,  # credentials
        description="options of the storage backends (credentials, endpoint_url...), keyed by "
        "URL scheme ('s3', 'webdav+https') or URL prefix ('s3://bucket/jobs', merged over its "
        "scheme's); never credentials in a URL (docs/storage.md)",
    )
    serving_gpus: int = Field(
        0,
        ge=0,
        description="GPUs (indices 0..N-1) the gateway hands to model workers of versions whose "
        "metadata asks for them (resources.inference.gpu); a worker sees only its own. 0: none "
        "handed out, workers see what the machine has",
    )
    serving_gpu_share: int = Field(
        1, ge=1, description="model workers that may share one GPU (1: never two on one GPU)"
    )
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(None, description="Ray cluster address; none starts one")
    ray_job_runtime_env: bool = Field(
        True,
        description="on a cluster at ray_address: give the training tasks the server's import "
        "path as Ray's runtime_env (for nodes not started from the platform's image; one set of "
        "workers per replica); false: tasks take the workers the cluster's nodes already run "
        "(the nodes must have modelport and the modules installed, as the platform's image does)",
    )
    job_channel_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="TCP port Ray trainings report back to the server on (0: any free one; "
        "fix it when a firewall or a container's port mapping must let Ray's nodes in)",
    )
    executor_cpus: float = Field(
        default_factory=lambda: float(os.cpu_count() or 1),
        gt=0,
        description="CPU slots the local executor hands out",
    )
    executor_gpus: int = Field(0, ge=0, description="GPU slots the local executor hands out")
    training_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="niceness of local training processes: predictions keep the CPU first",
    )
    training_idle_priority: bool = Field(
        True,
        description="run local trainings under SCHED_IDLE (Linux): they only get CPU time that "
        "serving does not want, so predictions never wait for them",
    )
    cancel_grace: float = Field(
        1.5, ge=0, description="seconds between SIGTERM and SIGKILL when cancelling a job"
    )
    catalog: bool = Field(False, description="serve the Open Catalog routes too")
    # -- server limits: what one request or connection may take (serve and up) ----------------
    max_fields: int = Field(
        1000,
        ge=1,
        description="query parameters, form fields or multipart parts one request may carry "
        "(each counted apart); more answer 400",
    )
    max_field_size: int = Field(
        1 * MiB,
        ge=1,
        description="largest form field or non-file multipart part, in bytes (files may reach "
        "max_upload_size); larger answer 400 naming the field",
    )
    max_json_depth: int = Field(
        64, ge=1, description="deepest nesting of arrays and objects in a JSON body; deeper: 400"
    )
    max_header_size: int = Field(
        64 * 1024,
        ge=1024,
        description="about the most bytes of request line and headers a request may send; "
        "more answer 431 and the connection closes",
    )
    header_timeout: float = Field(
        15.0,
        gt=0,
        description="seconds a client has to send a request's line and headers (from its "
        "connection or its first byte); then 408 and the connection closes (slow clients)",
    )
    body_timeout: float = Field(
        30.0,
        gt=0,
        description="seconds a request body may stall (no byte arriving while the server "
        "waits for it) before the connection is dropped",
    )
    keep_alive_timeout: int = Field(
        5, ge=1, description="seconds an idle keep-alive connection stays open"
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="open HTTP connections at once; requests on more answer 503 (Retry-After) "
        "and their connections close",
    )
    # -- the platform (`modelport up`): on-demand serving of catalog modules -------------------
    max_loaded_models: int = Field(
        8, ge=1, description="catalog models loaded at once; the least recently used goes first"
    )
    model_idle_timeout: float = Field(
        300.0, ge=0, description="seconds a loaded catalog model may stay unused; 0 = never unload"
    )
    model_start_timeout: float = Field(
        120.0, gt=0, description="seconds a model worker may take to import and warm its model"
    )
    catalog_cache_seconds: float = Field(
        2.0,
        ge=0,
        description="longest the gateway reuses a module's catalog records (versions, aliases, "
        "visibility); a catalog write on any replica drops them at once (the catalog's "
        "generation); 0 = read on every request",
    )
    serving_backend: Literal["process", "ray"] = Field(
        "process",
        description="how catalog models run: one worker process each, or Ray Serve deployments",
    )
    ray_serve_max_replicas: int = Field(2, ge=1, description="Ray Serve: replicas per model")
    model_room_wait: float = Field(
        30.0,
        ge=0,
        description="seconds a cold start waits for room when all max_loaded_models loaded "
        "models are busy, before answering 503 (Retry-After)",
    )
    model_room_queue: int = Field(
        32,
        ge=0,
        description="cold starts that may wait for room at once; more answer 503 at once",
    )
    # -- the platform: module isolation (catalog modules' workers and training jobs) -----------
    sandbox: Literal["auto", "none", "bwrap"] = Field(
        "auto",
        description="how `up` confines module code: bwrap (Linux namespaces; `auto` picks it "
        "when bubblewrap is installed) or none (module code runs with the server's privileges)",
    )
    module_memory_mb: int | None = Field(
        4096,
        ge=64,
        description="address space (MB) a module's worker or training job may use; None = no cap",
    )
    training_cpu_hours: float | None = Field(
        None,
        gt=0,
        description="CPU time a platform training may use, in hours per CPU it asked for "
        "(RLIMIT_CPU: past it the training fails, 30 s later it is killed); None = no cap",
    )
    notebook_idle_minutes: float = Field(
        60.0,
        gt=0,
        description="a notebook nobody used (no request, no busy kernel) for this long stops; "
        "also the most a user may ask for",
    )
    notebook_max_hours: float = Field(
        12.0, gt=0, description="a notebook stops this long after it started, in use or not"
    )
    notebook_network: bool = Field(
        True,
        description="notebooks may open network connections (pip install, the platform's API "
        "with the owner's notebook token); off: only their own loopback",
    )
    network_modules: list[str] = Field(
        default_factory=list,
        description="catalog modules whose code may open network connections (others cannot)",
    )
    data_roots: list[Path] = Field(
        default_factory=list,
        description="server directories training jobs may read data from (read-only, sandbox)",
    )
    user_data_quota_mb: int | None = Field(
        10 * 1024,
        ge=0,
        description="MB each user's data area (files uploaded to train on) may hold; None = no cap",
    )
    max_worker_frame: int = Field(
        256 * MiB,
        ge=64 * 1024,
        description="largest frame (an answer) a module's worker may send the gateway, in "
        "bytes; a larger one fails that worker and its request (500 naming the module)",
    )
    # -- the platform: what publishers and trainers may point the server at --------------------
    git_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="hosts (names, addresses or networks such as 10.0.0.0/8) that publishing "
        "from git and training data URLs may reach although they are loopback, link-local or "
        "private; others must resolve to public addresses",
    )
    git_allow_ssh: bool = Field(
        False,
        description="publishers may publish from ssh:// and user@host:path URLs (cloned with "
        "this server's ssh identity); otherwise https:// only",
    )
    git_max_size_mb: int = Field(
        500, ge=1, description="the largest clone (download, then checkout) a publish may make"
    )
    # -- authentication and authorization ------------------------------------------------------
    auth: Literal["off", "oidc"] = Field(
        "off",
        description="off: single-user local mode, every caller is the local admin; oidc: bearer "
        "tokens (OIDC access tokens or modelport API tokens) required",
    )
    oidc: OidcConfig | None = Field(
        None, description="trusted issuers, audience, leeway and role rules (auth = oidc)"
    )
    oidc_client_id: str | None = Field(
        None, description="OIDC client for the dashboard's browser sign-in (code flow + PKCE)"
    )
    oidc_client_secret: str | None = Field(
        None, description="its secret, for confidential clients; public clients use PKCE only"
    )
    oidc_scopes: str = "openid profile email"
    public_url: str | None = Field(
        None, description="the URL users reach this server at (sign-in redirects); default: bind"
    )
    session_hours: float = Field(12.0, gt=0, description="browser sessions last this long")
    api_token_days: int = Field(90, ge=1, description="default lifetime of new API tokens")
    quotas: QuotaConfig = Field(default_factory=QuotaConfig)
    allow_insecure_bind: bool = Field(
        False,
        description="serve on a non-loopback address without authentication (e.g. behind an "
        "authenticating proxy, or in a container whose port is not published)",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="auth = off: Host names the server answers to besides localhost, "
        "127.0.0.1, [::1], --host, public_url's and the address a request arrived at "
        "(others get 400: DNS rebinding); '*' = any",
    )
    warm: bool = True
    docs: bool = True
    debug: bool = False

    def replica(self) -> str:
        """This server's name among the replicas sharing its database."""
        import socket

        return self.replica_name or f"{socket.gethostname()}:{self.port}"

    def store_url(self) -> str:
        """The job store's URL."""
        return self.database_url or f"sqlite:///{self.data_dir / 'modelport.db'}"

    def artifacts_root(self) -> str:
        """The URL under which each job gets its artifact directory."""
        return (self.artifacts_url or str(self.data_dir / "artifacts")).rstrip("/")

    def module_state_dir(self, module: str) -> Path:
        """Where a module's code keeps caches and state (its ``$MODELPORT_DATA_DIR``, created):
        its own directory, shared by its workers and training jobs, apart from the platform's."""
        from modelport.storage.paths import safe_child

        path = safe_child(self.data_dir / "state", module, "module")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def user_data_dir(self) -> Path:
        """The root of every user's data area (``storage.userdata``)."""
        return self.data_dir / "userdata"

    def model_version_dir(self, module: str, version: str) -> Path:
        """Where a module version's artifacts are fetched to (its ``$MODELPORT_MODEL_DIR``)."""
        from modelport.storage.paths import model_version_dir

        return model_version_dir(self.data_dir, module, version)

    def catalog_artifacts_root(self) -> str:
        """The URL of the catalog's content-addressed artifact store."""
        return (self.catalog_artifacts_url or str(self.data_dir / "catalog")).rstrip("/")

    def storage_options_for(self, url: str) -> dict[str, Any]:
        """The storage backend options for ``url`` (``storage_options``: its scheme's, then its
        prefixes')."""
        from modelport.storage.backends import options_for

        return options_for(url, self.storage_options)

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        value = value.strip()
        if not value or value == "/":
            return ""
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value.rstrip("/")


CONFIG_ENV = "MODELPORT_CONFIG"


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a YAML (or JSON) config file; unknown keys are an error, naming them."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"the config file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"the config file {path} must hold a mapping of setting names to values")
    values = {str(k).replace("-", "_"): v for k, v in loaded.items()}
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise ValueError(
            f"unknown setting(s) in {path}: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(Settings.model_fields))})"
        )
    return values


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from, highest first: ``overrides`` (flags), ``MODELPORT_*`` env, the config file.

    The config file is ``config_file``, else ``$MODELPORT_CONFIG``, else none.
    """
    path = config_file or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is None:
        return Settings(**overrides)
    from_env = Settings().model_fields_set
    file_values = {k: v for k, v in read_config_file(path).items() if k not in from_env}
    return Settings(**{**file_values, **overrides})
