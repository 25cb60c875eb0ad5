"""Settings: small frozen sections read from ``CHORUS_*`` environment variables.

Nothing here is read at import time; call :func:`Settings.from_env` (the CLI does) and pass the result in.
Secrets are wrapped in :class:`Secret` so that they never appear in a repr, a log line or a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import secrets as _secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from workspace.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that prints as ``'**********'``; call :meth:`reveal` where the value is really needed."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: Secret
    """``sqlite:///path/to/file.db`` or ``postgresql://user:pass@host:port/db``."""
    busy_timeout_s: float = 30.0
    pool_max: int = 20

    @property
    def is_sqlite(self) -> bool:
        return self.url.reveal().startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.url.reveal().startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    url: Secret
    """``memory://`` (one process) or ``redis://host:port/db`` (many replicas)."""

    @property
    def is_redis(self) -> bool:
        return self.url.reveal().startswith(("redis://", "rediss://"))


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    """The URL users reach Chorus at (for OIDC redirects); default ``http://{host}:{port}``."""
    shutdown_grace_s: float = 10.0
    dev_login: bool = False
    run_workers_in_process: bool = True
    """Embedded default: the agent runtime and mining run inside the web process."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (CIDR) of the reverse proxies whose ``X-Forwarded-For``/``-Proto`` are believed;
    empty: those headers are ignored and the peer's address is the client's."""

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True, slots=True)
class OIDCSettings:
    issuer: str = ""
    client_id: str = ""
    client_secret: Secret = Secret("")
    scopes: str = "openid profile email"
    groups_claim: str = "groups"
    role_map: str = ""
    """``group=role`` pairs, comma separated: ``chorus-admins=admin,chorus-security=security,staff=employee``."""
    clearance_map: str = ""
    """``group=label`` pairs, comma separated: ``finance=confidential/finance,staff=internal``."""
    session_idle_s: int = 8 * 3600
    session_absolute_s: int = 7 * 24 * 3600

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)


@dataclass(frozen=True, slots=True)
class LLMSettings:
    provider: str = "offline"
    """``offline`` | ``openai`` | ``local``."""
    base_url: str = ""
    model: str = ""
    api_key: Secret = Secret("")
    timeout_s: float = 60.0
    max_retries: int = 2
    concurrency: int = 8
    prices: str = ""
    """``model=in_per_1k:out_per_1k`` pairs, comma separated, in US dollars."""


@dataclass(frozen=True, slots=True)
class LimitSettings:
    post_rate_per_s: float = 1.0
    post_burst: int = 10
    write_rate_per_s: float = 2.0
    """Edits, deletes and reactions per member and second (one budget for the three; posts have their own)."""
    write_burst: int = 20
    max_sockets_per_token: int = 20
    """Open WebSockets per agent token (or person's session); the next one closes with 4008."""
    max_message_bytes: int = 8192
    ws_backlog: int = 1000
    humans_may_post: bool = False


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    shards: str = "auto"
    """How a round's shards are carried out: ``inline`` (by the process holding the run), ``queue`` (by every
    worker, through the task queue on PostgreSQL), ``auto`` (queue on PostgreSQL, inline on SQLite)."""
    shard_concurrency: int = 2
    """Shards one process carries out at once."""
    stall_s: float = 30.0
    """A worker silent this long has its shards handed to another."""


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    enabled: bool = False
    """Traces and metrics are produced when on; export is configured by the standard ``OTEL_*`` variables."""
    service_name: str = "chorus"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    secret_key: Secret
    database: DatabaseSettings
    broker: BrokerSettings
    server: ServerSettings = ServerSettings()
    oidc: OIDCSettings = OIDCSettings()
    llm: LLMSettings = LLMSettings()
    limits: LimitSettings = LimitSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    runtime: RuntimeSettings = RuntimeSettings()
    audit_key: Secret = Secret("")
    """Key for signing audit checkpoints (HMAC-SHA256); defaults to one derived from the secret key."""
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CHORUS_*`` variables; ``overrides`` replace top-level fields afterwards."""
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(env.get("CHORUS_DATA_DIR", ".chorus")).expanduser()
        secret = env.get("CHORUS_SECRET_KEY", "")
        settings = cls(
            data_dir=data_dir,
            secret_key=Secret(secret),
            database=DatabaseSettings(
                url=Secret(env.get("CHORUS_DATABASE_URL", "")),
                busy_timeout_s=_float(env, "CHORUS_DATABASE_BUSY_TIMEOUT_S", 30.0),
                pool_max=_int(env, "CHORUS_DATABASE_POOL_MAX", 20),
            ),
            broker=BrokerSettings(url=Secret(env.get("CHORUS_BROKER_URL", "memory://"))),
            server=ServerSettings(
                host=env.get("CHORUS_HOST", "127.0.0.1"),
                port=_int(env, "CHORUS_PORT", 8000),
                public_url=env.get("CHORUS_PUBLIC_URL", ""),
                shutdown_grace_s=_float(env, "CHORUS_SHUTDOWN_GRACE_S", 10.0),
                dev_login=_bool(env, "CHORUS_DEV_LOGIN", False),
                run_workers_in_process=_bool(env, "CHORUS_RUN_WORKERS_IN_PROCESS", True),
                trusted_proxies=_networks(env, "CHORUS_TRUSTED_PROXIES"),
            ),
            oidc=OIDCSettings(
                issuer=env.get("CHORUS_OIDC_ISSUER", ""),
                client_id=env.get("CHORUS_OIDC_CLIENT_ID", ""),
                client_secret=Secret(env.get("CHORUS_OIDC_CLIENT_SECRET", "")),
                scopes=env.get("CHORUS_OIDC_SCOPES", "openid profile email"),
                groups_claim=env.get("CHORUS_OIDC_GROUPS_CLAIM", "groups"),
                role_map=env.get("CHORUS_OIDC_ROLE_MAP", ""),
                clearance_map=env.get("CHORUS_OIDC_CLEARANCE_MAP", ""),
                session_idle_s=_int(env, "CHORUS_SESSION_IDLE_S", 8 * 3600),
                session_absolute_s=_int(env, "CHORUS_SESSION_ABSOLUTE_S", 7 * 24 * 3600),
            ),
            llm=LLMSettings(
                provider=env.get("CHORUS_LLM_PROVIDER", "offline"),
                base_url=env.get("CHORUS_LLM_BASE_URL", ""),
                model=env.get("CHORUS_LLM_MODEL", ""),
                api_key=Secret(env.get("CHORUS_LLM_API_KEY", "")),
                timeout_s=_float(env, "CHORUS_LLM_TIMEOUT_S", 60.0),
                max_retries=_int(env, "CHORUS_LLM_MAX_RETRIES", 2),
                concurrency=_int(env, "CHORUS_LLM_CONCURRENCY", 8),
                prices=env.get("CHORUS_LLM_PRICES", ""),
            ),
            limits=LimitSettings(
                post_rate_per_s=_float(env, "CHORUS_POST_RATE_PER_S", 1.0),
                post_burst=_int(env, "CHORUS_POST_BURST", 10),
                write_rate_per_s=_float(env, "CHORUS_WRITE_RATE_PER_S", 2.0),
                write_burst=_int(env, "CHORUS_WRITE_BURST", 20),
                max_sockets_per_token=_int(env, "CHORUS_MAX_SOCKETS_PER_TOKEN", 20),
                max_message_bytes=_int(env, "CHORUS_MAX_MESSAGE_BYTES", 8192),
                ws_backlog=_int(env, "CHORUS_WS_BACKLOG", 1000),
                humans_may_post=_bool(env, "CHORUS_HUMANS_MAY_POST", False),
            ),
            telemetry=TelemetrySettings(
                enabled=_bool(env, "CHORUS_TELEMETRY", False) or bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
                or "prometheus" in env.get("OTEL_METRICS_EXPORTER", "").lower(),
                service_name=env.get("OTEL_SERVICE_NAME", "chorus"),
            ),
            audit_key=Secret(env.get("CHORUS_AUDIT_KEY", "")),
            log_level=env.get("CHORUS_LOG_LEVEL", "INFO").upper(),
            runtime=RuntimeSettings(
                shards=env.get("CHORUS_RUNTIME_SHARDS", "auto").lower(),
                shard_concurrency=_int(env, "CHORUS_RUNTIME_SHARD_CONCURRENCY", 2),
                stall_s=_float(env, "CHORUS_RUNTIME_STALL_S", 30.0),
            ),
        )
        if overrides:
            settings = replace(settings, **overrides)
        return settings.resolved()

    def resolved(self) -> Settings:
        """Fill in defaults that depend on other values (database path, a generated embedded secret)."""
        out = self
        if not out.database.url.reveal():
            out = replace(
                out,
                database=replace(out.database, url=Secret(f"sqlite:///{(out.data_dir / 'chorus.db').resolve()}")),
            )
        url = out.database.url.reveal()
        if not (out.database.is_sqlite or out.database.is_postgres):
            raise ConfigError(
                f"CHORUS_DATABASE_URL must start with sqlite:/// or postgresql://; got scheme {url.split(':', 1)[0]!r}"
            )
        broker = out.broker.url.reveal()
        if not (broker.startswith("memory://") or out.broker.is_redis):
            raise ConfigError(
                f"CHORUS_BROKER_URL must be memory:// or redis://host:port/db; got scheme {broker.split(':', 1)[0]!r}"
            )
        if out.runtime.shards not in {"auto", "inline", "queue"}:
            raise ConfigError(f"CHORUS_RUNTIME_SHARDS must be auto, inline or queue; got {out.runtime.shards!r}")
        if out.runtime.shards == "queue" and not out.database.is_postgres:
            raise ConfigError("CHORUS_RUNTIME_SHARDS=queue needs PostgreSQL (the task queue lives there); "
                              "SQLite carries shards out inline")
        limits = out.limits
        if min(limits.post_rate_per_s, limits.write_rate_per_s, limits.max_sockets_per_token) < 0:
            raise ConfigError("CHORUS_POST_RATE_PER_S, CHORUS_WRITE_RATE_PER_S and CHORUS_MAX_SOCKETS_PER_TOKEN must "
                              "be 0 (off) or more")
        if (limits.post_rate_per_s and limits.post_burst < 1) or (limits.write_rate_per_s and limits.write_burst < 1):
            raise ConfigError("CHORUS_POST_BURST and CHORUS_WRITE_BURST must be at least 1 (a bucket of 0 refuses "
                              "every write; set the rate to 0 to turn a limit off)")
        if out.llm.provider not in {"offline", "openai", "local"}:
            raise ConfigError(f"CHORUS_LLM_PROVIDER must be offline, openai or local; got {out.llm.provider!r}")
        return out

    def ensure_secret_key(self) -> Settings:
        """Embedded mode: keep a generated secret key in the data dir so sessions survive restarts."""
        if self.secret_key:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.write_text(_secrets.token_urlsafe(48))
            path.chmod(0o600)
        return replace(self, secret_key=Secret(path.read_text().strip()))

    def describe(self) -> dict[str, Any]:
        """A printable view, with every secret masked."""
        view: dict[str, Any] = _describe(self)
        return view


def _describe(obj: Any) -> Any:
    if isinstance(obj, Secret):
        return repr(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _describe(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer; got {raw!r}") from None


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number; got {raw!r}") from None


def _networks(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDR networks (``10.0.0.0/8, 127.0.0.1``)."""
    out = []
    for item in (x.strip() for x in env.get(key, "").split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{key} lists IP addresses or networks such as 10.0.0.0/8, comma separated; {item!r} "
                              "is neither (host names are not resolved)") from None
        out.append(item)
    return tuple(out)


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    low = raw.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{key} must be true or false; got {raw!r}")
