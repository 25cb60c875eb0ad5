"""``chorus demo`` is paced: it starts one run of a bounded number of rounds with a pause between rounds (none after
the last) and then the agents wait; a second start adds no run while one is still going; the sign-in hint it
prints is the dev login form's. The server itself is not started here (``serve_app`` is replaced)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from channels import config
from personas.llm.offline import OfflineProvider
from personas.runtime import cli as runtime_cli
from personas.runtime.runs import execute_run, start_run
from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from sso.pages import DEMO_HINT
from tests.channels.helpers import generous_limits
from workspace import cli as core_cli
from workspace import services
from workspace.app import build_cli, create_app
from workspace.db import Database
from workspace.hooks import hooks
from workspace.services import ensure_workspace, system_actor
from workspace.settings import Settings


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[Any]]]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path)})
    core_cli.configure(settings, create_app)
    services.forget_schemes()
    hooks.clear()
    config.set_publisher(None)
    served: list[Any] = []
    monkeypatch.setattr(runtime_cli, "serve_app", served.append)
    yield tmp_path, served
    services.forget_schemes()


def test_the_demo_starts_one_bounded_paced_run_and_says_how_to_sign_in(demo: tuple[Path, list[Any]]) -> None:
    tmp, served = demo
    group = build_cli(Settings.from_env({"CHORUS_DATA_DIR": str(tmp)}))
    result = CliRunner().invoke(group, ["demo", "--agents", "60", "--rounds", "12", "--interval", "10",
                                        "--port", "8123"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Sign in with the dev login. {DEMO_HINT}" in result.output
    assert "the agents talk for 12 rounds, 10 s apart (about 2 min), then wait" in result.output
    assert len(served) == 1 and served[0].server.dev_login and served[0].server.host == "127.0.0.1"
    again = CliRunner().invoke(group, ["demo", "--agents", "60", "--port", "8123"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    with sqlite3.connect(tmp / "chorus.db") as conn:
        runs = conn.execute("SELECT mode, rounds, interval_s, status FROM personas_run").fetchall()
    assert runs == [("rounds", 12, 10.0, "pending")], "one bounded run; a second start adds none while it waits"


async def test_a_paced_run_pauses_between_rounds_and_not_after_the_last(sqlite_db: Database,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    generous_limits()
    actor = await system_actor(await ensure_workspace())
    await load_scenario_into(actor, load_scenario(builtin_scenario("meridian")), 60)
    run = await start_run(actor, rounds=3, seed=3, interval_s=7.0, status="running")
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: Any) -> Any:
        if delay == 7.0:
            pauses.append(delay)
            delay = 0
        return await real_sleep(delay, *args)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    final = await execute_run(run["id"], OfflineProvider())
    assert final["status"] == "completed" and final["rounds_done"] == 3
    assert pauses == [7.0, 7.0], "two pauses between three rounds, none after the last"
