"""Settings: read from CHORUS_* variables, validated, and secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from workspace.errors import ConfigError
from workspace.settings import Secret, Settings


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    s = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path)})
    assert s.database.is_sqlite
    assert s.database.url.reveal() == f"sqlite:///{(tmp_path / 'chorus.db').resolve()}"
    assert s.broker.url.reveal() == "memory://"
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8000)
    assert s.llm.provider == "offline"
    assert not s.oidc.enabled
    limits = s.limits
    assert (limits.write_rate_per_s, limits.write_burst, limits.max_sockets_per_token) == (2.0, 20, 20)


def test_postgres_and_redis_urls_are_recognised() -> None:
    s = Settings.from_env({"CHORUS_DATABASE_URL": "postgresql://u:pw@db:5432/chorus",
                           "CHORUS_BROKER_URL": "redis://cache:6379/0"})
    assert s.database.is_postgres and s.broker.is_redis


def test_secrets_never_appear_in_repr_or_describe() -> None:
    s = Settings.from_env({"CHORUS_DATABASE_URL": "postgresql://u:hunter2@db/x", "CHORUS_SECRET_KEY": "sk-topsecret",
                           "CHORUS_OIDC_CLIENT_SECRET": "oidc-pass", "CHORUS_LLM_API_KEY": "sk-llm"})
    text = repr(s) + str(s.describe())
    for secret in ("hunter2", "sk-topsecret", "oidc-pass", "sk-llm"):
        assert secret not in text
    assert s.secret_key.reveal() == "sk-topsecret"
    assert repr(Secret("x")) == "Secret('**********')"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHORUS_PORT": "eighty"}, "CHORUS_PORT must be an integer; got 'eighty'"),
        ({"CHORUS_DATABASE_URL": "mysql://x"}, "CHORUS_DATABASE_URL must start with sqlite:/// or postgresql://"),
        ({"CHORUS_BROKER_URL": "amqp://x"}, "CHORUS_BROKER_URL must be memory:// or redis://"),
        ({"CHORUS_DEV_LOGIN": "maybe"}, "CHORUS_DEV_LOGIN must be true or false"),
        ({"CHORUS_LLM_PROVIDER": "magic"}, "CHORUS_LLM_PROVIDER must be offline, openai or local"),
        ({"CHORUS_MAX_SOCKETS_PER_TOKEN": "-1"}, "CHORUS_MAX_SOCKETS_PER_TOKEN must be 0 (off) or more"),
        ({"CHORUS_WRITE_BURST": "0"}, "CHORUS_POST_BURST and CHORUS_WRITE_BURST must be at least 1"),
    ],
)
def test_bad_values_get_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert message in err.value.message


def test_an_embedded_secret_key_is_generated_once(tmp_path: Path) -> None:
    s = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path)})
    first = s.ensure_secret_key().secret_key.reveal()
    second = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path)}).ensure_secret_key().secret_key.reveal()
    assert first == second and len(first) > 40
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
