"""Process roles: ``run_worker`` runs every domain's background jobs with the database and start-up hooks until
told to stop; the web process runs none when CHORUS_RUN_WORKERS_IN_PROCESS=false; shutdown is bounded.

(The ``chorus worker`` process and its SIGTERM handling are tested in test_shutdown.py.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workspace import app as app_mod
from workspace import db as dbmod
from workspace.app import create_app, run_worker
from workspace.db import Database
from workspace.domain import DomainParts
from workspace.settings import Settings

HANG_GUARD_S = 60  # only so that a broken shutdown fails the test instead of hanging the suite


@pytest.fixture
def extra_parts(monkeypatch: pytest.MonkeyPatch) -> list[DomainParts]:
    """Parts appended to the real domains' (a probe domain with jobs and hooks that record what happened)."""
    extra: list[DomainParts] = []
    original: Callable[[Settings], list[DomainParts]] = app_mod.domain_parts
    monkeypatch.setattr(app_mod, "domain_parts", lambda s: [*original(s), *extra])
    return extra


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false", **env})


def _probe(events: list[Any], started: asyncio.Event, *, fail: bool = False) -> DomainParts:
    async def job() -> None:
        try:
            rows = await dbmod.current().fetch("SELECT 1 AS one")
            events.append(("db", rows[0]["one"]))
            started.set()
            if fail:
                raise RuntimeError("provider credentials rejected")
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    async def on_start() -> None:
        events.append("startup")

    async def on_stop() -> None:
        events.append("shutdown")

    return DomainParts(name="probe", background_jobs=[job], on_startup=[on_start], on_shutdown=[on_stop])


async def test_worker_runs_jobs_with_the_database_until_stopped(db: Database, tmp_path: Path,
                                                                extra_parts: list[DomainParts]) -> None:
    events: list[Any] = []
    started, stop = asyncio.Event(), asyncio.Event()
    extra_parts.append(_probe(events, started))
    worker = asyncio.create_task(run_worker(_settings(tmp_path), database=db, stop=stop))
    await asyncio.wait_for(started.wait(), HANG_GUARD_S)
    stop.set()
    assert await asyncio.wait_for(worker, HANG_GUARD_S) == 0
    assert events == ["startup", ("db", 1), "cancelled", "shutdown"]


async def test_worker_exits_1_when_a_job_fails(db: Database, tmp_path: Path,
                                               extra_parts: list[DomainParts]) -> None:
    events: list[Any] = []
    extra_parts.append(_probe(events, asyncio.Event(), fail=True))
    status = await asyncio.wait_for(run_worker(_settings(tmp_path), database=db), HANG_GUARD_S)
    assert status == 1
    assert events == ["startup", ("db", 1), "shutdown"]


@pytest.mark.parametrize(("in_process", "expected"), [
    ("false", ["startup", "shutdown"]),
    ("true", ["startup", ("db", 1), "cancelled", "shutdown"]),
])
async def test_web_process_runs_jobs_only_in_the_embedded_mode(sqlite_db: Database, tmp_path: Path,
                                                               extra_parts: list[DomainParts], in_process: str,
                                                               expected: list[Any]) -> None:
    events: list[Any] = []
    started = asyncio.Event()
    extra_parts.append(_probe(events, started))
    app = create_app(_settings(tmp_path, CHORUS_RUN_WORKERS_IN_PROCESS=in_process), database=sqlite_db)
    async with app.lifespan():
        if in_process == "true":
            await asyncio.wait_for(started.wait(), HANG_GUARD_S)
        else:
            for _ in range(20):  # give a wrongly started job the chance to show up
                await asyncio.sleep(0)
    assert events == expected


async def test_shutdown_is_bounded_when_a_hook_or_job_hangs(sqlite_db: Database, tmp_path: Path,
                                                            extra_parts: list[DomainParts]) -> None:
    events: list[str] = []
    started, really_stop = asyncio.Event(), asyncio.Event()

    async def stubborn_job() -> None:
        started.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if really_stop.is_set():
                    raise
                events.append("job ignored cancel")  # a buggy job that swallows cancellation

    async def hung_hook() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("hung hook cancelled")
            raise

    async def next_hook() -> None:
        events.append("next hook ran")

    extra_parts.append(DomainParts(name="stuck", background_jobs=[stubborn_job], on_shutdown=[hung_hook, next_hook]))
    app = create_app(_settings(tmp_path, CHORUS_RUN_WORKERS_IN_PROCESS="true", CHORUS_SHUTDOWN_GRACE_S="0.2"),
                     database=sqlite_db)

    async def run() -> None:
        async with app.lifespan():
            await started.wait()

    await asyncio.wait_for(run(), HANG_GUARD_S)
    assert events == ["job ignored cancel", "hung hook cancelled", "next hook ran"]
    really_stop.set()  # the abandoned job: stop it for real so that the test's loop closes cleanly
    for task in [t for t in asyncio.all_tasks() if t.get_name() == "stubborn_job"]:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_web_process_restarts_a_failed_job_after_logging_it(sqlite_db: Database, tmp_path: Path,
                                                                       extra_parts: list[DomainParts],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the failure was logged and the job stayed dead for the life of the process."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    chorus_log = logging.getLogger("chorus")
    monkeypatch.setattr(chorus_log, "handlers", [*chorus_log.handlers])  # restored after the test
    chorus_log.addHandler(handler)  # not caplog: Litestar's logging set-up replaces the root logger's handlers
    runs: list[int] = []
    second = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            raise RuntimeError("lost the broker")
        second.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(app_mod, "RESTART_FIRST_S", 0.01)
    extra_parts.append(DomainParts(name="flaky", background_jobs=[flaky]))
    app = create_app(_settings(tmp_path, CHORUS_RUN_WORKERS_IN_PROCESS="true"), database=sqlite_db)
    async with app.lifespan():
        await asyncio.wait_for(second.wait(), HANG_GUARD_S)
    assert runs == [1, 2]
    failed = [r for r in records if r.getMessage() == "background job flaky failed"]
    assert len(failed) == 1 and failed[0].exc_info is not None and "lost the broker" in str(failed[0].exc_info[1])
